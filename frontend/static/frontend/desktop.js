/**
 * desktop.js: system (desktop) notifications through the browser's
 * Notification API, for notes that arrive while the page is hidden.
 *
 * Opt-in per browser: nothing is asked of the browser until the user presses
 * the bell's button (turnOn), which is when the permission prompt may appear;
 * the choice is kept in localStorage, per account. A denied permission is
 * reported as such ("denied"), never asked again by the page.
 *
 * One notification per note however many tabs are open. Every tab of the
 * account gets every note, so the tabs elect who shows it, with the Web Locks
 * API (locks are released by the browser when a tab closes or crashes, so a
 * dead tab never blocks the others):
 * - a visible tab holds a shared lock "notes-visible:<user>" for as long as it
 *   is visible: while one is held, a tab is in front and toasts the note, so
 *   no hidden tab shows it;
 * - hidden tabs take turns under an exclusive lock "notes-desktop:<user>" and
 *   the first records the note's id in localStorage; the others see it there.
 * The notification's `tag` ("note-<id>") is the last guard: the system
 * replaces a notification with the same tag instead of adding one.
 *
 * Text only: title and body are passed as strings, which the Notification API
 * never renders as HTML. A click focuses the tab and opens the note's url when
 * it is a safe one (note-url.js, the same rule as the toasts).
 */

import { noteHref } from "./note-url.js";

export const UNSUPPORTED = "unsupported"; // no Notification API (or no secure context)
export const DENIED = "denied"; // the browser (or the user, at the prompt) said no
export const OFF = "off"; // allowed or not yet asked, but this user has not turned them on
export const ON = "on";
export const SHOWN = "desktop"; // offer(): this tab showed the note as a system notification
export const ELSEWHERE = "elsewhere"; // offer(): another tab of this browser did

const SHOWN_KEEP = 200; // ids remembered as shown, per account
const BODY_CHARS = 200; // a system notification shows a few lines at most

export class DesktopNotifier extends EventTarget {
  #user;
  #storage;
  #onOpen;
  #releaseVisible = null;

  /** `onOpen(note)` runs when a notification is clicked (e.g. mark the note read). */
  constructor({ user, storage = safeLocalStorage(), onOpen = () => {} }) {
    super();
    this.#user = user;
    this.#storage = storage;
    this.#onOpen = onOpen;
    const follow = () => this.#holdVisibleLock(document.visibilityState === "visible");
    document.addEventListener("visibilitychange", follow);
    follow();
  }

  /** UNSUPPORTED, DENIED, OFF or ON. */
  get state() {
    if (!("Notification" in globalThis) || !globalThis.isSecureContext) return UNSUPPORTED;
    if (Notification.permission === "denied") return DENIED;
    if (Notification.permission === "granted" && this.#read("on") === "1") return ON;
    return OFF;
  }

  /** The user pressed "turn on": ask the browser (only now), then remember the choice. */
  async turnOn() {
    if (this.state === UNSUPPORTED || this.state === DENIED) return this.#changed();
    if (Notification.permission !== "granted") await Notification.requestPermission();
    if (Notification.permission === "granted") this.#write("on", "1");
    return this.#changed();
  }

  turnOff() {
    this.#storage?.removeItem(this.#key("on"));
    return this.#changed();
  }

  /**
   * Show `note` as a system notification if this is the tab to do it.
   * Resolves to SHOWN (this tab showed it), ELSEWHERE (another tab of this
   * browser already did) or null: not for the desktop now (a tab of the site
   * is visible, or the user has not turned desktop notifications on), and the
   * caller toasts it instead.
   */
  async offer(note) {
    if (this.state !== ON || document.visibilityState !== "hidden") return null;
    if (!navigator.locks) return this.#showOnce(note);
    try {
      return await navigator.locks.request(this.#lockName("desktop"), async () => {
        const { held = [] } = await navigator.locks.query();
        if (held.some((lock) => lock.name === this.#lockName("visible"))) return null;
        return this.#showOnce(note);
      });
    } catch {
      return null; // locks refused (a sandboxed frame): the note toasts instead
    }
  }

  #showOnce(note) {
    const shown = this.#shownIds();
    if (shown.includes(note.id)) return ELSEWHERE;
    const body = typeof note.content === "string" ? note.content : "";
    let notification;
    try {
      notification = new Notification(String(note.title ?? ""), {
        body: body.length > BODY_CHARS ? `${body.slice(0, BODY_CHARS - 1)}…` : body,
        tag: `note-${note.id}`,
        lang: document.documentElement.lang || "",
      });
    } catch {
      return null; // e.g. Chrome on Android allows them only from a service worker: toast
    }
    this.#write("shown", JSON.stringify([...shown, note.id].slice(-SHOWN_KEEP)));
    notification.addEventListener("click", () => {
      window.focus(); // the browser's default action focuses the tab too
      notification.close();
      const href = noteHref(note.url);
      if (!href) return;
      this.#onOpen(note);
      window.location.assign(href);
    });
    return SHOWN;
  }

  #holdVisibleLock(visible) {
    if (!navigator.locks) return;
    if (visible && !this.#releaseVisible) {
      const held = new Promise((resolve) => (this.#releaseVisible = resolve));
      navigator.locks
        .request(this.#lockName("visible"), { mode: "shared" }, () => held)
        .catch(() => {}); // locks refused: hidden tabs then cannot tell, and may notify
    } else if (!visible && this.#releaseVisible) {
      this.#releaseVisible();
      this.#releaseVisible = null;
    }
  }

  #shownIds() {
    try {
      const ids = JSON.parse(this.#read("shown") ?? "[]");
      return Array.isArray(ids) ? ids : [];
    } catch {
      return [];
    }
  }

  #changed() {
    this.dispatchEvent(new CustomEvent("state", { detail: { state: this.state } }));
    return this.state;
  }

  #lockName(what) {
    return `notes-${what}:${this.#user ?? ""}`;
  }

  #key(what) {
    return `notes-desktop:${what}:${this.#user ?? ""}`;
  }

  #read(what) {
    try {
      return this.#storage?.getItem(this.#key(what)) ?? null;
    } catch {
      return null;
    }
  }

  #write(what, value) {
    try {
      this.#storage?.setItem(this.#key(what), value);
    } catch {
      // storage full or refused: the tag still keeps one notification per note
    }
  }
}

function safeLocalStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
