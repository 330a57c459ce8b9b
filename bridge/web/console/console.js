// Entry module: signs in, wires the desk, the ringing banner, the call audio and captions
// together, and keeps window.kallglotConsole current for the automated browser tests.

import { Api, ApiError, AuthError, EXPIRED_HELP, SIGN_IN_HELP, dropKey, takeKey } from "./api.js";
import { CaptionsPane } from "./captions.js";
import { DeskSocket, renderCalls } from "./desk.js";
import { CallAudio } from "./media.js";
import { Ringer } from "./ringer.js";

const $ = (id) => document.getElementById(id);
const ui = {
  agent: $("agent"), expiry: $("expiry"), link: $("desk-link"), status: $("status"),
  calls: $("calls"), banner: $("ring-banner"), ringWho: $("ring-who"), ringHint: $("ring-hint"),
  answer: $("answer"), decline: $("decline"), callBar: $("call-bar"), callWho: $("call-who"),
  hangup: $("hangup"), app: $("app"),
};

const consoleState = {
  state: "signed-out",
  stats: { framesSent: 0, framesReceived: 0, underruns: 0, marksEchoed: 0, jitterDelayMs: [] },
};
window.kallglotConsole = consoleState;

let api = null;
let desk = null;
let captions = null;
let calls = [];
let selectedId = null;
let ringingCall = null;
let busy = false; // an answer or hang-up is in flight: desk updates must not redraw the banner
let audio = null;
let activeCallId = null;
let resting = "idle"; // where the console returns when a ring stops: "idle" or "ended"
const declined = new Set();
const ringer = new Ringer();
ringer.onBlocked = (blocked) => {
  ui.ringHint.hidden = !blocked;
};

function setState(state) {
  consoleState.state = state;
  document.body.dataset.state = state;
}

function say(text, tone = "info") {
  ui.status.textContent = text;
  ui.status.dataset.tone = tone;
}

function signedOut(message) {
  setState("signed-out");
  say(message, "error");
  ringer.stop();
  if (desk) desk.stop();
  if (captions) captions.close();
  if (audio) audio.close();
  ui.banner.hidden = true;
  ui.callBar.hidden = true;
  ui.agent.textContent = "Not signed in";
  ui.expiry.textContent = "";
}

function authFailed() {
  dropKey();
  signedOut(EXPIRED_HELP);
}

function select(callId) {
  selectedId = callId;
  captions.show(callId);
  renderCalls(ui.calls, calls, selectedId, select);
}

function onCalls(list) {
  calls = list;
  for (const id of declined) if (!list.some((c) => c.call_id === id && c.ringing)) declined.delete(id);
  if (!selectedId) {
    // This console's own call first; a phone agent's console follows the live call it is on.
    const mine = list.find((c) => c.browser && c.live) || list.find((c) => c.live);
    if (mine) return select(mine.call_id);
  }
  renderCalls(ui.calls, calls, selectedId, select);
  updateRinging();
}

function updateRinging() {
  if (busy || consoleState.state === "in-call" || consoleState.state === "signed-out") return;
  ringingCall = calls.find((c) => c.ringing && !declined.has(c.call_id)) || null;
  ui.banner.hidden = !ringingCall;
  if (ringingCall) {
    const who = ringingCall.customer || "Unknown caller";
    const langs = `${(ringingCall.customer_language || "?").toUpperCase()} → ${(ringingCall.agent_language || "?").toUpperCase()}`;
    ui.ringWho.textContent = `${who} · ${langs}`;
    ui.answer.disabled = false;
    ui.decline.disabled = false;
    ringer.start();
    if (consoleState.state !== "ringing") say(`Incoming call from ${who}: Answer or Decline.`, "ok");
    setState("ringing");
  } else {
    ringer.stop();
    if (consoleState.state === "ringing") setState(resting);
  }
}

async function answer() {
  if (!ringingCall || busy) return;
  const callId = ringingCall.call_id;
  const who = ringingCall.customer || "unknown caller";
  busy = true;
  ui.answer.disabled = true;
  ui.decline.disabled = true;
  ringer.stop();
  say("Answering… allow the microphone if the browser asks.");
  const leg = new CallAudio(consoleState.stats, (message) => callEnded(leg, message));
  audio = leg;
  try {
    await leg.prepare(); // the mic first: a denied mic must not claim the customer's call
    const ticket = await api.answer(callId);
    await leg.connect(ticket);
  } catch (err) {
    leg.close();
    audio = null;
    busy = false;
    if (err instanceof AuthError) return authFailed();
    const why = err instanceof ApiError && err.status === 404 ? "this call no longer exists" : err.message;
    say(`Could not answer: ${why}`, "error");
    updateRinging(); // the banner stays only if the desk still says this console may answer
    return;
  }
  busy = false;
  activeCallId = callId;
  ui.banner.hidden = true;
  ui.callBar.hidden = false;
  ui.hangup.disabled = false;
  ui.callWho.textContent = `On call with ${who}`;
  setState("in-call");
  say("Connected. Speak normally; the customer hears the translation.", "ok");
  select(callId);
  ui.hangup.focus();
}

async function decline() {
  if (!ringingCall || busy) return;
  const callId = ringingCall.call_id;
  declined.add(callId);
  ringer.stop();
  ui.banner.hidden = true;
  setState(resting);
  try {
    await api.decline(callId);
    say("Call declined.");
  } catch (err) {
    if (err instanceof AuthError) return authFailed();
    say(`Could not decline: ${err.message}`, "error");
  }
  updateRinging();
}

async function hangup() {
  if (!audio || busy) return;
  busy = true;
  ui.hangup.disabled = true;
  const leg = audio;
  leg.onEnded = () => {}; // the bridge closing the audio now is this hang-up, said below
  // Stop first: the bridge takes every word said before it, then ends the call. The request
  // ends it as well where the audio socket was already gone; 404 means it has ended.
  leg.close();
  let problem = null;
  try {
    await api.hangup(activeCallId);
  } catch (err) {
    if (err instanceof AuthError) problem = err;
    else if (!(err instanceof ApiError && err.status === 404)) problem = err.message;
  }
  busy = false;
  callEnded(leg, problem ? null : "Call ended: you hung up");
  if (problem instanceof AuthError) return authFailed();
  if (problem) say(`Hang-up request failed (${problem}); your audio is disconnected`, "error");
}

function callEnded(leg, message) {
  if (leg !== audio) return;
  audio = null;
  activeCallId = null;
  ui.callBar.hidden = true;
  resting = "ended";
  setState("ended");
  if (message) say(message, message.startsWith("The bridge refused") ? "error" : "info");
  updateRinging();
}

function showExpiry(expiresAt) {
  const at = new Date(expiresAt);
  if (Number.isNaN(at.getTime())) return;
  const paint = () => {
    const minutes = Math.round((at.getTime() - Date.now()) / 60000);
    const hhmm = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
    const left = minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
    ui.expiry.textContent = minutes > 0 ? `Sign-in expires ${hhmm} (in ${left})` : `Sign-in expired at ${hhmm}`;
    ui.expiry.dataset.soon = String(minutes <= 15);
  };
  paint();
  setInterval(paint, 30000);
}

async function main() {
  setState("signed-out");
  const key = takeKey();
  if (!key) return signedOut(SIGN_IN_HELP);
  api = new Api(key);
  let me;
  try {
    me = await api.me();
  } catch (err) {
    if (err instanceof AuthError) return authFailed();
    return signedOut(`Could not sign in: ${err.message}`);
  }
  ui.agent.textContent = `Agent ${me.agent}`;
  showExpiry(me.expires_at);
  setState("idle");
  say("Signed in. Waiting for calls.");
  captions = new CaptionsPane(
    api,
    { list: $("captions"), scroller: $("captions-scroll"), state: $("call-state"), jump: $("jump"), title: $("captions-title") },
    { onAuthFailed: authFailed, onState: () => {} },
  );
  captions.show(null);
  desk = new DeskSocket(api, {
    onCalls,
    onAuthFailed: authFailed,
    onLink: (up) => {
      ui.link.textContent = up ? "Desk connected" : "Desk reconnecting…";
      ui.link.dataset.up = String(up);
    },
  });
  desk.start();
}

ui.answer.addEventListener("click", answer);
ui.decline.addEventListener("click", decline);
ui.hangup.addEventListener("click", hangup);
window.addEventListener("pagehide", () => {
  if (audio) audio.close(); // sends {"event":"stop"} and closes 1000
  ringer.stop();
  if (desk) desk.stop();
  if (captions) captions.close();
});

// A page restored from the back/forward cache has closed sockets; start it afresh.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) location.reload();
});

main();
