// What crosses the wire: the shapes the moot API documents (see the top-level README).

export interface Identity {
  participant_id: string;
  token: string;
}

export type Role = 'host' | 'participant';

export interface Participant {
  participant_id: string;
  display_name: string;
  role: Role;
  joined_at: string;
}

export interface Room {
  id: string;
  code: string;
  title: string;
  description: string | null;
  status: 'active' | 'ended';
  locked: boolean;
  max_participants: number;
  participant_count: number;
  created_at: string;
  expires_at: string | null;
  ended_at: string | null;
}

export interface RoomSession extends Room {
  you: Participant;
  /** How to connect media, handed out with the join; null if it could not be issued then. */
  media?: MediaAccess | null;
}

export interface ChatMessage {
  id: string;
  room_id: string;
  participant_id: string | null;
  display_name: string;
  message_type: 'user' | 'system';
  content: string;
  created_at: string;
  edited_at: string | null;
}

export interface MediaAccess {
  mode: 'mesh' | 'livekit';
  url?: string | null;
  token?: string | null;
  mesh_max_participants?: number | null;
}

export interface WebRTCConfig {
  mode: 'mesh' | 'livekit';
  iceServers: RTCIceServer[];
  ttl_seconds: number;
}

export interface TranscriptionState {
  enabled: boolean;
  status: 'idle' | 'active';
  host_id: string | null;
  started_at: string | null;
  seconds_used: number;
  seconds_limit: number;
}

export interface TranscriptionStart extends TranscriptionState {
  worker_url: string;
  token: string;
  expires_in: number;
}

export interface TranscriptSegment {
  utterance_id: string;
  participant_id: string | null;
  display_name?: string | null;
  text: string;
  started_at: number;
  final: boolean;
}

export interface TranscriptPage {
  items: Array<{
    id: number;
    participant_id: string | null;
    display_name: string | null;
    utterance_id: string;
    text: string;
    language: string | null;
    started_at: number;
    ended_at: number | null;
  }>;
  has_more: boolean;
  next_after: number | null;
}

/** Frames the room WebSocket pushes (README, "The room WebSocket"). */
export type RoomEvent =
  | { type: 'ready'; cursor: string; you: Participant }
  | { type: 'message.created'; cursor: string; message: ChatMessage }
  | { type: 'message.edited'; cursor: string; message: ChatMessage }
  | { type: 'message.deleted'; cursor: string; message_id: string; deleted_by: string }
  | { type: 'participant.joined'; cursor: string; participant: Participant }
  | { type: 'participant.updated'; cursor: string; participant: Participant }
  | {
      type: 'participant.left';
      cursor: string;
      participant_id: string;
      display_name: string;
      reason: 'left' | 'removed' | 'room_ended';
    }
  | { type: 'host.changed'; cursor: string; host: Participant }
  | { type: 'room.updated'; cursor: string; locked: boolean }
  | { type: 'room.ended'; cursor: string; reason: string }
  | { type: 'typing'; participant_id: string; display_name: string }
  | { type: 'message.sent'; client_id: string; id: string }
  | { type: 'pong' }
  | { type: 'resync'; cursor: string }
  | { type: 'signal.offer' | 'signal.answer'; from: string; to: string; sdp: string }
  | { type: 'signal.ice'; from: string; to: string; candidate: RTCIceCandidateInit | null }
  | { type: 'media.mute_requested'; to: string; kind: 'audio' | 'video' | 'all'; by: string }
  | { type: 'transcription.updated'; cursor?: string; status: 'idle' | 'active'; host_id: string | null }
  | {
      type: 'transcript.partial' | 'transcript.final';
      cursor?: string;
      utterance_id: string;
      participant_id: string;
      text: string;
      start: number;
      end: number;
      language: string | null;
    }
  | { type: 'error'; code: string; message: string };
