// The transcription host's side of the transcript: the microphone through an AudioWorklet
// (PCM16 mono 16 kHz, 100 ms chunks) streamed as binary frames to moot's worker socket.
import workletUrl from './pcm-worklet.js?url';

export class Transcriber {
  private stopping = false;

  private constructor(
    private readonly context: AudioContext,
    private readonly socket: WebSocket,
    private readonly nodes: AudioNode[],
    private source: MediaStreamAudioSourceNode,
    private readonly input: AudioWorkletNode,
    private track: MediaStreamTrack,
  ) {}

  /** Keep streaming after the user picked another microphone. */
  setTrack(track: MediaStreamTrack) {
    if (track === this.track || this.context.state === 'closed') return;
    this.source.disconnect();
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.source.connect(this.input);
    this.track = track;
  }

  /** Start streaming `track` to `url` (the worker URL with its token). `onEnd` gets the close code. */
  static async start(track: MediaStreamTrack, url: string, onEnd: (code: number) => void): Promise<Transcriber> {
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error('The transcription worker could not be reached.'));
    });
    const context = new AudioContext();
    await context.audioWorklet.addModule(workletUrl);
    const source = context.createMediaStreamSource(new MediaStream([track]));
    const node = new AudioWorkletNode(context, 'pcm16-downsampler', {
      numberOfOutputs: 1,
      processorOptions: { targetRate: 16000, chunkSamples: 1600 },
    });
    // The worklet only runs when the graph pulls it: route it to a silent output.
    const silence = context.createGain();
    silence.gain.value = 0;
    source.connect(node).connect(silence).connect(context.destination);
    const transcriber = new Transcriber(context, socket, [node, silence], source, node, track);
    node.port.onmessage = (message: MessageEvent<ArrayBuffer>) => {
      if (!transcriber.stopping && socket.readyState === WebSocket.OPEN) socket.send(message.data);
    };
    socket.onclose = (close) => {
      transcriber.teardown();
      onEnd(close.code);
    };
    if (context.state === 'suspended') await context.resume();
    return transcriber;
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
    this.source.disconnect();
    for (const node of this.nodes) node.disconnect();
    if (this.context.state !== 'closed') void this.context.close();
  }
}
