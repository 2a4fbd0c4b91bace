// This browser's camera, microphone and screen: one place that owns the tracks, shared by the
// pre-join preview and the meeting. The microphone is muted by disabling its track (instant,
// and the transcript keeps a steady stream); the camera is stopped when off, so its light goes out.
import { Observable } from '../store';

export type MediaProblem = 'denied' | 'nodevice' | 'error' | null;

export interface LocalState {
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
  screen: MediaStreamTrack | null;
  mic: boolean; // the user wants the mic on
  cam: boolean; // the user wants the camera on
  audioDevices: MediaDeviceInfo[];
  videoDevices: MediaDeviceInfo[];
  audioDeviceId: string;
  videoDeviceId: string;
  problem: MediaProblem;
  problemMessage: string;
  starting: boolean;
}

const PREFS = 'moot.media';

interface Prefs {
  mic: boolean;
  cam: boolean;
  audioDeviceId: string;
  videoDeviceId: string;
}

function loadPrefs(): Prefs {
  const fallback: Prefs = { mic: true, cam: true, audioDeviceId: '', videoDeviceId: '' };
  try {
    return { ...fallback, ...(JSON.parse(localStorage.getItem(PREFS) ?? '{}') as Partial<Prefs>) };
  } catch {
    return fallback;
  }
}

const VIDEO: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
const AUDIO: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** `base`, preferring the device last used (if any). */
const preferring = (base: MediaTrackConstraints, deviceId: string): MediaTrackConstraints =>
  deviceId ? { ...base, deviceId: { ideal: deviceId } } : base;

export class LocalMedia extends Observable<LocalState> {
  constructor() {
    const prefs = loadPrefs();
    super({
      audio: null,
      video: null,
      screen: null,
      mic: prefs.mic,
      cam: prefs.cam,
      audioDevices: [],
      videoDevices: [],
      audioDeviceId: prefs.audioDeviceId,
      videoDeviceId: prefs.videoDeviceId,
      problem: null,
      problemMessage: '',
      starting: false,
    });
  }

  private save() {
    const { mic, cam, audioDeviceId, videoDeviceId } = this.state;
    localStorage.setItem(PREFS, JSON.stringify({ mic, cam, audioDeviceId, videoDeviceId }));
  }

  /** Ask for the devices: both at once (one permission prompt), then each alone if one is missing. */
  async start() {
    if (this.state.starting) return;
    this.set({ starting: true, problem: null, problemMessage: '' });
    const audio = preferring(AUDIO, this.state.audioDeviceId);
    const video = preferring(VIDEO, this.state.videoDeviceId);
    let audioTrack: MediaStreamTrack | null = null;
    let videoTrack: MediaStreamTrack | null = null;
    let failure: unknown = null;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio, video: this.state.cam ? video : false });
      audioTrack = stream.getAudioTracks()[0] ?? null;
      videoTrack = stream.getVideoTracks()[0] ?? null;
    } catch (error) {
      failure = error;
      if (!isDenied(error)) {
        audioTrack = await this.single('audio', audio);
        if (this.state.cam) videoTrack = await this.single('video', video);
        if (audioTrack || videoTrack) failure = null;
      }
    }
    if (audioTrack) audioTrack.enabled = this.state.mic;
    this.set({
      audio: audioTrack,
      video: videoTrack,
      starting: false,
      problem: failure ? (isDenied(failure) ? 'denied' : isMissing(failure) ? 'nodevice' : 'error') : null,
      problemMessage: failure instanceof Error ? failure.message : '',
    });
    await this.refreshDevices();
  }

  private async single(kind: 'audio' | 'video', constraints: MediaTrackConstraints) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraints });
      return stream.getTracks()[0] ?? null;
    } catch {
      return null;
    }
  }

  /** Ask again for a device that is missing (blocked, absent, or failed): the microphone or
   * camera button of a participant who denied them, after they allowed it in the browser's
   * site settings. On success the device is on; returns whether it worked. */
  async requestAccess(kind: 'audio' | 'video'): Promise<boolean> {
    const constraints =
      kind === 'audio' ? preferring(AUDIO, this.state.audioDeviceId) : preferring(VIDEO, this.state.videoDeviceId);
    let track: MediaStreamTrack | null;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraints });
      track = stream.getTracks()[0] ?? null;
    } catch (failure) {
      this.set({
        problem: isDenied(failure) ? 'denied' : isMissing(failure) ? 'nodevice' : 'error',
        problemMessage: failure instanceof Error ? failure.message : '',
      });
      return false;
    }
    if (!track) return false;
    const other = kind === 'audio' ? this.state.video : this.state.audio;
    // The other device may have been blocked too: now that one was allowed, ask for it as well.
    const wantOther = kind === 'audio' ? this.state.cam : true;
    if (kind === 'audio') {
      this.state.audio?.stop();
      this.set({ audio: track, mic: true });
    } else {
      this.state.video?.stop();
      this.set({ video: track, cam: true });
    }
    track.enabled = true;
    if (!other && wantOther && this.state.problem === 'denied') {
      const otherTrack =
        kind === 'audio'
          ? await this.single('video', preferring(VIDEO, this.state.videoDeviceId))
          : await this.single('audio', preferring(AUDIO, this.state.audioDeviceId));
      if (otherTrack && kind === 'audio') this.set({ video: otherTrack });
      if (otherTrack && kind === 'video') {
        otherTrack.enabled = this.state.mic;
        this.set({ audio: otherTrack });
      }
    }
    this.set({ problem: this.state.audio && (this.state.video || !this.state.cam) ? null : this.state.problem });
    this.save();
    await this.refreshDevices();
    return true;
  }

  async refreshDevices() {
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      const named = (kind: MediaDeviceKind) => devices.filter((d) => d.kind === kind && d.deviceId);
      this.set({
        audioDevices: named('audioinput'),
        videoDevices: named('videoinput'),
        audioDeviceId: this.state.audio?.getSettings().deviceId ?? this.state.audioDeviceId,
        videoDeviceId: this.state.video?.getSettings().deviceId ?? this.state.videoDeviceId,
      });
    } catch {
      /* enumerateDevices is best effort */
    }
  }

  setMic(on: boolean) {
    if (this.state.audio) this.state.audio.enabled = on;
    this.set({ mic: on });
    this.save();
  }

  async setCam(on: boolean) {
    if (!on) {
      this.state.video?.stop();
      this.set({ cam: false, video: null });
    } else {
      this.set({ cam: true });
      const track = await this.single('video', preferring(VIDEO, this.state.videoDeviceId));
      if (!this.state.cam)
        track?.stop(); // turned off again while we waited
      else this.set({ video: track, problem: track ? null : this.state.problem });
    }
    this.save();
  }

  async selectDevice(kind: 'audio' | 'video', deviceId: string) {
    if (kind === 'audio') {
      const track = await this.single('audio', { ...AUDIO, deviceId: { exact: deviceId } });
      if (!track) return;
      track.enabled = this.state.mic;
      this.state.audio?.stop();
      this.set({ audio: track, audioDeviceId: deviceId });
    } else {
      this.set({ videoDeviceId: deviceId });
      if (this.state.cam) {
        const track = await this.single('video', { ...VIDEO, deviceId: { exact: deviceId } });
        if (!track) return;
        this.state.video?.stop();
        this.set({ video: track });
      }
    }
    this.save();
  }

  async startScreen(): Promise<boolean> {
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
      const track = stream.getVideoTracks()[0];
      track.addEventListener('ended', () => this.stopScreen());
      this.set({ screen: track });
      return true;
    } catch {
      return false;
    }
  }

  stopScreen() {
    this.state.screen?.stop();
    this.set({ screen: null });
  }

  stop() {
    for (const track of [this.state.audio, this.state.video, this.state.screen]) track?.stop();
    this.set({ audio: null, video: null, screen: null });
  }
}

function isDenied(error: unknown) {
  return error instanceof DOMException && (error.name === 'NotAllowedError' || error.name === 'SecurityError');
}

function isMissing(error: unknown) {
  return error instanceof DOMException && (error.name === 'NotFoundError' || error.name === 'OverconstrainedError');
}
