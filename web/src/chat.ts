// A chat as one reader has it: the messages, who is typing, what is unread, and sending,
// editing and deleting. It knows a conversation only through `Conversation`, so the same store
// (and ChatPanel) can serve a meeting's chat today and a channel or a direct message later.
//
// A message the reader sends is theirs to keep until the server has it: it waits in `outgoing`
// ("sending") with a client id the server names in its answer — `message.sent`, the
// `message.created` it broadcasts, or an `error` — and if it is refused, or nothing answers,
// it stays there "failed", its text intact, until the reader sends it again or discards it.
import { ApiError } from './api';
import { Observable } from './store';
import type { ChatMessage, MessagePage, RoomEvent } from './types';

/** One conversation's way to the server: its live socket and its REST calls. */
export interface Conversation {
  /** Send a frame on the live socket; false when it is not connected. */
  sendFrame(frame: Record<string, unknown>): boolean;
  history(): Promise<MessagePage>;
  send(content: string): Promise<ChatMessage>;
  edit(id: string, content: string): Promise<ChatMessage>;
  delete(id: string): Promise<unknown>;
}

/** The frames of a conversation's socket that change its chat. */
export type ChatEvent = Extract<
  RoomEvent,
  { type: 'message.created' | 'message.edited' | 'message.deleted' | 'message.sent' | 'typing' }
>;

/** A message of the reader's own that the server has not shown to everyone yet. */
export interface Outgoing {
  clientId: string;
  content: string;
  status: 'sending' | 'failed';
  /** Why it failed: the server's error code, or `timeout` when nothing answered. */
  error?: string;
  /** When a rate-limited message may be tried again (ms since the epoch). */
  retryAt?: number;
  /** The message's id, once the server acknowledged it (its `message.created` may follow). */
  id?: string;
}

export interface Typist {
  id: string;
  name: string;
  until: number;
}

export interface ChatState {
  messages: ChatMessage[];
  outgoing: Outgoing[];
  typing: Typist[];
  unread: number;
}

const TYPING_SHOWN_MS = 4000;
const TYPING_SENT_EVERY_MS = 2500;
/** A message the socket took but nothing acknowledged within this time counts as not sent. */
const SEND_TIMEOUT_MS = 10_000;

// Message ids sort in the order the server accepted the messages.
const byId = (a: ChatMessage, b: ChatMessage) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class ChatStore extends Observable<ChatState> {
  private open = false;
  private lastTyping = 0;
  private typingTimer = 0;
  private readonly sendTimers = new Map<string, number>();

  constructor(
    private readonly conversation: Conversation,
    /** The reader: their own messages are never unread, and their typing is not shown. */
    private readonly self: string,
    private readonly onError: (error: unknown) => void,
  ) {
    super({ messages: [], outgoing: [], typing: [], unread: 0 });
  }

  handle(event: ChatEvent) {
    switch (event.type) {
      case 'message.created':
        if (event.client_id) this.settle(event.client_id);
        this.add(event.message);
        break;
      case 'message.sent':
        this.acknowledged(event.client_id, event.id);
        break;
      case 'message.edited':
        this.replace(event.message);
        break;
      case 'message.deleted':
        this.drop(event.message_id);
        break;
      case 'typing':
        if (event.participant_id !== this.self) this.showTyping(event.participant_id, event.display_name);
        break;
    }
  }

  /** The history from REST, keeping anything that arrived on the socket while it loaded. */
  async load() {
    try {
      const { items } = await this.conversation.history();
      const known = new Map(items.map((m) => [m.id, m]));
      for (const m of this.state.messages) if (!known.has(m.id)) known.set(m.id, m);
      this.set({ messages: [...known.values()].sort(byId) });
      // Acknowledged messages whose `message.created` was missed are in the history now.
      for (const entry of this.state.outgoing) if (entry.id && known.has(entry.id)) this.settle(entry.clientId);
    } catch {
      /* the socket still brings new messages */
    }
  }

  /** Someone left: they are no longer typing. */
  forget(participantId: string) {
    this.setTyping(this.state.typing.filter((t) => t.id !== participantId));
  }

  /** While the reader has the chat open, nothing new is unread. */
  setOpen(open: boolean) {
    this.open = open;
    if (open && this.state.unread) this.set({ unread: 0 });
  }

  async send(content: string) {
    const text = content.trim();
    if (!text) return;
    const entry: Outgoing = { clientId: newClientId(), content: text, status: 'sending' };
    this.set({ outgoing: [...this.state.outgoing, entry] });
    await this.deliver(entry);
  }

  /** Send a failed message again, with the same client id. */
  async retry(clientId: string) {
    const entry = this.outgoingFor(clientId);
    if (!entry || entry.status !== 'failed') return;
    const again: Outgoing = { clientId, content: entry.content, status: 'sending' };
    this.updateOutgoing(clientId, () => again);
    await this.deliver(again);
  }

  /** Give up on a failed message. */
  discard(clientId: string) {
    this.settle(clientId);
  }

  /** The server refused a message the reader sent (an `error` event naming its client id). */
  refused(clientId: string, code: string, retryAfter?: number) {
    this.fail(clientId, code, retryAfter);
  }

  async edit(id: string, content: string) {
    try {
      this.replace(await this.conversation.edit(id, content.trim()));
    } catch (error) {
      this.onError(error);
    }
  }

  async delete(id: string) {
    try {
      await this.conversation.delete(id);
      this.drop(id);
    } catch (error) {
      this.onError(error);
    }
  }

  /** The reader is typing: tell the others, at most every few seconds. */
  typing() {
    const now = Date.now();
    if (now - this.lastTyping < TYPING_SENT_EVERY_MS) return;
    this.lastTyping = now;
    this.conversation.sendFrame({ type: 'typing' });
  }

  dispose() {
    this.stopTypingClock();
    for (const timer of this.sendTimers.values()) clearTimeout(timer);
    this.sendTimers.clear();
  }

  /** On the socket the message comes back as `message.created` (and `message.sent`); without
   * the socket, REST answers it. */
  private async deliver(entry: Outgoing) {
    const { clientId, content } = entry;
    if (this.conversation.sendFrame({ type: 'message.send', content, client_id: clientId })) {
      clearTimeout(this.sendTimers.get(clientId));
      this.sendTimers.set(
        clientId,
        window.setTimeout(() => {
          this.sendTimers.delete(clientId);
          if (this.outgoingFor(clientId)?.status === 'sending') this.fail(clientId, 'timeout');
        }, SEND_TIMEOUT_MS),
      );
      return;
    }
    try {
      const message = await this.conversation.send(content);
      this.settle(clientId);
      this.add(message);
    } catch (error) {
      const code = error instanceof ApiError ? error.code : 'network_error';
      const after = error instanceof ApiError ? Number(error.details.retry_after) || undefined : undefined;
      this.fail(clientId, code, after);
    }
  }

  private acknowledged(clientId: string, id: string) {
    if (this.state.messages.some((m) => m.id === id)) this.settle(clientId);
    else this.updateOutgoing(clientId, (entry) => ({ ...entry, id, status: 'sending', error: undefined }));
    this.stopSendTimer(clientId);
  }

  private fail(clientId: string, error: string, retryAfter?: number) {
    this.stopSendTimer(clientId);
    const retryAt = retryAfter ? Date.now() + retryAfter * 1000 : undefined;
    // An acknowledged message is on its way to everyone: a late error does not undo it.
    this.updateOutgoing(clientId, (entry) => (entry.id ? entry : { ...entry, status: 'failed', error, retryAt }));
  }

  /** The message is out (or discarded): it leaves `outgoing`. */
  private settle(clientId: string) {
    this.stopSendTimer(clientId);
    if (this.outgoingFor(clientId)) this.set({ outgoing: this.state.outgoing.filter((e) => e.clientId !== clientId) });
  }

  private stopSendTimer(clientId: string) {
    clearTimeout(this.sendTimers.get(clientId));
    this.sendTimers.delete(clientId);
  }

  private outgoingFor(clientId: string) {
    return this.state.outgoing.find((e) => e.clientId === clientId);
  }

  private updateOutgoing(clientId: string, change: (entry: Outgoing) => Outgoing) {
    if (!this.outgoingFor(clientId)) return;
    this.set({ outgoing: this.state.outgoing.map((e) => (e.clientId === clientId ? change(e) : e)) });
  }

  private add(message: ChatMessage) {
    const waiting = this.state.outgoing.find((e) => e.id === message.id);
    if (waiting) this.settle(waiting.clientId);
    if (this.state.messages.some((m) => m.id === message.id)) return;
    const fromOthers = message.participant_id !== this.self && message.message_type === 'user';
    this.set({
      messages: [...this.state.messages, message].sort(byId),
      unread: this.open || !fromOthers ? this.state.unread : this.state.unread + 1,
    });
    if (message.participant_id) this.forget(message.participant_id);
  }

  private replace(message: ChatMessage) {
    this.set({ messages: this.state.messages.map((m) => (m.id === message.id ? message : m)) });
  }

  private drop(id: string) {
    this.set({ messages: this.state.messages.filter((m) => m.id !== id) });
  }

  private showTyping(id: string, name: string) {
    this.setTyping([
      ...this.state.typing.filter((t) => t.id !== id),
      { id, name, until: Date.now() + TYPING_SHOWN_MS },
    ]);
  }

  /** A typist fades out a few seconds after their last `typing`; the clock runs only while
   * someone is shown. */
  private setTyping(typing: Typist[]) {
    if (typing.length !== this.state.typing.length || typing.some((t, i) => t !== this.state.typing[i]))
      this.set({ typing });
    if (typing.length && !this.typingTimer) this.typingTimer = window.setInterval(() => this.expireTyping(), 1000);
    else if (!typing.length) this.stopTypingClock();
  }

  private stopTypingClock() {
    clearInterval(this.typingTimer);
    this.typingTimer = 0;
  }

  private expireTyping() {
    const now = Date.now();
    this.setTyping(this.state.typing.filter((t) => t.until > now));
  }
}

function newClientId() {
  return crypto.randomUUID().slice(0, 32);
}
