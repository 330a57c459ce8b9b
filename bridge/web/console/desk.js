// The desk: the agent's list of calls, fed by the desk WebSocket. The socket reconnects with
// exponential backoff when it drops (a restarting bridge must not leave the agent deaf to
// ringing calls) except on 4401, where a fresh sign-in link is the only fix.

import { parseMessage } from "./api.js";

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const SILENCE_LIMIT_MS = 7000; // the server speaks at least every 2 s

export class DeskSocket {
  /** handlers: {onCalls(calls), onAuthFailed(), onLink(up: boolean)} */
  constructor(api, handlers) {
    this.api = api;
    this.handlers = handlers;
    this.ws = null;
    this.delay = BACKOFF_MIN_MS;
    this.retry = null;
    this.watchdog = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    clearTimeout(this.watchdog);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000);
      this.ws = null;
    }
  }

  open() {
    const ws = this.api.socket("/console/desk");
    this.ws = ws;
    this.feedWatchdog();
    ws.onmessage = (event) => {
      const msg = parseMessage(event.data);
      if (!msg || msg.type !== "calls" || !Array.isArray(msg.calls)) return;
      this.delay = BACKOFF_MIN_MS;
      this.feedWatchdog();
      this.handlers.onLink(true);
      this.handlers.onCalls(msg.calls);
    };
    ws.onclose = (event) => {
      clearTimeout(this.watchdog);
      this.ws = null;
      if (this.stopped) return;
      if (event.code === 4401) {
        this.stopped = true;
        this.handlers.onAuthFailed();
        return;
      }
      this.handlers.onLink(false);
      const wait = this.delay * (0.75 + Math.random() * 0.5);
      this.delay = Math.min(this.delay * 2, BACKOFF_MAX_MS);
      this.retry = setTimeout(() => this.open(), wait);
    };
  }

  /** A socket that went quiet (a half-open TCP link) is closed so the backoff path reopens it. */
  feedWatchdog() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (this.ws) this.ws.close(4000, "desk silent");
    }, SILENCE_LIMIT_MS);
  }
}

/** Live calls first, each group newest first (the server's order, made certain here). */
export function orderCalls(calls) {
  const stamp = (c) => Date.parse(c.created_at) || 0;
  return [...calls].sort((a, b) => Number(b.live) - Number(a.live) || stamp(b) - stamp(a));
}

export function clock(iso) {
  const date = iso ? new Date(iso) : null;
  if (!date || Number.isNaN(date.getTime())) return "--:--:--";
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

const STATE_LABEL = {
  ringing: "Ringing",
  bridging: "Connecting",
  active: "Active",
  ending: "Ending",
  ended: "Ended",
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Bring the list in line with `calls`, reusing each call's row so the keyboard focus and a
 * pending click survive the refresh that arrives every 2 s.
 */
export function renderCalls(list, calls, selectedId, onSelect) {
  const existing = new Map();
  for (const row of list.querySelectorAll(".call")) existing.set(row.dataset.callId, row);
  const rows = orderCalls(calls).map((call) => {
    let row = existing.get(call.call_id);
    if (!row) {
      row = el("li", "call");
      row.dataset.callId = call.call_id;
      const button = el("button", "call-select");
      button.type = "button";
      button.addEventListener("click", () => onSelect(row.dataset.callId));
      row.append(button);
    }
    fillRow(row, call, selectedId);
    return row;
  });
  if (!rows.length) {
    list.replaceChildren(el("li", "calls-empty", "No calls yet. Incoming calls appear here."));
    return;
  }
  const current = [...list.children];
  if (current.length !== rows.length || rows.some((row, i) => current[i] !== row)) {
    list.replaceChildren(...rows);
  }
}

function fillRow(row, call, selectedId) {
  row.dataset.state = call.state;
  row.dataset.live = String(Boolean(call.live));
  row.classList.toggle("is-ringing", Boolean(call.ringing));
  row.classList.toggle("is-selected", call.call_id === selectedId);
  const button = row.querySelector(".call-select");
  if (call.call_id === selectedId) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");

  const top = el("span", "call-top");
  top.append(el("span", "call-who", call.customer || "Unknown caller"));
  top.append(el("span", `call-state state-${call.state}`, STATE_LABEL[call.state] || call.state));
  const direction = call.direction === "outbound" ? "Outbound" : "Inbound";
  const langs = `${(call.customer_language || "?").toUpperCase()} → ${(call.agent_language || "?").toUpperCase()}`;
  const when = call.ended_at ? `${clock(call.created_at)}–${clock(call.ended_at)}` : clock(call.created_at);
  const meta = el("span", "call-meta", `${direction} · ${langs} · ${when}`);
  const tags = el("span", "call-tags");
  if (call.ringing) tags.append(el("span", "tag tag-ringing", "Ringing you"));
  if (call.browser) tags.append(el("span", "tag tag-here", "This console"));
  if (call.end_reason) tags.append(el("span", "tag", call.end_reason.replaceAll("_", " ")));
  button.replaceChildren(top, meta, tags);
}
