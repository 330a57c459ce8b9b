// The agent's audio leg: mic -> worklet -> media WebSocket -> bridge, and bridge -> WebSocket
// -> speaker worklet -> headset. One CallAudio per answered call; it owns every resource it
// opens (AudioContext, mic tracks, socket) and releases all of them in close().

import { parseMessage } from "./api.js";

const STATIC = "/console/static/";
const MIC_CONSTRAINTS = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
};
const KEEP_DELAYS = 2000;
const STOP_GRACE_MS = 2000;

/** Human wording for getUserMedia failures: what went wrong and what the agent can do. */
function micProblem(err) {
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone access was denied; allow the microphone for this page (address bar > site settings) and answer again";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found; plug in a headset and answer again";
    case "NotReadableError":
      return "The microphone is in use by another program; close it and answer again";
    default:
      return `The microphone could not be opened (${err && err.message}); check the headset and answer again`;
  }
}

export class CallAudio {
  /**
   * stats: the shared window.kallglotConsole.stats object, updated in place.
   * onEnded(message): called once when the leg ends for any reason other than close().
   */
  constructor(stats, onEnded) {
    this.stats = stats;
    this.onEnded = onEnded;
    this.ctx = null;
    this.stream = null;
    this.ws = null;
    this.mic = null;
    this.speaker = null;
    this.closed = false;
    this.rate = 48000;
  }

  /** Open the mic and audio graph; done before answering so a denied mic claims no call. */
  async prepare() {
    try {
      this.ctx = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
    } catch {
      this.ctx = new AudioContext({ sampleRate: 16000, latencyHint: "interactive" });
    }
    const rate = this.ctx.sampleRate;
    this.rate = rate;
    if (rate !== 48000 && rate !== 16000) {
      throw new Error(`This browser runs audio at ${rate} Hz; the bridge needs 48000 or 16000 Hz`);
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
    } catch (err) {
      throw new Error(micProblem(err));
    }
    await this.ctx.audioWorklet.addModule(STATIC + "mic-worklet.js");
    await this.ctx.audioWorklet.addModule(STATIC + "speaker-worklet.js");
    if (this.closed) throw new Error("The call was closed while the microphone was opening");
    const source = this.ctx.createMediaStreamSource(this.stream);
    this.mic = new AudioWorkletNode(this.ctx, "kallglot-mic", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: "explicit",
      channelInterpretation: "speakers",
    });
    // The mic node outputs silence; connecting it keeps the graph pulling it in every browser.
    source.connect(this.mic).connect(this.ctx.destination);
    this.speaker = new AudioWorkletNode(this.ctx, "kallglot-speaker", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
    });
    this.speaker.connect(this.ctx.destination);
    this.speaker.port.onmessage = (event) => this.fromSpeaker(event.data);
    this.mic.port.onmessage = (event) => this.sendFrame(event.data);
    await this.ctx.resume();
  }

  /** Open the media socket with the answer's ticket; resolves once start has been sent. */
  connect(answer) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(answer.media_url);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      let started = false;
      const timer = setTimeout(() => {
        if (started) return;
        reject(new Error("The call audio did not connect within 10 s; check the network and answer again"));
        this.close();
      }, 10000);
      ws.onopen = () => {
        clearTimeout(timer);
        ws.send(JSON.stringify({ event: "start", ticket: answer.ticket, sampleRate: this.ctx.sampleRate }));
        started = true;
        this.mic.port.postMessage("start");
        resolve();
      };
      ws.onmessage = (event) => this.fromBridge(event.data);
      ws.onclose = (event) => {
        const why = event.code === 1008
          ? `The bridge refused the audio connection: ${event.reason || "no reason given"}`
          : "Call ended";
        if (!started) {
          clearTimeout(timer);
          reject(new Error(event.code === 1008 ? why : "Could not connect the call audio; check the network and answer again"));
          this.close();
          return;
        }
        this.finish(why);
      };
    });
  }

  sendFrame(buffer) {
    const ws = this.ws;
    // After stop nothing more is said: a frame the mic worklet posted meanwhile is dropped.
    if (this.closed || !ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(buffer);
    this.stats.framesSent += 1;
  }

  fromBridge(data) {
    if (!this.speaker) return;
    if (data instanceof ArrayBuffer) {
      this.stats.framesReceived += this.framesIn(data);
      // Stamped in context time: the worklet measures its play start on the same clock.
      this.speaker.port.postMessage({ type: "audio", buffer: data, arrivedAt: this.ctx.currentTime }, [data]);
      return;
    }
    const msg = parseMessage(data);
    if (!msg) return;
    if (msg.event === "mark" && typeof msg.name === "string") {
      this.speaker.port.postMessage({ type: "mark", name: msg.name });
    } else if (msg.event === "clear") {
      this.speaker.port.postMessage({ type: "clear" });
    }
  }

  framesIn(buffer) {
    return Math.max(1, Math.round(buffer.byteLength / (this.rate / 50) / 2));
  }

  fromSpeaker(report) {
    const stats = this.stats;
    stats.underruns += report.underruns;
    if (report.delays.length) {
      stats.jitterDelayMs.push(...report.delays);
      if (stats.jitterDelayMs.length > KEEP_DELAYS) {
        stats.jitterDelayMs.splice(0, stats.jitterDelayMs.length - KEEP_DELAYS);
      }
    }
    for (const name of report.marks) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify({ event: "mark", name }));
        stats.marksEchoed += 1;
      }
    }
  }

  /** The bridge ended the leg: release everything, then tell the page once. */
  finish(message) {
    if (this.closed) return;
    this.close();
    this.onEnded(message);
  }

  /**
   * Agent hangs up or the tab goes away: free mic and audio, send stop. The bridge reads all
   * that was said before the stop, ends the leg and closes the socket; until then what it
   * still sends is counted (not played), so framesReceived matches what it sent. Should it
   * not close within STOP_GRACE_MS, the page closes.
   */
  close() {
    if (this.closed) return;
    this.closed = true;
    const ws = this.ws;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = (event) => {
        if (event.data instanceof ArrayBuffer) this.stats.framesReceived += this.framesIn(event.data);
      };
      if (ws.readyState === WebSocket.OPEN) {
        try {
          ws.send(JSON.stringify({ event: "stop" }));
        } catch {
          // the socket died between the check and the send; nothing left to stop
        }
        setTimeout(() => ws.close(1000, "hangup"), STOP_GRACE_MS);
      } else if (ws.readyState === WebSocket.CONNECTING) {
        ws.close(1000, "hangup");
      }
    }
    if (this.mic) this.mic.port.postMessage("stop");
    if (this.speaker) this.speaker.port.postMessage("stop");
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    if (this.ctx && this.ctx.state !== "closed") this.ctx.close().catch(() => {});
  }
}
