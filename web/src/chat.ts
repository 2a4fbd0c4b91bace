// A chat as one reader has it: the messages, who is typing, what is unread, and sending,
// editing and deleting. It knows a conversation only through `Conversation`, so the same store
// (and ChatPanel) can serve a meeting's chat today and a channel or a direct message later.
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
  { type: 'message.created' | 'message.edited' | 'message.deleted' | 'typing' }
>;

export interface Typist {
  id: string;
  name: string;
  until: number;
}

export interface ChatState {
  messages: ChatMessage[];
  typing: Typist[];
  unread: number;
}

const TYPING_SHOWN_MS = 4000;
const TYPING_SENT_EVERY_MS = 2500;

// Message ids sort in the order the server accepted the messages.
const byId = (a: ChatMessage, b: ChatMessage) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class ChatStore extends Observable<ChatState> {
  private open = false;
  private lastTyping = 0;
  private typingTimer = 0;

  constructor(
    private readonly conversation: Conversation,
    /** The reader: their own messages are never unread, and their typing is not shown. */
    private readonly self: string,
    private readonly onError: (error: unknown) => void,
  ) {
    super({ messages: [], typing: [], unread: 0 });
  }

  handle(event: ChatEvent) {
    switch (event.type) {
      case 'message.created':
        this.add(event.message);
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
    // On the socket the message comes back as `message.created`; without it, REST answers it.
    if (this.conversation.sendFrame({ type: 'message.send', content: text, client_id: newClientId() })) return;
    try {
      this.add(await this.conversation.send(text));
    } catch (error) {
      this.onError(error);
    }
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
  }

  private add(message: ChatMessage) {
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
