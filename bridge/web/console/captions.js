// Live captions for one call: each turn shows who spoke, when, what they said (in their
// language) and the translation beneath. A speaker's partial is rewritten in place by their
// next partial or final, so the text grows where the agent is already reading it.

import { parseMessage } from "./api.js";
import { clock } from "./desk.js";

const SPEAKER_LABEL = { customer: "Customer", agent: "Agent" };
const STICK_PX = 48; // "at the bottom" tolerance, so sub-pixel scroll offsets still follow
const RETRY_MS = [1000, 2000, 5000, 10000];

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class CaptionsPane {
  /**
   * parts: {list, scroller, state, jump, title}; handlers: {onAuthFailed(), onState(state, reason)}
   */
  constructor(api, parts, handlers) {
    this.api = api;
    this.parts = parts;
    this.handlers = handlers;
    this.callId = null;
    this.ws = null;
    this.partials = new Map(); // speaker -> element of their current partial
    this.follow = true;
    this.retries = 0;
    this.retry = null;
    parts.scroller.addEventListener("scroll", () => {
      this.follow = this.atBottom();
      parts.jump.hidden = this.follow;
    });
    parts.jump.addEventListener("click", () => {
      this.follow = true;
      this.scrollDown();
    });
  }

  /** Show `callId`'s captions (no-op if already shown); null clears the pane. */
  show(callId) {
    if (callId === this.callId) return;
    this.close();
    this.callId = callId;
    this.retries = 0;
    this.reset();
    this.parts.title.textContent = callId ? `Captions · call ${callId}` : "Captions";
    this.setState(callId ? "connecting…" : "no call selected", callId ? "" : "idle");
    if (callId) this.open();
  }

  reset() {
    this.partials.clear();
    this.parts.list.replaceChildren();
    this.follow = true;
    this.parts.jump.hidden = true;
  }

  close() {
    clearTimeout(this.retry);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000);
      this.ws = null;
    }
  }

  open() {
    const callId = this.callId;
    const ws = this.api.socket(`/console/calls/${encodeURIComponent(callId)}/captions`);
    this.ws = ws;
    let replayed = false;
    ws.onmessage = (event) => {
      const msg = parseMessage(event.data);
      if (!msg) return;
      if (!replayed) {
        // Finals are replayed on every connect: start from a clean list so none doubles.
        replayed = true;
        this.reset();
        this.retries = 0;
      }
      if (msg.type === "caption") this.caption(msg);
      else if (msg.type === "state") {
        this.setState(msg.end_reason ? `${msg.state}: ${msg.end_reason}` : msg.state, msg.state);
        this.handlers.onState(callId, msg.state, msg.end_reason || null);
      }
    };
    ws.onclose = (event) => {
      this.ws = null;
      if (event.code === 4401) return this.handlers.onAuthFailed();
      if (event.code === 4403) return this.setState("not your call: captions are only for calls on your desk", "ended");
      if (event.code === 4404) return this.setState("call ended", "ended");
      if (event.code === 1000) return this.setState("call ended", "ended");
      const wait = RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)];
      this.retries += 1;
      this.setState(`captions connection lost; retrying in ${Math.round(wait / 1000)} s`, "lost");
      this.retry = setTimeout(() => this.callId === callId && this.open(), wait);
    };
  }

  setState(text, kind) {
    this.parts.state.textContent = text;
    this.parts.state.dataset.kind = kind || text;
  }

  caption(msg) {
    const speaker = msg.speaker === "agent" ? "agent" : "customer";
    const stick = this.follow || this.atBottom();
    let item = this.partials.get(speaker);
    if (!item) {
      item = this.build(speaker);
      this.parts.list.append(item);
    }
    this.fill(item, msg);
    if (msg.final) this.partials.delete(speaker);
    else this.partials.set(speaker, item);
    if (stick) this.scrollDown();
  }

  build(speaker) {
    const item = el("li", `caption caption-${speaker}`);
    item.dataset.speaker = speaker;
    const head = el("div", "caption-head");
    head.append(el("span", "speaker", SPEAKER_LABEL[speaker]), el("time", "at"), el("span", "lang"));
    const text = el("p", "text");
    const translation = el("p", "translation");
    item.append(head, text, translation);
    return item;
  }

  fill(item, msg) {
    item.dataset.final = msg.final ? "true" : "false";
    const at = item.querySelector(".at");
    at.textContent = clock(msg.at);
    at.dateTime = msg.at || "";
    item.querySelector(".lang").textContent = (msg.language || "").toUpperCase();
    const text = item.querySelector(".text");
    text.textContent = msg.text || "";
    text.lang = msg.language || "";
    const translation = item.querySelector(".translation");
    translation.textContent = msg.translation || "";
    translation.lang = msg.translation_language || "";
    translation.hidden = !msg.translation;
    if (msg.translation_language) translation.dataset.language = msg.translation_language.toUpperCase();
    item.setAttribute("aria-busy", msg.final ? "false" : "true");
  }

  atBottom() {
    const s = this.parts.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= STICK_PX;
  }

  scrollDown() {
    const s = this.parts.scroller;
    s.scrollTop = s.scrollHeight;
    this.parts.jump.hidden = true;
  }
}
