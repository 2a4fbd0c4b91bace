// The transcription host's side of the transcript: every speaker's audio (this tab's microphone
// and each remote participant's track, in mesh or LiveKit mode alike) as one channel each,
// through an AudioWorklet (PCM16 16 kHz, 100 ms chunks, channels interleaved), streamed as
// binary frames to moot's worker socket. A `channels` text frame names the speakers before
// their audio and again whenever the list changes, so the worker can say who said what.
import workletUrl from './pcm-worklet.js?url';

export interface Speaker {
  id: string; // public participant id
  track: MediaStreamTrack;
}

/** One layout of the audio graph: these speakers, in this order, into one worklet. */
interface Graph {
  ids: string[];
  tracks: MediaStreamTrack[];
  sources: AudioNode[];
  node: AudioWorkletNode;
}

export class Transcriber {
  private stopping = false;
  private graph: Graph | null = null;

  private constructor(
    private readonly context: AudioContext,
    private readonly socket: WebSocket,
    private readonly silence: GainNode,
  ) {}

  /** Connect to `url` (the worker URL with its token). `onEnd` gets the close code. */
  static async start(url: string, onEnd: (code: number) => void): Promise<Transcriber> {
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error('The transcription worker could not be reached.'));
    });
    const context = new AudioContext();
    await context.audioWorklet.addModule(workletUrl);
    // The worklet only runs when the graph pulls it: route it to a silent output.
    const silence = context.createGain();
    silence.gain.value = 0;
    silence.connect(context.destination);
    const transcriber = new Transcriber(context, socket, silence);
    socket.onclose = (close) => {
      transcriber.teardown();
      onEnd(close.code);
    };
    if (context.state === 'suspended') await context.resume();
    return transcriber;
  }

  /** Transcribe these speakers, one channel each, in this order. A new list of people is
   * announced with a `channels` frame; a new track for the same person (another microphone
   * picked) only rewires the graph. */
  setSpeakers(speakers: Speaker[]) {
    if (this.stopping || this.context.state === 'closed' || speakers.length === 0) return;
    const ids = speakers.map((s) => s.id);
    const tracks = speakers.map((s) => s.track);
    const current = this.graph;
    const sameIds = current !== null && current.ids.join() === ids.join();
    if (sameIds && current.tracks.every((track, i) => track === tracks[i])) return;
    const node = sameIds ? current.node : this.newNode(ids.length);
    if (current) {
      for (const source of current.sources) source.disconnect();
      if (!sameIds) {
        // Chunks of the old layout still on their way are dropped, not sent as the new one.
        current.node.port.onmessage = null;
        current.node.disconnect();
      }
    }
    const merger = this.context.createChannelMerger(ids.length);
    const sources: AudioNode[] = [merger];
    tracks.forEach((track, channel) => {
      const source = this.context.createMediaStreamSource(new MediaStream([track]));
      // Each speaker is one channel: a stereo microphone is mixed down to mono first.
      const mono = this.context.createGain();
      mono.channelCount = 1;
      mono.channelCountMode = 'explicit';
      mono.channelInterpretation = 'speakers';
      source.connect(mono).connect(merger, 0, channel);
      sources.push(source, mono);
    });
    merger.connect(node);
    if (!sameIds) {
      if (this.socket.readyState === WebSocket.OPEN)
        this.socket.send(JSON.stringify({ type: 'channels', participant_ids: ids }));
      node.connect(this.silence);
      node.port.onmessage = (message: MessageEvent<ArrayBuffer>) => {
        if (!this.stopping && this.socket.readyState === WebSocket.OPEN) this.socket.send(message.data);
      };
    }
    this.graph = { ids, tracks, sources, node };
  }

  private newNode(channels: number): AudioWorkletNode {
    return new AudioWorkletNode(this.context, 'pcm16-downsampler', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: channels,
      channelCountMode: 'explicit',
      channelInterpretation: 'discrete',
      processorOptions: { targetRate: 16000, chunkSamples: 1600, channels },
    });
  }

  /** Ask the worker to finish: it relays the last words, then closes the socket. */
  stop() {
    this.stopping = true;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: 'stop' }));
    else this.teardown();
  }

  get open() {
    return this.socket.readyState === WebSocket.OPEN;
  }

  private teardown() {
    if (this.graph) {
      for (const source of this.graph.sources) source.disconnect();
      this.graph.node.port.onmessage = null;
      this.graph.node.disconnect();
      this.graph = null;
    }
    this.silence.disconnect();
    if (this.context.state !== 'closed') void this.context.close();
  }
}
