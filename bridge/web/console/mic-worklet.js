// Mic AudioWorklet: cuts the render blocks (128 samples each) into exact 20 ms frames of
// signed 16-bit little-endian PCM and posts each to the page as a transferable ArrayBuffer.
// Framing lives here, on the audio thread, so the page never sees partial frames and no
// sample is lost or duplicated across block boundaries (960 = 7.5 blocks at 48 kHz).
/* global sampleRate, registerProcessor, AudioWorkletProcessor */

const FRAME_MS = 20;

/** Accumulates float samples into fixed-size Int16LE frames; pure, so it can be tested alone. */
export class Framer {
  constructor(frameSamples, onFrame) {
    this.frameSamples = frameSamples;
    this.onFrame = onFrame;
    this.fill = 0;
    this.fresh();
  }

  fresh() {
    this.buffer = new ArrayBuffer(this.frameSamples * 2);
    this.view = new DataView(this.buffer);
    this.fill = 0;
  }

  /** Append samples (Float32Array, or null for a block of `count` silent samples). */
  push(samples, count) {
    for (let i = 0; i < count; i++) {
      let s = samples ? samples[i] : 0;
      if (!(s === s)) s = 0; // NaN from a broken source becomes silence
      s = s > 1 ? 1 : s < -1 ? -1 : s;
      this.view.setInt16(this.fill * 2, s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff), true);
      this.fill += 1;
      if (this.fill === this.frameSamples) {
        const full = this.buffer;
        this.fresh();
        this.onFrame(full);
      }
    }
  }
}

class MicProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.running = false;
    this.stopped = false;
    const frameSamples = Math.round((sampleRate * FRAME_MS) / 1000);
    this.framer = new Framer(frameSamples, (buffer) => this.port.postMessage(buffer, [buffer]));
    // Frames start flowing only once the media socket has sent its start message.
    this.port.onmessage = (event) => {
      if (event.data === "start") this.running = true;
      if (event.data === "stop") {
        this.running = false;
        this.stopped = true;
      }
    };
  }

  process(inputs, outputs) {
    if (this.stopped) return false;
    const channel = inputs[0] && inputs[0][0];
    // An input with no channels (track ended or not yet connected) still counts as real
    // time passing: the bridge expects one frame every 20 ms, so it gets silence.
    const count = channel ? channel.length : (outputs[0] && outputs[0][0] ? outputs[0][0].length : 128);
    if (this.running) this.framer.push(channel || null, count);
    return true;
  }
}

registerProcessor("kallglot-mic", MicProcessor);
