// What the meeting needs from a media transport, whichever it is (P2P mesh or LiveKit).

export interface RemoteMedia {
  participantId: string;
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null; // camera
  screen: MediaStreamTrack | null;
  mic: boolean;
  cam: boolean;
  /** `restarting`: it was connected (or tried long enough) and is restarting ICE on its own;
   * `failed`: that did not help either, and only a retry (or the other side's) can. */
  connection: RemoteConnection;
}

export type RemoteConnection = 'connecting' | 'connected' | 'restarting' | 'failed';

export interface LocalTracks {
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
  screen: MediaStreamTrack | null;
  mic: boolean;
  cam: boolean;
}

export interface MediaSession {
  readonly mode: 'mesh' | 'livekit';
  /** Publish what changed in the local tracks or their on/off state. */
  updateLocal(local: LocalTracks): void;
  close(): void;
}

export interface MediaCallbacks {
  onRemotes(remotes: Map<string, RemoteMedia>): void;
  /** The server muted this participant (LiveKit mode). */
  onForcedMute?(kind: 'audio' | 'video'): void;
  onError?(message: string): void;
  /** The transport as a whole is down and will not come back by itself (LiveKit mode). */
  onFailure?(code: string): void;
}
