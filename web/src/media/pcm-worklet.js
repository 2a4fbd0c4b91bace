// AudioWorklet: `channels` speakers (one per input channel, kept apart), downsampled to
// 16 kHz, as interleaved PCM16 chunks of `chunkSamples` frames (1600 = 100 ms) posted to the
// main thread. With one channel and a stereo microphone, the input's channels are mixed down.
class Pcm16Downsampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const config = (options && options.processorOptions) || {};
    this.step = sampleRate / (config.targetRate || 16000);
    this.size = config.chunkSamples || 1600;
    this.channels = config.channels || 1;
    this.chunk = new Int16Array(this.size * this.channels);
    this.filled = 0; // frames in the chunk
    this.position = 0; // how far into the current output frame we are, in input samples
    this.sums = new Float64Array(this.channels);
    this.count = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const frames = input[0].length;
    const channels = this.channels;
    for (let i = 0; i < frames; i++) {
      if (channels === 1) {
        let sample = 0;
        for (let c = 0; c < input.length; c++) sample += input[c][i];
        this.sums[0] += sample / input.length;
      } else {
        // A channel without audio (nothing connected to it yet) is silence.
        for (let c = 0; c < channels; c++) this.sums[c] += c < input.length ? input[c][i] : 0;
      }
      // Averaging the input samples that make up one output sample is a simple low-pass,
      // enough to keep speech from aliasing.
      this.count += 1;
      this.position += 1;
      if (this.position >= this.step) {
        this.position -= this.step;
        const at = this.filled * channels;
        for (let c = 0; c < channels; c++) {
          const value = Math.max(-1, Math.min(1, this.sums[c] / this.count));
          this.chunk[at + c] = value < 0 ? value * 0x8000 : value * 0x7fff;
          this.sums[c] = 0;
        }
        this.count = 0;
        this.filled += 1;
        if (this.filled === this.size) {
          this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);
          this.chunk = new Int16Array(this.size * channels);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor('pcm16-downsampler', Pcm16Downsampler);
