/**
 * notes-client.js: one connection to /ws/notes/ (protocol v1), no DOM.
 *
 * The connection is a small state machine, disconnected → connecting →
 * connected (the server's hello has arrived), changed in one place
 * (#setState). Every attempt computes its URL again, so a reconnect resumes
 * with ?after=<last id seen>; that id is kept in localStorage, so a reloaded
 * page resumes too. Notes arrive at most once: the server sends ids in
 * increasing order, and the client drops any id it has already passed.
 * See docs/frontend-client.md.
 */

import { CloseCode, retryAfter } from "./protocol.js";

// How this client closes a socket it gives up on (a missed pong, a resume
// point it must reset): a code of its own, which the server only logs.
const CLOSE_ABANDONED = 4000;

export const DISCONNECTED = "disconnected";
export const CONNECTING = "connecting";
export const CONNECTED = "connected";

/** Full jitter: a random wait in [0, min(cap, base · 2^attempt)) milliseconds. */
export function backoffDelay(attempt, { base = 500, cap = 30_000 } = {}) {
  return Math.random() * Math.min(cap, base * 2 ** attempt);
}

/**
 * Events (all CustomEvent, payload in `detail`):
 * - "state"  {state, previous, retryIn}: after every state change; `retryIn`
 *   (ms) is set when a disconnect will be followed by another attempt.
 * - "hello"  the server's hello frame (user, unread, last_id).
 * - "note"   one note object, each id once, in increasing id order.
 * - "synced" {last_id}: the replay after a (re)connect is complete.
 * - "unread" {count}: the user's unread count changed (a read in any tab).
 * - "error"  the server's error frame (code, message).
 * - "revoked" {code}: the server ended this login's access (CloseCode.REVOKED);
 *   the client has stopped and does not retry. Log in again, then start().
 */
export class NotesClient extends EventTarget {
  #url;
  #storage;
  #storageKey;
  #backoff;
  #pingMs;
  #state = DISCONNECTED;
  #socket = null;
  #lastId = null;
  #attempt = 0;
  #running = false;
  #retryTimer = null;
  #pingTimer = null;
  #pongTimer = null;
  #ticket;
  #attemptSerial = 0; // tells a ticket that arrives late from the attempt it was for
  // The network came back, or a phone woke the page: don't sit out the back-off.
  #onOnline = () => this.reconnectNow();
  #onVisible = () => {
    if (globalThis.document?.visibilityState === "visible") this.reconnectNow();
  };

  constructor({
    url = "/ws/notes/",
    storage = safeLocalStorage(),
    storageKey = "notes-client:last-id",
    backoff = { base: 500, cap: 30_000 },
    pingSeconds = 25,
    ticket = null,
  } = {}) {
    super();
    this.#url = url;
    this.#ticket = ticket;
    this.#storage = storage;
    this.#storageKey = storageKey;
    this.#backoff = backoff;
    this.#pingMs = pingSeconds * 1000;
    this.#lastId = this.#loadLastId();
  }

  get state() {
    return this.#state;
  }

  /** The newest note id this client has passed, or null before the first connection. */
  get lastId() {
    return this.#lastId;
  }

  /** The URL of the next attempt: where the resume point (and a connect ticket) goes. */
  url(ticket = null) {
    const url = new URL(this.#url, globalThis.location?.href);
    url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
    if (this.#lastId !== null) url.searchParams.set("after", String(this.#lastId));
    else url.searchParams.delete("after");
    if (ticket !== null) url.searchParams.set("ticket", ticket);
    return url.href;
  }

  start() {
    if (this.#running) return;
    this.#running = true;
    globalThis.addEventListener?.("online", this.#onOnline);
    globalThis.document?.addEventListener("visibilitychange", this.#onVisible);
    this.#connect();
  }

  stop() {
    this.#running = false;
    this.#attemptSerial++; // a ticket still on its way opens nothing
    globalThis.removeEventListener?.("online", this.#onOnline);
    globalThis.document?.removeEventListener("visibilitychange", this.#onVisible);
    clearTimeout(this.#retryTimer);
    if (this.#socket) this.#drop(this.#socket, CloseCode.NORMAL);
    else this.#setState(DISCONNECTED);
  }

  /** Skip the rest of a back-off wait (called when the network comes back). */
  reconnectNow() {
    if (this.#running && this.#state === DISCONNECTED) {
      clearTimeout(this.#retryTimer);
      this.#connect();
    }
  }

  /** Send a protocol command; false when not connected. */
  send(frame) {
    if (this.#state !== CONNECTED) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  markRead(ids) {
    return this.send({ type: "mark_read", ids });
  }

  markAllRead() {
    return this.send({ type: "mark_read", all: true });
  }

  markUnread(ids) {
    return this.send({ type: "mark_unread", ids });
  }

  archive(ids) {
    return this.send({ type: "archive", ids });
  }

  unarchive(ids) {
    return this.send({ type: "unarchive", ids });
  }

  /** Delete notes for this user (a public note stays for everyone else); every tab hears "changed". */
  delete(ids) {
    return this.send({ type: "delete", ids });
  }

  /** Change preferences: {mute, unmute, reset, quiet_minutes, count_muted}, each optional. */
  setPreferences(changes = {}) {
    return this.send({ type: "preferences", ...changes });
  }

  // The one place the state changes.
  #setState(state, retryIn = null) {
    const previous = this.#state;
    this.#state = state;
    this.#emit("state", { state, previous, retryIn });
  }

  // An app not served by Django passes `ticket`: a function that returns (a
  // promise of) a fresh connect ticket, fetched for every attempt since a
  // ticket opens one socket once. A failed fetch is a failed attempt.
  #connect() {
    this.#setState(CONNECTING);
    if (this.#ticket === null) {
      this.#open(this.url());
      return;
    }
    const serial = ++this.#attemptSerial;
    const current = () => this.#running && serial === this.#attemptSerial && !this.#socket;
    Promise.resolve()
      .then(() => this.#ticket())
      .then(
        (ticket) => {
          if (current()) this.#open(this.url(String(ticket)));
        },
        () => {
          if (current()) this.#retryLater();
        },
      );
  }

  #open(url) {
    const socket = new WebSocket(url);
    this.#socket = socket;
    socket.onopen = () => {
      if (socket === this.#socket) this.#heartbeat();
    };
    socket.onmessage = (event) => {
      if (socket === this.#socket) this.#receive(event.data);
    };
    socket.onclose = (event) => this.#drop(socket, event.code, event.reason);
  }

  // Every way a socket ends comes through here (its close event, a missed
  // pong, stop()); a socket that is no longer current is ignored.
  #drop(socket, code, reason = "") {
    if (socket === null || socket !== this.#socket) return;
    this.#socket = null;
    socket.onopen = socket.onmessage = socket.onclose = null;
    if (socket.readyState < WebSocket.CLOSING) {
      socket.close(code === CloseCode.NORMAL ? CloseCode.NORMAL : CLOSE_ABANDONED);
    }
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#pongTimer);
    if (code === CloseCode.BAD_REQUEST) this.#saveLastId(null); // it refused our resume point
    if (code === CloseCode.REVOKED) {
      // Our login ended (revoked, expired, another tab's logout): the same
      // cookie or ticket would only be refused again. Stop until start().
      this.#running = false;
      this.#emit("revoked", { code });
    }
    if (!this.#running) {
      this.#setState(DISCONNECTED);
      return;
    }
    // A limit refused us: never straight back, at least the seconds it asked for.
    this.#retryLater(code === CloseCode.RATE_LIMITED ? 1000 * (retryAfter(reason) ?? 1) : 0);
  }

  #retryLater(atLeastMs = 0) {
    const delay = backoffDelay(this.#attempt++, this.#backoff) + atLeastMs;
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
    this.#setState(DISCONNECTED, delay);
  }

  #receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    this.#heartbeat();
    switch (frame.type) {
      case "hello":
        this.#attempt = 0; // the server took us: the next failure starts a fresh back-off
        if (this.#lastId !== null && frame.last_id < this.#lastId) {
          // The server's newest note is older than our resume point: its
          // database was reset. Start again from what it has.
          this.#saveLastId(frame.last_id, { force: true });
          this.#drop(this.#socket, CLOSE_ABANDONED);
          return;
        }
        // Connected means the server has taken us in: every note committed
        // from here on reaches this socket.
        this.#setState(CONNECTED);
        this.#emit("hello", frame);
        break;
      case "note":
        if (this.#lastId !== null && frame.note.id <= this.#lastId) return; // seen already
        this.#saveLastId(frame.note.id);
        this.#emit("note", frame.note);
        break;
      case "synced":
        if (this.#lastId === null || frame.last_id > this.#lastId) this.#saveLastId(frame.last_id);
        this.#emit("synced", frame);
        break;
      case "unread":
        this.#emit("unread", frame);
        break;
      case "changed": // some of our notes were read, unread, archived... in any tab
        this.#emit("changed", frame);
        break;
      case "preferences": // muted kinds, do not disturb: changed in any tab, API, command
        this.#emit("preferences", frame);
        break;
      case "error":
        this.#emit("error", frame);
        break;
      default:
        break; // "pong", or a frame type from a newer server
    }
  }

  // Any frame proves the connection is alive; silence for a whole ping
  // interval earns a ping, and no answer to it drops the socket, which a
  // half-open TCP connection (a sleeping laptop, a NAT timeout) never would.
  #heartbeat() {
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#pongTimer);
    const socket = this.#socket;
    this.#pingTimer = setTimeout(() => {
      if (!this.send({ type: "ping" })) return;
      this.#pongTimer = setTimeout(() => this.#drop(socket, CLOSE_ABANDONED), this.#pingMs / 2);
    }, this.#pingMs);
  }

  #loadLastId() {
    const stored = Number.parseInt(this.#storage?.getItem(this.#storageKey) ?? "", 10);
    return Number.isSafeInteger(stored) && stored >= 0 ? stored : null;
  }

  // Tabs share the stored id: it only moves forward, unless `force` (the old
  // one is unusable), while each tab resumes from its own #lastId.
  #saveLastId(id, { force = false } = {}) {
    this.#lastId = id;
    try {
      const stored = this.#loadLastId();
      if (id === null) {
        this.#storage?.removeItem(this.#storageKey);
      } else if (force || stored === null || stored < id) {
        this.#storage?.setItem(this.#storageKey, String(id));
      }
    } catch {
      // Storage full or forbidden: resuming still works within this page.
    }
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function safeLocalStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // a sandboxed frame or disabled storage throws on access
  }
}
