// LiveKit mode: the room's media goes through a LiveKit server (an SFU). moot hands out the
// token; identities are moot's public participant ids, so tiles line up with the participant list.
import {
  ConnectionState,
  type TrackPublication,
  ParticipantEvent,
  type RemoteParticipant,
  Room,
  RoomEvent,
  Track,
} from 'livekit-client';
import type { LocalTracks, MediaCallbacks, MediaSession, RemoteMedia } from './session';

type Kind = 'audio' | 'video' | 'screen';
const SOURCES: Record<Kind, Track.Source> = {
  audio: Track.Source.Microphone,
  video: Track.Source.Camera,
  screen: Track.Source.ScreenShare,
};

export class LiveKitSession implements MediaSession {
  readonly mode = 'livekit' as const;
  readonly room = new Room({ adaptiveStream: true, dynacast: true });
  private published: Record<Kind, MediaStreamTrack | null> = { audio: null, video: null, screen: null };
  private local: LocalTracks = { audio: null, video: null, screen: null, mic: false, cam: false };
  private work: Promise<void> = Promise.resolve();
  private closed = false;
  private connected = false;

  constructor(private readonly callbacks: MediaCallbacks) {
    const emit = () => this.emit();
    for (const event of [
      RoomEvent.ParticipantConnected,
      RoomEvent.ParticipantDisconnected,
      RoomEvent.TrackSubscribed,
      RoomEvent.TrackUnsubscribed,
      RoomEvent.TrackMuted,
      RoomEvent.TrackUnmuted,
      RoomEvent.TrackPublished,
      RoomEvent.TrackUnpublished,
      RoomEvent.ConnectionStateChanged,
    ])
      this.room.on(event, emit);
    // livekit-client reconnects on its own; Disconnected means it gave up (or the server
    // closed the room): say so, so the user can retry with a fresh token.
    this.room.on(RoomEvent.Disconnected, () => {
      if (!this.closed && this.connected) this.callbacks.onFailure?.('disconnected');
    });
    this.room.localParticipant.on(ParticipantEvent.TrackMuted, (publication: TrackPublication) => {
      // The host muted us through the server: follow it in the UI.
      if (publication.source === Track.Source.Microphone && this.local.mic) this.callbacks.onForcedMute?.('audio');
      if (publication.source === Track.Source.Camera && this.local.cam) this.callbacks.onForcedMute?.('video');
    });
  }

  async connect(url: string, token: string) {
    await this.room.connect(url, token);
    this.connected = true;
    this.enqueue(() => this.publishAll());
    this.emit();
  }

  updateLocal(local: LocalTracks) {
    this.local = local;
    if (this.room.state === ConnectionState.Connected) this.enqueue(() => this.publishAll());
  }

  private enqueue(task: () => Promise<void>) {
    this.work = this.work.then(task).catch((error) => this.callbacks.onError?.(String(error)));
  }

  private async publishAll() {
    if (this.closed) return;
    const participant = this.room.localParticipant;
    const wanted: Record<Kind, MediaStreamTrack | null> = {
      audio: this.local.audio,
      video: this.local.cam ? this.local.video : null,
      screen: this.local.screen,
    };
    for (const kind of Object.keys(wanted) as Kind[]) {
      const track = wanted[kind];
      const current = this.published[kind];
      if (current !== track) {
        if (current) await participant.unpublishTrack(current, false);
        if (track) await participant.publishTrack(track, { source: SOURCES[kind] });
        this.published[kind] = track;
      }
    }
    const mic = participant.getTrackPublication(Track.Source.Microphone);
    if (mic && mic.isMuted === this.local.mic) await (this.local.mic ? mic.unmute() : mic.mute());
  }

  private emit() {
    const remotes = new Map<string, RemoteMedia>();
    const state = this.room.state;
    const connection =
      state === ConnectionState.Connected
        ? 'connected'
        : state === ConnectionState.Reconnecting || state === ConnectionState.SignalReconnecting
          ? 'restarting'
          : 'connecting';
    this.room.remoteParticipants.forEach((participant: RemoteParticipant) => {
      const track = (source: Track.Source) => {
        const publication = participant.getTrackPublication(source);
        return publication && !publication.isMuted ? (publication.track?.mediaStreamTrack ?? null) : null;
      };
      const mic = participant.getTrackPublication(Track.Source.Microphone);
      const cam = participant.getTrackPublication(Track.Source.Camera);
      remotes.set(participant.identity, {
        participantId: participant.identity,
        audio: track(Track.Source.Microphone),
        video: track(Track.Source.Camera),
        screen: track(Track.Source.ScreenShare),
        mic: !!mic && !mic.isMuted,
        cam: !!cam && !cam.isMuted,
        connection,
      });
    });
    this.callbacks.onRemotes(remotes);
  }

  close() {
    this.closed = true;
    void this.room.disconnect(false);
  }
}
