// The moot HTTP API: one anonymous identity per browser, kept in localStorage and sent as
// X-Participant-ID on every request. WebSockets open with a one-time ticket instead, so the
// credential never appears in a URL.
import type {
  ChatMessage,
  DeleteResult,
  Identity,
  LeaveResult,
  MediaAccess,
  MessagePage,
  MuteKind,
  MuteResult,
  Participant,
  ParticipantList,
  Room,
  RoomSession,
  SocketTicket,
  TranscriptionStart,
  TranscriptionState,
  TranscriptPage,
  WebRTCConfig,
} from './types';

const IDENTITY_KEY = 'moot.identity';
const PARTICIPANT_HEADER = 'X-Participant-ID';

/** An error the API answered with: its stable `code` is what the UI explains. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

let identity: Identity | null = null;
let pending: Promise<Identity> | null = null;

function stored(): Identity | null {
  try {
    const raw = localStorage.getItem(IDENTITY_KEY);
    const parsed = raw ? (JSON.parse(raw) as Identity) : null;
    return parsed?.token && parsed.participant_id ? parsed : null;
  } catch {
    return null;
  }
}

async function issue(): Promise<Identity> {
  const response = await fetch('/api/v1/identity', { method: 'POST' });
  if (!response.ok) throw await toError(response);
  const fresh = (await response.json()) as Identity;
  localStorage.setItem(IDENTITY_KEY, JSON.stringify(fresh));
  identity = fresh;
  return fresh;
}

/** This browser's identity, asked for once and remembered. */
export async function getIdentity(): Promise<Identity> {
  identity ??= stored();
  if (identity) return identity;
  pending ??= issue().finally(() => (pending = null));
  return pending;
}

/** Whether this browser already has an identity (so may hold a seat somewhere). */
export function hasIdentity(): boolean {
  return !!(identity ?? stored());
}

async function toError(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { code?: string; message?: string };
    return new ApiError(response.status, body.code ?? 'http_error', body.message ?? '', body);
  } catch {
    return new ApiError(response.status, 'http_error', response.statusText);
  }
}

/** A call with this browser's credential; the answer if it is a success, else an ApiError. */
async function call(method: string, path: string, body?: unknown, retried = false): Promise<Response> {
  const { token } = await getIdentity();
  const headers: Record<string, string> = { [PARTICIPANT_HEADER]: token };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached.');
  }
  if (response.status === 401 && !retried) {
    // A credential from another server (its secret changed): start over with a new identity.
    localStorage.removeItem(IDENTITY_KEY);
    identity = null;
    return call(method, path, body, true);
  }
  if (!response.ok) throw await toError(response);
  return response;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  return (await (await call(method, path, body)).json()) as T;
}

const room = (ref: string) => `/api/v1/rooms/${encodeURIComponent(ref)}`;

export const api = {
  createRoom: (title: string, displayName: string) =>
    request<RoomSession>('POST', '/api/v1/rooms', {
      title,
      ...(displayName ? { display_name: displayName } : {}),
    }),
  getRoom: (ref: string) => request<Room>('GET', room(ref)),
  join: (ref: string, displayName: string) =>
    request<RoomSession>('POST', `${room(ref)}/join`, { display_name: displayName }),
  leave: (ref: string) => request<LeaveResult>('POST', `${room(ref)}/leave`),
  participants: (ref: string) => request<ParticipantList>('GET', `${room(ref)}/participants`),
  end: (ref: string) => request<Room>('POST', `${room(ref)}/end`),
  lock: (ref: string, locked: boolean) => request<Room>('POST', `${room(ref)}/${locked ? 'lock' : 'unlock'}`),
  remove: (ref: string, participantId: string) =>
    request<Participant>('DELETE', `${room(ref)}/participants/${participantId}`),
  transferHost: (ref: string, participantId: string) =>
    request<Participant>('POST', `${room(ref)}/host`, { participant_id: participantId }),
  mute: (ref: string, participantId: string, kind: MuteKind = 'audio') =>
    request<MuteResult>('POST', `${room(ref)}/participants/${participantId}/mute`, { kind }),

  messages: (ref: string, before?: string) =>
    request<MessagePage>('GET', `${room(ref)}/chat/messages?limit=100${before ? `&before=${before}` : ''}`),
  sendMessage: (ref: string, content: string) =>
    request<ChatMessage>('POST', `${room(ref)}/chat/messages`, { content }),
  editMessage: (ref: string, id: string, content: string) =>
    request<ChatMessage>('PUT', `${room(ref)}/chat/messages/${id}`, { content }),
  deleteMessage: (ref: string, id: string) => request<DeleteResult>('DELETE', `${room(ref)}/chat/messages/${id}`),

  /** A one-time ticket for the room's socket, valid for seconds: ask for one per connection. */
  roomSocketTicket: (ref: string) => request<SocketTicket>('POST', `${room(ref)}/ws-ticket`),
  mediaToken: (ref: string) => request<MediaAccess>('POST', `${room(ref)}/media/token`),
  webrtcConfig: (ref: string) => request<WebRTCConfig>('GET', `${room(ref)}/media/webrtc`),

  transcription: (ref: string) => request<TranscriptionState>('GET', `${room(ref)}/transcription`),
  startTranscription: (ref: string) => request<TranscriptionStart>('POST', `${room(ref)}/transcription/start`),
  stopTranscription: (ref: string) => request<TranscriptionState>('POST', `${room(ref)}/transcription/stop`),
  designateTranscriber: (ref: string, participantId: string) =>
    request<TranscriptionState>('POST', `${room(ref)}/transcription/host`, {
      participant_id: participantId,
    }),
  transcripts: (ref: string, after?: number) =>
    request<TranscriptPage>('GET', `${room(ref)}/transcripts?limit=500${after !== undefined ? `&after=${after}` : ''}`),
  /** The export is a download: fetched with the credential, handed to the browser as a file. */
  deleteTranscript: (ref: string) =>
    request<{ deleted: number; stopped: boolean }>('DELETE', `${room(ref)}/transcripts`),
  async exportTranscript(ref: string, format: 'txt' | 'srt' | 'vtt' | 'json'): Promise<void> {
    const response = await call('GET', `${room(ref)}/transcripts/export?format=${format}`);
    const disposition = response.headers.get('Content-Disposition') ?? '';
    const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `transcript.${format}`;
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement('a');
    link.href = url;
    link.download = filename;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  },
};

/** A WebSocket URL on this origin (or an absolute ws(s) URL) with these query parameters. */
export function socketUrl(pathOrUrl: string, params: Record<string, string>): string {
  const base = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
  const url = new URL(pathOrUrl, base);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}
