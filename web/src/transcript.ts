// A meeting's live transcript: its lines (partials replaced in place by their final text), the
// transcription's state, and, for the transcription host, streaming every speaker's audio
// (this tab's microphone and each remote participant's track, one channel each).
import { api, ApiError, socketUrl } from './api';
import { CloseCode } from './closeCodes';
import type { LocalMedia } from './media/localMedia';
import { type Speaker, Transcriber } from './media/transcriber';
import type { Notices } from './notices';
import { Observable } from './store';
import type { RoomEvent, TranscriptionState, TranscriptLine } from './types';

export type TranscriptEvent = Extract<
  RoomEvent,
  { type: 'transcription.updated' | 'transcript.partial' | 'transcript.final' | 'transcript.deleted' }
>;

/** Who can be heard in the meeting, yourself first, and a way to hear when that changes. */
export interface SpeakerSource {
  speakers(): Speaker[];
  subscribe(listener: () => void): () => void;
}

export type TranscriptFormat = 'txt' | 'srt' | 'vtt' | 'json';

export interface TranscriptState {
  lines: TranscriptLine[];
  transcription: TranscriptionState | null; // null: not loaded, or transcription is unavailable
  transcribing: boolean; // this tab is streaming its microphone
}

const HISTORY_PAGES = 20;

const byStart = (a: TranscriptLine, b: TranscriptLine) => a.started_at - b.started_at;

export class TranscriptStore extends Observable<TranscriptState> {
  private transcriber: Transcriber | null = null;
  private unsubscribeSpeakers = () => {};
  private capped = false;

  constructor(
    private readonly roomId: string,
    private readonly local: LocalMedia,
    private readonly notices: Notices,
    private readonly voices: SpeakerSource,
  ) {
    super({ lines: [], transcription: null, transcribing: false });
  }

  handle(event: TranscriptEvent) {
    if (event.type === 'transcript.deleted') {
      this.set({ lines: [] });
      this.notices.notify('transcript.deleted');
      return;
    }
    if (event.type === 'transcription.updated') {
      const current = this.state.transcription;
      this.set({ transcription: current ? { ...current, status: event.status, host_id: event.host_id } : null });
      if (event.status === 'idle') this.transcriber?.stop();
      if (!current) void this.loadState();
      return;
    }
    this.upsert({
      utterance_id: event.utterance_id,
      participant_id: event.participant_id,
      text: event.text,
      started_at: event.start,
      final: event.type === 'transcript.final',
      heardAt: Date.now(),
    });
  }

  /** The state and the stored transcript from REST, keeping the lines the socket brought. */
  async load() {
    await Promise.all([this.loadState(), this.loadLines()]);
  }

  private async loadState() {
    try {
      this.set({ transcription: await api.transcription(this.roomId) });
    } catch {
      this.set({ transcription: null });
    }
  }

  private async loadLines() {
    try {
      const lines: TranscriptLine[] = [];
      let after: number | undefined;
      for (let page = 0; page < HISTORY_PAGES; page++) {
        const result = await api.transcripts(this.roomId, after);
        for (const item of result.items)
          lines.push({
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
      const byUtterance = new Map(lines.map((line) => [line.utterance_id, line]));
      for (const line of this.state.lines)
        if (!byUtterance.has(line.utterance_id) || !line.final) byUtterance.set(line.utterance_id, line);
      this.set({ lines: [...byUtterance.values()].sort(byStart) });
    } catch {
      /* transcripts are optional */
    }
  }

  private upsert(line: TranscriptLine) {
    const existing = this.state.lines.find((l) => l.utterance_id === line.utterance_id);
    if (existing?.final && !line.final) return; // a late partial never replaces the final text
    const lines = existing
      ? this.state.lines.map((l) =>
          l.utterance_id === line.utterance_id ? { ...line, display_name: l.display_name } : l,
        )
      : [...this.state.lines, line].sort(byStart);
    this.set({ lines });
  }

  /** Become the transcription host: start the run and stream everyone's audio to the worker. */
  async start() {
    if (!this.local.snapshot.audio && this.voices.speakers().length === 0) {
      this.notices.notify('errors.no_microphone', {}, 'error');
      return;
    }
    try {
      const started = await api.startTranscription(this.roomId);
      this.set({ transcription: started });
      const url = socketUrl(started.worker_url, { token: started.token });
      const transcriber = await Transcriber.start(url, (code) => this.streamEnded(code));
      this.transcriber = transcriber;
      this.capped = false;
      const update = () => transcriber.setSpeakers(this.speakers(started.max_channels));
      update();
      // New people, people leaving, another microphone picked: the channels follow.
      this.unsubscribeSpeakers = this.voices.subscribe(update);
      this.set({ transcribing: true });
    } catch (error) {
      this.notices.fail(error);
      if (this.state.transcription?.status === 'active') void api.stopTranscription(this.roomId).catch(() => undefined);
    }
  }

  /** The speakers to transcribe: the worker takes at most `max` channels (Gladia bills each),
   * so past that the people who came last are not transcribed, and the host is told once. */
  private speakers(max: number): Speaker[] {
    const all = this.voices.speakers();
    if (all.length > max && !this.capped) {
      this.capped = true;
      this.notices.notify('transcript.capped', { count: max });
    }
    return all.slice(0, max);
  }

  private streamEnded(code: number) {
    this.transcriber = null;
    this.unsubscribeSpeakers();
    this.set({ transcribing: false });
    // NORMAL: stopped here; NOT_ACTIVE: stopped elsewhere (the API, a new transcription host).
    if (code === CloseCode.TIME_USED_UP) this.notices.notify('errors.transcription_limit_reached', {}, 'error');
    else if (code === CloseCode.INTERNAL || code === CloseCode.RESTART)
      this.notices.notify('errors.transcription_unavailable', {}, 'error');
    else if (code !== CloseCode.NORMAL && code !== CloseCode.NOT_ACTIVE)
      this.notices.notify('errors.generic', { code: `worker ${code}` }, 'error');
  }

  /** Stop: the streaming tab lets the worker finish the last words; anyone else asks the API. */
  async stop() {
    if (this.transcriber?.open) {
      this.transcriber.stop();
      return;
    }
    try {
      this.set({ transcription: await api.stopTranscription(this.roomId) });
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'transcription_not_active')) this.notices.fail(error);
    }
  }

  /** The host hands the transcription to someone else. */
  async designate(participantId: string) {
    try {
      this.set({ transcription: await api.designateTranscriber(this.roomId, participantId) });
    } catch (error) {
      this.notices.fail(error);
    }
  }

  download(format: TranscriptFormat) {
    void api.exportTranscript(this.roomId, format);
  }

  /** The host deletes the transcript for everyone (the socket's `transcript.deleted` clears it). */
  async deleteTranscript() {
    try {
      await api.deleteTranscript(this.roomId);
      this.set({ lines: [] });
    } catch (error) {
      this.notices.fail(error);
    }
  }

  dispose() {
    this.transcriber?.stop();
    this.transcriber = null;
    this.unsubscribeSpeakers();
  }
}
