// Ring tone for an incoming call: the North American ringback pair (440 + 480 Hz), 2 s on,
// 4 s off, made with oscillators so no audio file has to be served. Browsers keep an
// AudioContext suspended until the page has had a click or key press, so the context is
// created once and resumed on the first interaction after it was blocked.

const CYCLE_S = 6;
const ON_S = 2;
const LEVEL = 0.08;

export class Ringer {
  constructor() {
    this.ctx = null;
    this.nodes = null;
    this.timer = null;
    this.onBlocked = null; // optional callback(blocked: boolean) so the page can say why it is silent
  }

  get ringing() {
    return this.nodes !== null;
  }

  start() {
    if (this.nodes) return;
    if (!this.ctx) {
      this.ctx = new AudioContext();
      const unlock = () => {
        this.ctx.resume().then(() => this.onBlocked && this.onBlocked(false));
      };
      for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, unlock, { capture: true });
    }
    const ctx = this.ctx;
    const gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    const oscillators = [440, 480].map((hz) => {
      const osc = ctx.createOscillator();
      osc.frequency.value = hz;
      osc.connect(gain);
      osc.start();
      return osc;
    });
    this.nodes = { gain, oscillators };
    let next = ctx.currentTime + 0.05;
    // Schedule bursts a cycle ahead on the audio clock; the timer only tops the schedule up,
    // so a throttled background tab still rings on time.
    const schedule = () => {
      while (next < ctx.currentTime + 2 * CYCLE_S) {
        gain.gain.setTargetAtTime(LEVEL, next, 0.01);
        gain.gain.setTargetAtTime(0, next + ON_S, 0.01);
        next += CYCLE_S;
      }
    };
    schedule();
    this.timer = setInterval(schedule, 1000);
    if (ctx.state !== "running") {
      if (this.onBlocked) this.onBlocked(true);
      ctx.resume().then(() => this.onBlocked && this.onBlocked(false), () => {});
    }
  }

  stop() {
    if (!this.nodes) return;
    clearInterval(this.timer);
    this.timer = null;
    const { gain, oscillators } = this.nodes;
    this.nodes = null;
    gain.gain.cancelScheduledValues(0);
    gain.gain.value = 0;
    for (const osc of oscillators) osc.stop();
    gain.disconnect();
    if (this.onBlocked) this.onBlocked(false);
  }
}
