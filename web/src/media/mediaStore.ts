// A meeting's media: which transport the room uses (P2P mesh or LiveKit), this browser's tracks
// published on it, and what the others send back.
import { api, ApiError } from '../api';
import type { Notices } from '../notices';
import { Observable } from '../store';
import type { IceServer, MediaAccess, Participant, RoomEvent } from '../types';
import type { LocalMedia, LocalState } from './localMedia';
import { MeshSession } from './mesh';
import type { LocalTracks, MediaCallbacks, MediaSession, RemoteMedia } from './session';

/** The frames of the room socket that concern media. */
export type MediaEvent = Extract<
  RoomEvent,
  { type: 'signal.offer' | 'signal.answer' | 'signal.ice' | 'media.mute_requested' }
>;

export interface MediaState {
  remotes: Map<string, RemoteMedia>;
  mode: 'mesh' | 'livekit' | null; // null until the session starts
  error: string | null;
}

const localTracks = ({ audio, video, screen, mic, cam }: LocalState): LocalTracks => ({
  audio,
  video,
  screen,
  mic,
  cam,
});

// The API omits what a server does not need; RTCIceServer wants absent, not null.
const iceServer = ({ urls, username, credential }: IceServer): RTCIceServer => ({
  urls,
  ...(username ? { username } : {}),
  ...(credential ? { credential } : {}),
});

export class MediaStore extends Observable<MediaState> {
  private session: MediaSession | null = null;
  /** Counts the starts, so a start that a close overtook does not go on. */
  private run = 0;
  private started = false;
  private participants: Participant[] = [];
  private unsubscribeLocal = () => {};
  private iceRefresh: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly roomId: string,
    private readonly self: string,
    private readonly local: LocalMedia,
    /** Signalling for mesh mode: a frame on the room socket, false when it is not connected. */
    private readonly send: (frame: Record<string, unknown>) => boolean,
    private readonly notices: Notices,
    /** Media access that came with the join: used for the first start, saving a request. */
    private joined: MediaAccess | null,
  ) {
    super({ remotes: new Map(), mode: null, error: null });
  }

  /** The peer connections of mesh mode, by participant id (tests read their stats). */
  get peerConnections(): Map<string, RTCPeerConnection> {
    const peers = new Map<string, RTCPeerConnection>();
    if (this.session instanceof MeshSession) for (const [id, peer] of this.session.peers) peers.set(id, peer.pc);
    return peers;
  }

  private get mesh(): MeshSession | null {
    return this.session instanceof MeshSession ? this.session : null;
  }

  handle(event: MediaEvent) {
    if (event.type === 'media.mute_requested') {
      if (event.to !== this.self) return;
      if (event.kind !== 'video') this.mutedByHost('audio');
      if (event.kind !== 'audio') this.mutedByHost('video');
      this.notices.notify('room.muteRequested');
    } else {
      this.mesh?.handleSignal(event);
    }
  }

  /** The room socket is (re)connected: start the media once, and re-offer to whoever has no
   * working connection. */
  socketReady() {
    if (!this.started) {
      this.started = true;
      this.unsubscribeLocal = this.local.subscribe(() => this.session?.updateLocal(localTracks(this.local.snapshot)));
      void this.start(++this.run);
    }
    this.mesh?.sync();
  }

  /** Who is in the room (mesh mode connects to each of them). */
  setParticipants(participants: Participant[]) {
    this.participants = participants;
    this.mesh?.setParticipants(participants);
  }

  /** Someone left the room. */
  remove(participantId: string) {
    this.mesh?.remove(participantId);
  }

  close() {
    this.started = false;
    clearTimeout(this.iceRefresh);
    this.session?.close();
    this.session = null;
    this.unsubscribeLocal();
  }

  private mutedByHost(kind: 'audio' | 'video') {
    if (kind === 'audio') this.local.setMic(false);
    else void this.local.setCam(false);
  }

  /** TURN credentials expire with the room or after a few hours: fetch fresh ones before
   * they do (at four fifths of their life), for as long as this session runs. */
  private refreshIceServers(mesh: MeshSession, ttlSeconds: number, stale: () => boolean) {
    clearTimeout(this.iceRefresh);
    this.iceRefresh = setTimeout(
      () => {
        api.webrtcConfig(this.roomId).then(
          (config) => {
            if (stale()) return;
            mesh.setIceServers(config.iceServers.map(iceServer));
            this.refreshIceServers(mesh, config.ttl_seconds, stale);
          },
          () => undefined, // the room ended or we left: the session is closing anyway
        );
      },
      Math.max(30, ttlSeconds * 0.8) * 1000,
    );
  }

  private async start(run: number) {
    const stale = () => !this.started || run !== this.run;
    try {
      const access = this.joined ?? (await api.mediaToken(this.roomId));
      this.joined = null;
      if (stale()) return;
      const callbacks: MediaCallbacks = {
        onRemotes: (remotes) => this.set({ remotes }),
        onForcedMute: (kind) => {
          this.mutedByHost(kind);
          this.notices.notify('room.muteRequested');
        },
        onError: (message) => this.set({ error: message }),
      };
      if (access.mode === 'livekit' && access.url && access.token) {
        // livekit-client is only downloaded by rooms that use it.
        const { LiveKitSession } = await import('./livekit');
        if (stale()) return;
        const session = new LiveKitSession(callbacks);
        this.session = session;
        this.set({ mode: 'livekit' });
        session.updateLocal(localTracks(this.local.snapshot));
        await session.connect(access.url, access.token);
      } else {
        const config = await api.webrtcConfig(this.roomId);
        if (stale()) return;
        const mesh = new MeshSession(this.self, this.send, { iceServers: config.iceServers.map(iceServer) }, callbacks);
        this.session = mesh;
        this.refreshIceServers(mesh, config.ttl_seconds, stale);
        this.set({ mode: 'mesh' });
        mesh.setParticipants(this.participants);
        mesh.updateLocal(localTracks(this.local.snapshot));
        mesh.sync();
      }
    } catch (error) {
      this.set({ error: error instanceof ApiError ? error.code : String(error) });
    }
  }
}
