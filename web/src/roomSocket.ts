// The room's live channel (/ws/chat/{room}): events in, chat/typing/signalling out. Each
// connection opens with a fresh one-time ticket (the credential stays out of the URL). It
// reconnects on its own, with exponential backoff and jitter, from `since=<last cursor>` so
// nothing is missed, however long the server was away (a restart, an outage: the seat waits
// for a grace period counted from when the server is back); and it reports the closes that
// end the meeting for this tab (removed, ended, left elsewhere).
import { api, ApiError, socketUrl } from './api';
import { CloseCode } from './closeCodes';
import type { RoomEvent } from './types';

export type SocketStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';
/** Why the socket will not come back. */
export type Ending = 'removed' | 'ended' | 'left' | 'not_found' | 'credential';

interface Handlers {
  onEvent(event: RoomEvent): void;
  onStatus(status: SocketStatus): void;
  onEnd(ending: Ending, code: string | null): void;
}

/** How long to wait before reconnect attempt `attempt` (1, 2, …): doubling from 0.6 s up to
 * 8 s, each spread by ±25 % so that a room's clients do not all come back at once. */
export function retryDelay(attempt: number): number {
  return Math.min(8000, 300 * 2 ** Math.min(Math.max(attempt, 1), 5)) * (0.75 + Math.random() / 2);
}

const FINAL_CLOSES: Partial<Record<CloseCode, Ending>> = {
  [CloseCode.INVALID_CREDENTIAL]: 'credential',
  [CloseCode.FORBIDDEN]: 'removed',
  [CloseCode.NOT_FOUND]: 'not_found',
  [CloseCode.ROOM_ENDED]: 'ended',
  [CloseCode.NORMAL]: 'left',
};

/** Refusals of the ticket request that mean the same as the socket's final closes. */
const FINAL_REFUSALS: Partial<Record<string, Ending>> = {
  invalid_credential: 'credential',
  not_a_participant: 'removed',
  removed_from_room: 'removed',
  room_not_found: 'not_found',
  room_ended: 'ended',
};

export class RoomSocket {
  private ws: WebSocket | null = null;
  private opening = false;
  private cursor: string | null = null;
  private attempts = 0;
  private stopped = false;
  private retryTimer = 0;
  private pingTimer = 0;
  private lastError: string | null = null;

  constructor(
    private readonly roomId: string,
    private readonly handlers: Handlers,
  ) {}

  start() {
    this.stopped = false;
    void this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.ws?.close(CloseCode.NORMAL);
    this.ws = null;
  }

  get connected() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(frame: Record<string, unknown>): boolean {
    if (!this.connected) return false;
    this.ws!.send(JSON.stringify(frame));
    return true;
  }

  private async open() {
    this.handlers.onStatus(this.attempts === 0 && this.cursor === null ? 'connecting' : 'reconnecting');
    this.opening = true;
    let ticket: string;
    try {
      ticket = (await api.roomSocketTicket(this.roomId)).ticket;
    } catch (error) {
      this.opening = false;
      if (!this.stopped) this.refused(error);
      return;
    }
    this.opening = false;
    if (this.stopped) return;
    const params: Record<string, string> = { ticket, ...(this.cursor ? { since: this.cursor } : {}) };
    const ws = new WebSocket(socketUrl(`/ws/chat/${this.roomId}`, params));
    this.ws = ws;
    this.lastError = null;
    ws.onmessage = (message) => {
      let event: RoomEvent;
      try {
        event = JSON.parse(message.data as string) as RoomEvent;
      } catch {
        return;
      }
      if ('cursor' in event && event.cursor) this.cursor = event.cursor;
      if (event.type === 'ready') {
        this.attempts = 0;
        this.handlers.onStatus('open');
      }
      if (event.type === 'error') this.lastError = event.code;
      this.handlers.onEvent(event);
    };
    ws.onclose = (close) => {
      if (this.ws !== ws) return;
      clearInterval(this.pingTimer);
      this.ws = null;
      if (this.stopped) return;
      const ending = FINAL_CLOSES[close.code as CloseCode];
      if (ending) {
        this.stopped = true;
        this.handlers.onStatus('closed');
        this.handlers.onEnd(ending, this.lastError ?? close.reason ?? null);
        return;
      }
      this.retryLater();
    };
    ws.onopen = () => {
      // Keepalive: proxies drop idle sockets, and a dead link shows up as a failed send.
      this.pingTimer = window.setInterval(() => this.send({ type: 'ping' }), 20_000);
    };
  }

  /** No ticket: a refusal that ends the meeting for this tab ends it; anything else (the
   * network, a busy server) is tried again like a dropped socket. */
  private refused(error: unknown) {
    const ending = error instanceof ApiError ? FINAL_REFUSALS[error.code] : undefined;
    if (ending) {
      this.stopped = true;
      this.handlers.onStatus('closed');
      this.handlers.onEnd(ending, (error as ApiError).code);
      return;
    }
    this.retryLater();
  }

  private retryLater() {
    this.attempts += 1;
    this.handlers.onStatus('reconnecting');
    this.retryTimer = window.setTimeout(() => void this.open(), retryDelay(this.attempts));
  }

  /** Reconnect now (the browser came back online) instead of waiting out the backoff. */
  retryNow() {
    if (this.stopped || this.ws || this.opening) return;
    clearTimeout(this.retryTimer);
    void this.open();
  }
}
