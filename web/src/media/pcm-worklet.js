// AudioWorklet: the microphone, mixed to mono, downsampled to 16 kHz, as PCM16 chunks of
// `chunkSamples` samples (1600 = 100 ms = 3200 bytes) posted to the main thread.
class Pcm16Downsampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const config = (options && options.processorOptions) || {};
    this.step = sampleRate / (config.targetRate || 16000);
    this.size = config.chunkSamples || 1600;
    this.chunk = new Int16Array(this.size);
    this.filled = 0;
    this.position = 0; // how far into the current output sample we are, in input samples
    this.sum = 0;
    this.count = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const channels = input.length;
    const frames = input[0].length;
    for (let i = 0; i < frames; i++) {
      let sample = 0;
      for (let c = 0; c < channels; c++) sample += input[c][i];
      // Averaging the input samples that make up one output sample is a simple low-pass,
      // enough to keep speech from aliasing.
      this.sum += sample / channels;
      this.count += 1;
      this.position += 1;
      if (this.position >= this.step) {
        this.position -= this.step;
        const value = Math.max(-1, Math.min(1, this.sum / this.count));
        this.sum = 0;
        this.count = 0;
        this.chunk[this.filled++] = value < 0 ? value * 0x8000 : value * 0x7fff;
        if (this.filled === this.size) {
          this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);
          this.chunk = new Int16Array(this.size);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor('pcm16-downsampler', Pcm16Downsampler);
