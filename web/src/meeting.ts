// One meeting as this tab lives it: the room socket, the room and who is in it, and the stores
// for the rest (chat, transcript, media, notices), which the socket's events are handed to.
// Actions go to the API (REST) or the socket; everything others can see comes back as a socket
// event, so the UI shows the room as the server has it.
import { api, ApiError } from './api';
import { ChatStore, type Conversation } from './chat';
import type { LocalMedia } from './media/localMedia';
import { MediaStore } from './media/mediaStore';
import type { Speaker } from './media/transcriber';
import { Notices } from './notices';
import { type Ending, RoomSocket, type SocketStatus } from './roomSocket';
import { Observable } from './store';
import { claimMeeting } from './tabs';
import { TranscriptStore } from './transcript';
import type { Participant, RoomEvent, RoomSession } from './types';

/** How this tab's meeting ended: `left` only when this tab left; `gone` when the seat went
 * without this tab leaving (left in another tab, or away longer than the grace period);
 * `otherTab` when another tab of this browser took the meeting over (the seat stays). */
export type MeetingEnding = Ending | 'gone' | 'otherTab';

export interface MeetingState {
  status: SocketStatus;
  room: RoomSession;
  you: Participant;
  participants: Participant[];
  ending: MeetingEnding | null;
  /** Others whose connection dropped: they keep their seat for the grace period. */
  reconnecting: string[];
}

const byJoin = (a: Participant, b: Participant) =>
  a.joined_at < b.joined_at ? -1 : a.joined_at > b.joined_at ? 1 : a.participant_id < b.participant_id ? -1 : 1;

export class Meeting extends Observable<MeetingState> {
  readonly notices = new Notices();
  readonly chat: ChatStore;
  readonly transcript: TranscriptStore;
  readonly media: MediaStore;
  private readonly socket: RoomSocket;
  private loaded = false;
  private releaseTab = () => {};

  constructor(room: RoomSession, local: LocalMedia) {
    super({ status: 'connecting', room, you: room.you, participants: [room.you], ending: null, reconnecting: [] });
    this.socket = new RoomSocket(room.id, {
      onEvent: (event) => this.onEvent(event),
      onStatus: (status) => this.set({ status }),
      // The socket closes 1000 (or the ticket is refused) when the seat went without this tab
      // leaving: left in another tab, or dropped after the grace period. Not "You left".
      onEnd: (ending, code) =>
        this.finish(ending === 'left' || ending === 'credential' || code === 'not_a_participant' ? 'gone' : ending),
    });
    const send = (frame: Record<string, unknown>) => this.socket.send(frame);
    const conversation: Conversation = {
      sendFrame: send,
      history: () => api.messages(room.id),
      send: (content) => api.sendMessage(room.id, content),
      edit: (id, content) => api.editMessage(room.id, id, content),
      delete: (id) => api.deleteMessage(room.id, id),
    };
    const self = room.you.participant_id;
    this.chat = new ChatStore(conversation, self, this.notices.fail);
    this.media = new MediaStore(room.id, self, local, send, this.notices, room.media ?? null);
    this.media.setParticipants(this.state.participants);
    this.transcript = new TranscriptStore(room.id, local, this.notices, {
      speakers: () => this.speakers(local),
      subscribe: (listener) => {
        const stops = [this.media.subscribe(listener), this.subscribe(listener), local.subscribe(listener)];
        return () => stops.forEach((stop) => stop());
      },
    });
  }

  /** Everyone whose audio this tab has, yourself first, then in the order people came. */
  private speakers(local: LocalMedia): Speaker[] {
    const you = this.state.you.participant_id;
    const mic = local.snapshot.audio;
    const speakers: Speaker[] = mic ? [{ id: you, track: mic }] : [];
    const { remotes } = this.media.snapshot;
    for (const person of this.state.participants) {
      const track = person.participant_id === you ? null : remotes.get(person.participant_id)?.audio;
      if (track) speakers.push({ id: person.participant_id, track });
    }
    return speakers;
  }

  get roomId() {
    return this.state.room.id;
  }

  /** The peer connections of mesh mode, by participant id (tests read their stats). */
  get peerConnections(): Map<string, RTCPeerConnection> {
    return this.media.peerConnections;
  }

  start() {
    if (this.state.ending) return;
    this.releaseTab = claimMeeting(this.roomId, () => this.finish('otherTab'));
    this.socket.start();
    window.addEventListener('online', this.onOnline);
    window.addEventListener('pagehide', this.onPageHide);
  }

  private onOnline = () => this.socket.retryNow();

  /** The page is going away (closed, or reloading): the socket says so, and the server keeps
   * the seat for a short wait, which a reload comes back within and a closed tab does not. */
  private onPageHide = () => {
    if (!this.state.ending) this.socket.send({ type: 'away' });
  };

  dispose() {
    this.releaseTab();
    this.socket.stop();
    this.media.close();
    this.transcript.dispose();
    this.chat.dispose();
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('pagehide', this.onPageHide);
  }

  private finish(ending: MeetingEnding) {
    if (this.state.ending) return;
    this.set({ ending });
    this.dispose();
  }

  // -- the socket ---------------------------------------------------------------------------

  private onEvent(event: RoomEvent) {
    switch (event.type) {
      case 'ready':
        this.set({ you: event.you });
        void this.onReady();
        break;
      case 'resync':
        void this.reload();
        break;
      case 'message.created':
      case 'message.edited':
      case 'message.deleted':
      case 'message.sent':
      case 'typing':
        this.chat.handle(event);
        break;
      case 'transcription.updated':
      case 'transcript.partial':
      case 'transcript.final':
      case 'transcript.deleted':
        this.transcript.handle(event);
        break;
      case 'signal.offer':
      case 'signal.answer':
      case 'signal.ice':
        this.back(event.from);
        this.media.handle(event);
        break;
      case 'media.mute_requested':
        this.media.handle(event);
        break;
      case 'participant.reconnecting':
        if (
          event.participant_id !== this.state.you.participant_id &&
          !this.state.reconnecting.includes(event.participant_id)
        )
          this.set({ reconnecting: [...this.state.reconnecting, event.participant_id] });
        break;
      case 'participant.reconnected':
        this.back(event.participant_id);
        break;
      case 'participant.joined':
        this.back(event.participant.participant_id);
        this.setParticipants([
          ...this.state.participants.filter((p) => p.participant_id !== event.participant.participant_id),
          event.participant,
        ]);
        break;
      case 'participant.left':
        if (event.participant_id === this.state.you.participant_id) {
          this.finish(event.reason === 'removed' ? 'removed' : event.reason === 'room_ended' ? 'ended' : 'gone');
          return;
        }
        this.back(event.participant_id);
        this.setParticipants(this.state.participants.filter((p) => p.participant_id !== event.participant_id));
        this.media.remove(event.participant_id);
        this.chat.forget(event.participant_id);
        break;
      case 'participant.updated':
        this.setParticipants(
          this.state.participants.map((p) =>
            p.participant_id === event.participant.participant_id ? event.participant : p,
          ),
        );
        break;
      case 'host.changed': {
        const hostId = event.host.participant_id;
        if (hostId === this.state.you.participant_id && this.state.you.role !== 'host')
          this.notices.notify('connection.nowHost');
        const participants = this.state.participants.map((p) =>
          p.participant_id === hostId
            ? { ...p, role: 'host' as const }
            : p.role === 'host'
              ? { ...p, role: 'participant' as const }
              : p,
        );
        if (!participants.some((p) => p.participant_id === hostId)) participants.push(event.host);
        this.setParticipants(participants);
        break;
      }
      case 'room.updated':
        this.set({ room: { ...this.state.room, locked: event.locked } });
        break;
      case 'room.ended':
        this.finish('ended');
        break;
      case 'error':
        // A refused chat message shows as failed, with its text and a retry, in the chat.
        if (event.client_id) this.chat.refused(event.client_id, event.code, event.retry_after);
        else if (event.code === 'rate_limited' || event.code === 'validation_failed')
          this.notices.notify(`errors.${event.code}`, {}, 'error');
        break;
    }
  }

  /** Their connection is back (or they are gone for good): no "reconnecting" on their tile. */
  private back(participantId: string) {
    if (this.state.reconnecting.includes(participantId))
      this.set({ reconnecting: this.state.reconnecting.filter((id) => id !== participantId) });
  }

  private async onReady() {
    // Who is reconnecting was heard live; what this socket missed, the participant list tells.
    if (this.state.reconnecting.length) this.set({ reconnecting: [] });
    if (!this.loaded) {
      this.loaded = true;
      await this.reload();
    } else {
      await this.loadParticipants();
    }
    this.media.socketReady();
  }

  /** Everything from REST: on the first connect, and when the socket says we missed too much. */
  private async reload() {
    await Promise.all([this.loadParticipants(), this.chat.load(), this.transcript.load()]);
  }

  private async loadParticipants() {
    try {
      const { items } = await api.participants(this.roomId);
      this.setParticipants(items);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'removed_from_room') this.finish('removed');
      else if (error instanceof ApiError && error.code === 'room_ended') this.finish('ended');
    }
  }

  /** Who is here, in the order they came; `you` follows your own entry (your role changes). */
  private setParticipants(list: Participant[]) {
    const participants = [...list].sort(byJoin);
    const you = participants.find((p) => p.participant_id === this.state.you.participant_id);
    this.set(you ? { participants, you } : { participants });
    this.media.setParticipants(participants);
  }

  // -- actions ------------------------------------------------------------------------------

  private async act(action: () => Promise<unknown>) {
    try {
      await action();
    } catch (error) {
      this.notices.fail(error);
    }
  }

  endMeeting = () => this.act(() => api.end(this.roomId));
  setLocked = (locked: boolean) =>
    this.act(async () => {
      const room = await api.lock(this.roomId, locked);
      this.set({ room: { ...this.state.room, locked: room.locked } });
    });
  removeParticipant = (id: string) => this.act(() => api.remove(this.roomId, id));
  muteParticipant = (id: string) => this.act(() => api.mute(this.roomId, id, 'audio'));
  makeHost = (id: string) => this.act(() => api.transferHost(this.roomId, id));

  async leave() {
    this.transcript.dispose();
    this.socket.stop(); // our own leave closes the socket NORMAL: not "left from another tab"
    try {
      await api.leave(this.roomId);
    } catch {
      /* leaving always ends this tab's meeting */
    }
    this.finish('left');
  }
}
