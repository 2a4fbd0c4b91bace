// A meeting's media: which transport the room uses (P2P mesh or LiveKit), this browser's tracks
// published on it, and what the others send back.
import { api, ApiError } from '../api';
import type { Notices } from '../notices';
import { Observable } from '../store';
import type { IceServer, MediaAccess, Participant, RoomEvent, WebRTCConfig } from '../types';
import type { LocalMedia, LocalState } from './localMedia';
import { MeshSession } from './mesh';
import type { LocalTracks, MediaCallbacks, MediaSession, RemoteMedia } from './session';

/** The frames of the room socket that concern media. */
export type MediaEvent = Extract<
  RoomEvent,
  { type: 'signal.offer' | 'signal.answer' | 'signal.ice' | 'media.mute_requested' }
>;

/** Why the media as a whole is not running: the WebRTC config (mesh) or the media token could
 * not be fetched, or the LiveKit server could not be reached or dropped us. `code` is the API's
 * error code (`network_error` when the server did not answer) or `unreachable`. */
export interface MediaFailure {
  stage: 'config' | 'livekit';
  code: string;
}

export interface MediaState {
  remotes: Map<string, RemoteMedia>;
  mode: 'mesh' | 'livekit' | null; // null until the session starts
  error: string | null;
  failure: MediaFailure | null;
  /** The ICE servers include a TURN relay (the advice for a failed connection depends on it). */
  relay: boolean;
}

/** A failed WebRTC config request is tried once more on its own after this long. */
const CONFIG_RETRY_MS = 2000;

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

const hasRelay = (servers: IceServer[]) =>
  servers.some((server) => [server.urls].flat().some((url) => /^turns?:/.test(url)));

const failureCode = (error: unknown) => (error instanceof ApiError ? error.code : 'unreachable');

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
    super({ remotes: new Map(), mode: null, error: null, failure: null, relay: false });
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

  /** The user asked to try again. A media start that failed starts over (a fresh config or
   * token); in mesh mode, a fresh connection to `participantId` (to every failed one, without
   * it), with ICE servers fetched anew in case those were the cause. */
  async retry(participantId?: string) {
    if (!this.started) return;
    if (!this.session || this.state.failure) {
      this.session?.close();
      this.session = null;
      this.set({ failure: null, error: null });
      await this.start(++this.run);
      return;
    }
    const mesh = this.mesh;
    if (!mesh) return;
    try {
      const config = await api.webrtcConfig(this.roomId);
      mesh.setIceServers(config.iceServers.map(iceServer));
      this.set({ relay: hasRelay(config.iceServers) });
    } catch {
      /* try with the servers we have; a failure shows up on the tile again */
    }
    if (this.mesh === mesh) mesh.retry(participantId);
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
        onFailure: (code) => {
          if (!stale()) this.set({ failure: { stage: 'livekit', code } });
        },
      };
      if (access.mode === 'livekit' && access.url && access.token) {
        // livekit-client is only downloaded by rooms that use it.
        const { LiveKitSession } = await import('./livekit');
        if (stale()) return;
        const session = new LiveKitSession(callbacks);
        this.session = session;
        this.set({ mode: 'livekit' });
        session.updateLocal(localTracks(this.local.snapshot));
        try {
          await session.connect(access.url, access.token);
        } catch {
          if (!stale()) this.set({ failure: { stage: 'livekit', code: 'unreachable' } });
        }
      } else {
        let config: WebRTCConfig;
        try {
          config = await api.webrtcConfig(this.roomId);
        } catch {
          // One blip is not worth a banner: ask once more before saying so.
          await new Promise((resolve) => setTimeout(resolve, CONFIG_RETRY_MS));
          if (stale()) return;
          config = await api.webrtcConfig(this.roomId);
        }
        if (stale()) return;
        const mesh = new MeshSession(this.self, this.send, { iceServers: config.iceServers.map(iceServer) }, callbacks);
        this.session = mesh;
        this.refreshIceServers(mesh, config.ttl_seconds, stale);
        this.set({ mode: 'mesh', relay: hasRelay(config.iceServers) });
        mesh.setParticipants(this.participants);
        mesh.updateLocal(localTracks(this.local.snapshot));
        mesh.sync();
      }
    } catch (error) {
      if (stale()) return;
      this.set({
        error: error instanceof ApiError ? error.code : String(error),
        failure: { stage: this.state.mode === 'livekit' ? 'livekit' : 'config', code: failureCode(error) },
      });
    }
  }
}
