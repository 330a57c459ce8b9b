// Speaker AudioWorklet: plays the bridge's 20 ms Int16LE frames in order through a small
// jitter buffer, with the bridge's marks queued in line with the audio so a mark is reported
// exactly when everything before it has been played.
//
// Port messages in:  {type: "audio", buffer: ArrayBuffer, arrivedAt: <context seconds>}
//                    {type: "mark", name}   {type: "clear"}   "stop"
// Port messages out: {type: "report", marks: [name...], delays: [ms...], underruns: n}
//   delays: per frame, context time from its arrival in the page to the render quantum
//   (and sample) where it started playing.
/* global sampleRate, currentTime, registerProcessor, AudioWorkletProcessor */

const FRAME_MS = 20;
const PREBUFFER_MS = 40;

/** The jitter buffer itself; pure (no audio globals), so it can be exercised alone. */
export class PlayoutQueue {
  constructor(rate) {
    this.rate = rate;
    this.frameSamples = Math.round((rate * FRAME_MS) / 1000);
    this.prebuffer = Math.round((rate * PREBUFFER_MS) / 1000);
    this.items = []; // {audio: Float32Array, pos, arrivedAt} | {mark: name}
    this.head = 0;
    this.queued = 0; // audio samples not yet played
    this.playing = false;
    this.lastWasMark = true; // nothing played yet: running dry is not an underrun
  }

  /** Queue a whole message of PCM; split into frames so each gets its own delay figure. */
  pushAudio(buffer, arrivedAt) {
    const view = new DataView(buffer);
    const total = Math.floor(buffer.byteLength / 2);
    for (let start = 0; start < total; start += this.frameSamples) {
      const n = Math.min(this.frameSamples, total - start);
      const audio = new Float32Array(n);
      for (let i = 0; i < n; i++) audio[i] = view.getInt16((start + i) * 2, true) / 0x8000;
      this.items.push({ audio, pos: 0, arrivedAt });
      this.queued += n;
    }
  }

  pushMark(name) {
    this.items.push({ mark: name });
  }

  /** Drop every queued sample; return all pending marks in order (the page echoes them). */
  clear() {
    const marks = [];
    for (let i = this.head; i < this.items.length; i++) {
      if ("mark" in this.items[i]) marks.push(this.items[i].mark);
    }
    this.items = [];
    this.head = 0;
    this.queued = 0;
    this.playing = false;
    this.lastWasMark = true;
    return marks;
  }

  hasMark() {
    for (let i = this.head; i < this.items.length; i++) if ("mark" in this.items[i]) return true;
    return false;
  }

  /**
   * Fill `out` (already zeroed) starting at context time `now`; report into `report`.
   * Playback (re)starts once 40 ms is queued, or when a mark is queued: a mark ends a stretch
   * of speech, so waiting for more audio before it could stall that mark forever.
   */
  render(out, now, report) {
    let i = 0;
    while (i < out.length) {
      if (!this.playing) {
        if (this.queued >= this.prebuffer || this.hasMark()) this.playing = true;
        else return;
      }
      if (this.head >= this.items.length) {
        if (!this.lastWasMark) report.underruns += 1; // ran dry mid-speech: real underrun
        this.playing = false;
        this.lastWasMark = true;
        this.compact();
        return;
      }
      const item = this.items[this.head];
      if ("mark" in item) {
        report.marks.push(item.mark);
        this.lastWasMark = true;
        this.head += 1;
        continue;
      }
      if (item.pos === 0) {
        report.delays.push(Math.max(0, (now + i / this.rate - item.arrivedAt) * 1000));
      }
      const n = Math.min(out.length - i, item.audio.length - item.pos);
      out.set(item.audio.subarray(item.pos, item.pos + n), i);
      item.pos += n;
      i += n;
      this.queued -= n;
      this.lastWasMark = false;
      if (item.pos === item.audio.length) this.head += 1;
    }
    // Marks right behind the last sample played have been reached too.
    while (this.head < this.items.length && "mark" in this.items[this.head]) {
      report.marks.push(this.items[this.head].mark);
      this.lastWasMark = true;
      this.head += 1;
    }
    this.compact();
  }

  compact() {
    if (this.head > 64 || this.head === this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
  }
}

class SpeakerProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = new PlayoutQueue(sampleRate);
    this.stopped = false;
    this.port.onmessage = (event) => this.receive(event.data);
  }

  receive(msg) {
    if (msg === "stop") {
      this.stopped = true;
    } else if (msg.type === "audio") {
      this.queue.pushAudio(msg.buffer, msg.arrivedAt);
    } else if (msg.type === "mark") {
      this.queue.pushMark(msg.name);
    } else if (msg.type === "clear") {
      const marks = this.queue.clear();
      this.port.postMessage({ type: "report", marks, delays: [], underruns: 0 });
    }
  }

  process(inputs, outputs) {
    if (this.stopped) return false;
    const out = outputs[0][0];
    const report = { type: "report", marks: [], delays: [], underruns: 0 };
    this.queue.render(out, currentTime, report);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (report.marks.length || report.delays.length || report.underruns) {
      this.port.postMessage(report);
    }
    return true;
  }
}

registerProcessor("kallglot-speaker", SpeakerProcessor);
