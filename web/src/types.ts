// What crosses the wire. The REST shapes are generated from moot's OpenAPI schema
// (schema.d.ts, `npm run gen:api`); the room WebSocket's frames are not in it, so they are
// written out here, after the README's "The room WebSocket".
import type { components } from './schema';

type Schemas = components['schemas'];

export type Identity = Schemas['Identity'];
export type Participant = Schemas['ParticipantView'];
export type Room = Schemas['RoomView'];
export type RoomSession = Schemas['RoomSession'];
export type ParticipantList = Schemas['ParticipantList'];
export type ChatMessage = Schemas['ChatMessage'];
/** What a system message tells, as data: `kind` and the names it needs. */
export type SystemNote = Schemas['SystemNote'];
export type MessagePage = Schemas['MessagePage'];
export type DeleteResult = Schemas['DeleteResult'];
export type LeaveResult = Schemas['LeaveResult'];
export type MuteResult = Schemas['MuteResult'];
export type MuteKind = Schemas['MuteParticipant']['kind'];
export type MediaAccess = Schemas['MediaAccess'];
export type WebRTCConfig = Schemas['WebRTCConfig'];
export type SocketTicket = Schemas['SocketTicket'];
export type IceServer = Schemas['IceServer'];
export type TranscriptionState = Schemas['TranscriptionState'];
export type TranscriptionStart = Schemas['TranscriptionStart'];
export type TranscriptPage = Schemas['TranscriptPage'];
/** A stored transcript segment (final text), as the history returns it. */
export type TranscriptSegment = Schemas['TranscriptSegment'];

/** A line of the live transcript: a partial that its final replaces in place, or final text. */
export interface TranscriptLine {
  utterance_id: string;
  participant_id: string | null;
  display_name?: string | null;
  text: string;
  started_at: number;
  final: boolean;
  heardAt?: number; // Date.now() when it last arrived on the room socket (not from the history)
}

/** Frames the room WebSocket pushes (README, "The room WebSocket"). */
export type RoomEvent =
  | { type: 'ready'; cursor: string; you: Participant }
  | { type: 'message.created'; cursor: string; message: ChatMessage; client_id?: string }
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
  | { type: 'participant.reconnecting' | 'participant.reconnected'; participant_id: string }
  | { type: 'host.changed'; cursor: string; host: Participant }
  | { type: 'room.updated'; cursor: string; locked: boolean }
  | { type: 'room.ended'; cursor: string; reason: string }
  | { type: 'typing'; participant_id: string; display_name: string }
  | { type: 'message.sent'; client_id: string; id: string }
  | { type: 'pong' }
  | { type: 'resync'; cursor: string }
  | { type: 'signal.offer' | 'signal.answer'; from: string; to: string; sdp: string }
  | { type: 'signal.ice'; from: string; to: string; candidate: RTCIceCandidateInit | null }
  | { type: 'media.mute_requested'; to: string; kind: MuteKind; by: string }
  | {
      type: 'transcription.updated';
      cursor?: string;
      status: TranscriptionState['status'];
      host_id: string | null;
    }
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
  | { type: 'transcript.deleted'; cursor?: string; by: string }
  | {
      type: 'error';
      code: string;
      message: string;
      /** The `client_id` of the `message.send` frame this error refused. */
      client_id?: string;
      retry_after?: number;
    };
