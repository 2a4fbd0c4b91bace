// Who is speaking: an AnalyserNode per audio track, sampled ten times a second. The loudest
// voice above a threshold is the active speaker, kept for a moment so the highlight does not
// flicker between words.
import { Observable } from '../store';

interface Meter {
  track: MediaStreamTrack;
  source: MediaStreamAudioSourceNode;
  analyser: AnalyserNode;
  data: Float32Array<ArrayBuffer>;
}

interface Levels {
  speaking: Set<string>; // ids whose level is above the threshold now
  active: string | null; // the active speaker
}

const THRESHOLD = 0.015;
const HOLD_MS = 1200;

export class SpeakingDetector extends Observable<Levels> {
  private context: AudioContext | null = null;
  private meters = new Map<string, Meter>();
  private timer = 0;
  private lastHeard = new Map<string, number>();

  constructor() {
    super({ speaking: new Set(), active: null });
  }

  /** Track the audio of `id` (null stops tracking it). */
  watch(id: string, track: MediaStreamTrack | null) {
    const current = this.meters.get(id);
    if (current?.track === track) return;
    if (current) {
      current.source.disconnect();
      this.meters.delete(id);
    }
    if (!track || track.readyState === 'ended') return;
    try {
      this.context ??= new AudioContext();
      if (this.context.state === 'suspended') void this.context.resume();
      const source = this.context.createMediaStreamSource(new MediaStream([track]));
      const analyser = this.context.createAnalyser();
      analyser.fftSize = 512;
      source.connect(analyser);
      this.meters.set(id, { track, source, analyser, data: new Float32Array(analyser.fftSize) });
      this.timer ||= window.setInterval(() => this.sample(), 100);
    } catch {
      /* no WebAudio: no highlight */
    }
  }

  private sample() {
    const now = performance.now();
    const speaking = new Set<string>();
    let loudest: string | null = null;
    let loudestLevel = 0;
    for (const [id, meter] of this.meters) {
      if (!meter.track.enabled || meter.track.muted) continue;
      meter.analyser.getFloatTimeDomainData(meter.data);
      let sum = 0;
      for (const value of meter.data) sum += value * value;
      const level = Math.sqrt(sum / meter.data.length);
      if (level > THRESHOLD) {
        speaking.add(id);
        this.lastHeard.set(id, now);
        if (level > loudestLevel) {
          loudest = id;
          loudestLevel = level;
        }
      }
    }
    let active = this.state.active;
    if (loudest) active = loudest;
    else if (active && now - (this.lastHeard.get(active) ?? 0) > HOLD_MS) active = null;
    const same =
      active === this.state.active &&
      speaking.size === this.state.speaking.size &&
      [...speaking].every((id) => this.state.speaking.has(id));
    if (!same) this.set({ speaking, active });
  }

  close() {
    clearInterval(this.timer);
    for (const meter of this.meters.values()) meter.source.disconnect();
    this.meters.clear();
    void this.context?.close();
    this.context = null;
  }
}
