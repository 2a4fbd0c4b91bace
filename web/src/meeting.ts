// One meeting as this tab lives it: the room socket, who is here, the chat, the transcript and
// the media session, as one observable state the room page renders. Actions go to the API
// (REST) or the socket; everything others can see comes back as a socket event, so the UI
// shows the room as the server has it.
import { api, ApiError, socketUrl } from './api';
import type { LocalMedia, LocalState } from './media/localMedia';
import { MeshSession } from './media/mesh';
import type { MediaSession, RemoteMedia } from './media/session';
import { Transcriber } from './media/transcriber';
import { type Ending, RoomSocket, type SocketStatus } from './roomSocket';
import { Observable } from './store';
import type {
  ChatMessage,
  Identity,
  MediaAccess,
  Participant,
  RoomEvent,
  RoomSession,
  TranscriptionState,
  TranscriptSegment,
} from './types';

export type MeetingEnding = Ending | 'otherTab';

export interface Notice {
  id: number;
  key: string; // an i18n key
  params?: Record<string, unknown>;
  tone: 'info' | 'error';
}

export interface MeetingState {
  status: SocketStatus;
  room: RoomSession;
  you: Participant;
  participants: Participant[];
  messages: ChatMessage[];
  typing: Array<{ id: string; name: string; until: number }>;
  unread: number;
  transcript: TranscriptSegment[];
  transcription: TranscriptionState | null;
  transcribing: boolean; // this tab is streaming its microphone
  remotes: Map<string, RemoteMedia>;
  mediaMode: 'mesh' | 'livekit' | null;
  mediaError: string | null;
  ending: MeetingEnding | null;
  notices: Notice[];
}

const byJoin = (a: Participant, b: Participant) =>
  a.joined_at < b.joined_at ? -1 : a.joined_at > b.joined_at ? 1 : a.participant_id < b.participant_id ? -1 : 1;
const byId = (a: ChatMessage, b: ChatMessage) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The error code a failed action had, for a notice. */
export function errorCode(error: unknown): { key: string; params?: Record<string, unknown> } {
  if (error instanceof ApiError) return { key: `errors.${error.code}`, params: { ...error.details, code: error.code } };
  return { key: 'errors.generic', params: { code: String(error) } };
}

export class Meeting extends Observable<MeetingState> {
  private socket: RoomSocket;
  private media: MediaSession | null = null;
  private transcriber: Transcriber | null = null;
  private loaded = false;
  private chatOpen = false;
  private lastTyping = 0;
  private typingTimer = 0;
  private noticeId = 0;
  private unsubscribeLocal = () => {};
  private mediaStarted = false;
  /** Media access that came with the join: used for the first start, saving a request. */
  private joinedMedia: MediaAccess | null;

  constructor(
    room: RoomSession,
    private readonly identity: Identity,
    private readonly local: LocalMedia,
  ) {
    super({
      status: 'connecting',
      room,
      you: room.you,
      participants: [room.you],
      messages: [],
      typing: [],
      unread: 0,
      transcript: [],
      transcription: null,
      transcribing: false,
      remotes: new Map(),
      mediaMode: null,
      mediaError: null,
      ending: null,
      notices: [],
    });
    this.joinedMedia = room.media ?? null;
    this.socket = new RoomSocket(room.id, identity.token, {
      onEvent: (event) => this.onEvent(event),
      onStatus: (status) => this.set({ status }),
      onEnd: (ending, code) =>
        this.finish(ending === 'left' ? 'otherTab' : code === 'not_a_participant' ? 'left' : ending),
    });
  }

  get roomId() {
    return this.state.room.id;
  }

  get isHost() {
    return this.state.you.role === 'host';
  }

  /** The peer connections of mesh mode, by participant id (tests read their stats). */
  get peerConnections(): Map<string, RTCPeerConnection> {
    const peers = new Map<string, RTCPeerConnection>();
    if (this.media instanceof MeshSession) for (const [id, peer] of this.media.peers) peers.set(id, peer.pc);
    return peers;
  }

  start() {
    if (this.state.ending) return;
    this.unsubscribeLocal = this.local.subscribe(() => this.publishLocal(this.local.snapshot));
    this.socket.start();
    window.addEventListener('online', this.onOnline);
    window.addEventListener('pagehide', this.onPageHide);
    this.typingTimer = window.setInterval(() => this.expireTyping(), 1000);
  }

  private onOnline = () => this.socket.retryNow();

  /** Closing the tab leaves the meeting, so others do not wait for someone who is gone.
   * fetch with keepalive outlives the page and, unlike sendBeacon, can carry the credential. */
  private onPageHide = () => {
    if (this.state.ending) return;
    void fetch(`/api/v1/rooms/${this.roomId}/leave`, {
      method: 'POST',
      keepalive: true,
      headers: { 'X-Participant-ID': this.identity.token },
    }).catch(() => undefined);
  };

  dispose() {
    this.socket.stop();
    this.media?.close();
    this.media = null;
    this.mediaStarted = false;
    this.transcriber?.stop();
    this.transcriber = null;
    this.unsubscribeLocal();
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('pagehide', this.onPageHide);
    clearInterval(this.typingTimer);
  }

  private finish(ending: MeetingEnding) {
    if (this.state.ending) return;
    this.set({ ending });
    this.dispose();
  }

  notify(key: string, params?: Record<string, unknown>, tone: Notice['tone'] = 'info') {
    const notice = { id: ++this.noticeId, key, params, tone };
    this.set({ notices: [...this.state.notices, notice].slice(-3) });
    window.setTimeout(() => this.set({ notices: this.state.notices.filter((n) => n.id !== notice.id) }), 4000);
  }

  private fail(error: unknown) {
    const { key, params } = errorCode(error);
    this.notify(key, params, 'error');
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
        this.addMessage(event.message);
        break;
      case 'message.edited':
        this.set({ messages: this.state.messages.map((m) => (m.id === event.message.id ? event.message : m)) });
        break;
      case 'message.deleted':
        this.set({ messages: this.state.messages.filter((m) => m.id !== event.message_id) });
        break;
      case 'participant.joined':
        this.setParticipants([
          ...this.state.participants.filter((p) => p.participant_id !== event.participant.participant_id),
          event.participant,
        ]);
        break;
      case 'participant.left':
        if (event.participant_id === this.state.you.participant_id) {
          this.finish(event.reason === 'removed' ? 'removed' : event.reason === 'room_ended' ? 'ended' : 'left');
          return;
        }
        this.setParticipants(this.state.participants.filter((p) => p.participant_id !== event.participant_id));
        if (this.media instanceof MeshSession) this.media.remove(event.participant_id);
        this.set({ typing: this.state.typing.filter((t) => t.id !== event.participant_id) });
        break;
      case 'participant.updated': {
        const updated = event.participant;
        this.setParticipants(
          this.state.participants.map((p) => (p.participant_id === updated.participant_id ? updated : p)),
        );
        if (updated.participant_id === this.state.you.participant_id) this.set({ you: updated });
        break;
      }
      case 'host.changed': {
        const hostId = event.host.participant_id;
        const participants = this.state.participants.map((p) =>
          p.participant_id === hostId
            ? { ...p, role: 'host' as const }
            : p.role === 'host'
              ? { ...p, role: 'participant' as const }
              : p,
        );
        if (!participants.some((p) => p.participant_id === hostId)) participants.push(event.host);
        this.setParticipants(participants);
        const you = participants.find((p) => p.participant_id === this.state.you.participant_id);
        if (you) this.set({ you });
        break;
      }
      case 'room.updated':
        this.set({ room: { ...this.state.room, locked: event.locked } });
        break;
      case 'room.ended':
        this.finish('ended');
        break;
      case 'typing':
        if (event.participant_id !== this.state.you.participant_id)
          this.set({
            typing: [
              ...this.state.typing.filter((t) => t.id !== event.participant_id),
              { id: event.participant_id, name: event.display_name, until: Date.now() + 4000 },
            ],
          });
        break;
      case 'signal.offer':
      case 'signal.answer':
      case 'signal.ice':
        if (this.media instanceof MeshSession) this.media.handleSignal(event);
        break;
      case 'media.mute_requested':
        if (event.to === this.state.you.participant_id) {
          if (event.kind !== 'video') this.local.setMic(false);
          if (event.kind !== 'audio') void this.local.setCam(false);
          this.notify('room.muteRequested');
        }
        break;
      case 'transcription.updated':
        this.set({
          transcription: this.state.transcription
            ? { ...this.state.transcription, status: event.status, host_id: event.host_id }
            : null,
        });
        if (event.status === 'idle' && this.transcriber) this.transcriber.stop();
        if (!this.state.transcription) void this.loadTranscription();
        break;
      case 'transcript.partial':
      case 'transcript.final':
        this.upsertSegment({
          utterance_id: event.utterance_id,
          participant_id: event.participant_id,
          text: event.text,
          started_at: event.start,
          final: event.type === 'transcript.final',
        });
        break;
      case 'error':
        if (event.code === 'rate_limited' || event.code === 'validation_failed')
          this.notify(`errors.${event.code}`, {}, 'error');
        break;
    }
  }

  private async onReady() {
    if (!this.loaded) {
      this.loaded = true;
      await this.reload();
    } else {
      await this.loadParticipants();
    }
    if (!this.mediaStarted) {
      this.mediaStarted = true;
      void this.startMedia();
    }
    if (this.media instanceof MeshSession) this.media.sync();
  }

  /** Everything from REST: on the first connect, and when the socket says we missed too much. */
  private async reload() {
    await Promise.all([this.loadParticipants(), this.loadMessages(), this.loadTranscription(), this.loadTranscript()]);
  }

  private async loadParticipants() {
    try {
      const { items } = await api.participants(this.roomId);
      this.setParticipants(items);
      const you = items.find((p) => p.participant_id === this.state.you.participant_id);
      if (you) this.set({ you });
    } catch (error) {
      if (error instanceof ApiError && error.code === 'removed_from_room') this.finish('removed');
      else if (error instanceof ApiError && error.code === 'room_ended') this.finish('ended');
    }
  }

  private setParticipants(list: Participant[]) {
    const participants = [...list].sort(byJoin);
    this.set({ participants });
    if (this.media instanceof MeshSession) this.media.setParticipants(participants);
  }

  private async loadMessages() {
    try {
      const { items } = await api.messages(this.roomId);
      const known = new Map(items.map((m) => [m.id, m]));
      // Keep anything that arrived on the socket while the page was loading.
      for (const m of this.state.messages) if (!known.has(m.id)) known.set(m.id, m);
      this.set({ messages: [...known.values()].sort(byId) });
    } catch {
      /* the socket still brings new messages */
    }
  }

  private async loadTranscription() {
    try {
      this.set({ transcription: await api.transcription(this.roomId) });
    } catch {
      this.set({ transcription: null });
    }
  }

  private async loadTranscript() {
    try {
      const segments: TranscriptSegment[] = [];
      let after: number | undefined;
      for (let page = 0; page < 20; page++) {
        const result = await api.transcripts(this.roomId, after);
        for (const item of result.items)
          segments.push({
            utterance_id: item.utterance_id,
            participant_id: item.participant_id,
            display_name: item.display_name,
            text: item.text,
            started_at: item.started_at,
            final: true,
          });
        if (!result.has_more || result.next_after === null) break;
        after = result.next_after;
      }
      const byUtterance = new Map(segments.map((s) => [s.utterance_id, s]));
      for (const s of this.state.transcript)
        if (!byUtterance.has(s.utterance_id) || !s.final) byUtterance.set(s.utterance_id, s);
      this.set({ transcript: [...byUtterance.values()].sort((a, b) => a.started_at - b.started_at) });
    } catch {
      /* transcripts are optional */
    }
  }

  private upsertSegment(segment: TranscriptSegment) {
    const existing = this.state.transcript.find((s) => s.utterance_id === segment.utterance_id);
    if (existing?.final && !segment.final) return; // a late partial never replaces the final text
    const transcript = existing
      ? this.state.transcript.map((s) =>
          s.utterance_id === segment.utterance_id ? { ...segment, display_name: s.display_name } : s,
        )
      : [...this.state.transcript, segment].sort((a, b) => a.started_at - b.started_at);
    this.set({ transcript });
  }

  // -- chat ---------------------------------------------------------------------------------

  private addMessage(message: ChatMessage) {
    if (this.state.messages.some((m) => m.id === message.id)) return;
    const messages = [...this.state.messages, message].sort(byId);
    const fromOthers = message.participant_id !== this.state.you.participant_id && message.message_type === 'user';
    this.set({
      messages,
      unread: this.chatOpen || !fromOthers ? this.state.unread : this.state.unread + 1,
      typing: this.state.typing.filter((t) => t.id !== message.participant_id),
    });
  }

  setChatOpen(open: boolean) {
    this.chatOpen = open;
    if (open && this.state.unread) this.set({ unread: 0 });
  }

  async sendMessage(content: string) {
    const text = content.trim();
    if (!text) return;
    if (this.socket.send({ type: 'message.send', content: text, client_id: crypto.randomUUID().slice(0, 32) })) return;
    try {
      this.addMessage(await api.sendMessage(this.roomId, text));
    } catch (error) {
      this.fail(error);
    }
  }

  async editMessage(id: string, content: string) {
    try {
      const message = await api.editMessage(this.roomId, id, content.trim());
      this.set({ messages: this.state.messages.map((m) => (m.id === id ? message : m)) });
    } catch (error) {
      this.fail(error);
    }
  }

  async deleteMessage(id: string) {
    try {
      await api.deleteMessage(this.roomId, id);
      this.set({ messages: this.state.messages.filter((m) => m.id !== id) });
    } catch (error) {
      this.fail(error);
    }
  }

  typing() {
    const now = Date.now();
    if (now - this.lastTyping < 2500) return;
    this.lastTyping = now;
    this.socket.send({ type: 'typing' });
  }

  private expireTyping() {
    const now = Date.now();
    if (this.state.typing.some((t) => t.until <= now))
      this.set({ typing: this.state.typing.filter((t) => t.until > now) });
  }

  // -- media --------------------------------------------------------------------------------

  private async startMedia() {
    try {
      const access = this.joinedMedia ?? (await api.mediaToken(this.roomId));
      this.joinedMedia = null;
      const stale = () => !this.mediaStarted || !!this.state.ending;
      if (stale()) return;
      const callbacks = {
        onRemotes: (remotes: Map<string, RemoteMedia>) => this.set({ remotes }),
        onForcedMute: (kind: 'audio' | 'video') => {
          if (kind === 'audio') this.local.setMic(false);
          else void this.local.setCam(false);
          this.notify('room.muteRequested');
        },
        onError: (message: string) => this.set({ mediaError: message }),
      };
      if (access.mode === 'livekit' && access.url && access.token) {
        // livekit-client is only downloaded by rooms that use it.
        const { LiveKitSession } = await import('./media/livekit');
        if (stale()) return;
        const session = new LiveKitSession(callbacks);
        this.media = session;
        this.set({ mediaMode: 'livekit' });
        session.updateLocal(this.localTracks(this.local.snapshot));
        await session.connect(access.url, access.token);
      } else {
        const config = await api.webrtcConfig();
        if (stale()) return;
        const mesh = new MeshSession(
          this.state.you.participant_id,
          (frame) => this.socket.send(frame),
          { iceServers: config.iceServers },
          callbacks,
        );
        this.media = mesh;
        this.set({ mediaMode: 'mesh' });
        mesh.setParticipants(this.state.participants);
        mesh.updateLocal(this.localTracks(this.local.snapshot));
        mesh.sync();
      }
    } catch (error) {
      this.set({ mediaError: error instanceof ApiError ? error.code : String(error) });
    }
  }

  private localTracks(state: LocalState) {
    return { audio: state.audio, video: state.video, screen: state.screen, mic: state.mic, cam: state.cam };
  }

  private publishLocal(state: LocalState) {
    this.media?.updateLocal(this.localTracks(state));
    if (state.audio) this.transcriber?.setTrack(state.audio);
  }

  // -- transcription ------------------------------------------------------------------------

  async startTranscription() {
    const audio = this.local.snapshot.audio;
    if (!audio) {
      this.notify('errors.no_microphone', {}, 'error');
      return;
    }
    try {
      const started = await api.startTranscription(this.roomId);
      this.set({ transcription: started });
      this.transcriber = await Transcriber.start(audio, socketUrl(started.worker_url, started.token), (code) => {
        this.transcriber = null;
        this.set({ transcribing: false });
        // 1000: stopped; 4409: stopped elsewhere (the API, a new transcription host).
        if (code === 4408) this.notify('errors.transcription_limit_reached', {}, 'error');
        else if (code === 1011 || code === 1012) this.notify('errors.transcription_unavailable', {}, 'error');
        else if (code !== 1000 && code !== 4409) this.notify('errors.generic', { code: `worker ${code}` }, 'error');
      });
      this.set({ transcribing: true });
    } catch (error) {
      this.fail(error);
      if (this.state.transcription?.status === 'active') void api.stopTranscription(this.roomId).catch(() => undefined);
    }
  }

  async stopTranscription() {
    if (this.transcriber?.open) {
      this.transcriber.stop();
      return;
    }
    try {
      this.set({ transcription: await api.stopTranscription(this.roomId) });
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'transcription_not_active')) this.fail(error);
    }
  }

  // -- host actions -------------------------------------------------------------------------

  private async hostAction(action: () => Promise<unknown>) {
    try {
      await action();
    } catch (error) {
      this.fail(error);
    }
  }

  endMeeting = () => this.hostAction(() => api.end(this.roomId));
  setLocked = (locked: boolean) =>
    this.hostAction(async () => {
      const room = await api.lock(this.roomId, locked);
      this.set({ room: { ...this.state.room, locked: room.locked } });
    });
  removeParticipant = (id: string) => this.hostAction(() => api.remove(this.roomId, id));
  muteParticipant = (id: string) => this.hostAction(() => api.mute(this.roomId, id, 'audio'));
  makeHost = (id: string) => this.hostAction(() => api.transferHost(this.roomId, id));
  makeTranscriber = (id: string) =>
    this.hostAction(async () => this.set({ transcription: await api.designateTranscriber(this.roomId, id) }));

  async leave() {
    this.transcriber?.stop();
    this.socket.stop(); // our own leave closes the socket with 1000: not "left from another tab"
    try {
      await api.leave(this.roomId);
    } catch {
      /* leaving always ends this tab's meeting */
    }
    this.finish('left');
  }
}
