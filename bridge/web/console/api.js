// Talking to the bridge: the sign-in key, authorised JSON requests, console WebSockets.
// The key lives in the URL fragment only until the page has moved it to sessionStorage, so it
// never reaches a server log, the browser history or a Referer header.

const KEY_STORAGE = "kallglot.console.key";

export const SIGN_IN_HELP =
  "Open the sign-in link your supervisor gave you (POST /v1/agents/{id}/console-links)";
export const EXPIRED_HELP = "Your sign-in link has expired or is not valid; ask for a new one";

/** Raised for a 401 or a 4401 close: every caller must stop and show EXPIRED_HELP. */
export class AuthError extends Error {
  constructor() {
    super(EXPIRED_HELP);
    this.name = "AuthError";
  }
}

/** An HTTP 4xx/5xx with the server's own explanation, ready to show to the agent. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** Move `#key=...` into sessionStorage, scrub it from the address bar; return the key or null. */
export function takeKey() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const fromHash = params.get("key");
  if (fromHash) {
    sessionStorage.setItem(KEY_STORAGE, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY_STORAGE);
}

/** Forget the key once the server has rejected it, so a reload shows the sign-in help. */
export function dropKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

/** A client bound to one key; every request carries it as a bearer token. */
export class Api {
  constructor(key) {
    this.key = key;
  }

  /** Send a request; resolve to the parsed JSON body (null for 204), throw ApiError/AuthError. */
  async request(method, path, body) {
    const headers = { Authorization: `Bearer ${this.key}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, `Cannot reach the bridge (${err.message}); check the network and retry`);
    }
    if (response.status === 401) throw new AuthError();
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      // The bridge answers {"error": {"code", "message"}} (the same envelope as its /v1 API).
      const error = data && data.error;
      const reason = typeof error === "string" ? error : (error && error.message) || response.statusText;
      throw new ApiError(response.status, reason || `HTTP ${response.status}`);
    }
    return data;
  }

  me() {
    return this.request("GET", "/console/api/me");
  }

  answer(callId) {
    return this.request("POST", `/console/calls/${encodeURIComponent(callId)}/answer`);
  }

  decline(callId) {
    return this.request("POST", `/console/calls/${encodeURIComponent(callId)}/decline`);
  }

  hangup(callId) {
    return this.request("POST", `/console/calls/${encodeURIComponent(callId)}/hangup`);
  }

  /** Open a console WebSocket; the key goes in the first message (browsers cannot set headers). */
  socket(path) {
    const ws = new WebSocket(wsUrl(path));
    ws.addEventListener("open", () => ws.send(JSON.stringify({ key: this.key })));
    return ws;
  }
}

/** Absolute ws:// or wss:// URL for a path on this same origin. */
export function wsUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/** Parse a text WebSocket message; null for binary or malformed input. */
export function parseMessage(data) {
  if (typeof data !== "string") return null;
  try {
    const msg = JSON.parse(data);
    return msg && typeof msg === "object" ? msg : null;
  } catch {
    return null;
  }
}
