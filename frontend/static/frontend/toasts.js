/**
 * toasts.js: the DOM of live-note toasts, nothing about connections.
 *
 * Note text only ever enters the page as text (textContent), never as HTML.
 * Toasts go into an aria-live region, dismiss themselves after a while, wait
 * while the pointer or keyboard focus is on them (or the tab is hidden), and
 * at most `max` are shown: a new one pushes the oldest out.
 */

import { element } from "./dom.js";
import { noteHref } from "./note-url.js";
import { timeElement } from "./relative-time.js";

export class ToastStack {
  #region;
  #strings;
  #max;
  #lifetimeMs;
  #onOpen;
  #timers = new Map(); // toast element → Countdown
  #hovered = false;
  #focused = false;

  /**
   * `region`: the (initially empty) aria-live element; `strings.dismiss`
   * labels the close button; `onOpen(note)` runs when a toast is clicked.
   */
  constructor(region, { strings, max = 4, lifetimeMs = 6000, onOpen = () => {} }) {
    this.#region = region;
    this.#strings = strings;
    this.#max = max;
    this.#lifetimeMs = lifetimeMs;
    this.#onOpen = onOpen;
    region.addEventListener("mouseenter", () => this.#setHovered(true));
    region.addEventListener("mouseleave", () => this.#setHovered(false));
    region.addEventListener("focusin", () => this.#setFocused(true));
    region.addEventListener("focusout", (event) => {
      this.#setFocused(region.contains(event.relatedTarget));
    });
    document.addEventListener("visibilitychange", () => this.#updateTimers());
  }

  show(note) {
    while (this.#region.children.length >= this.#max) this.dismiss(this.#region.firstElementChild);
    const toast = this.#build(note);
    this.#region.append(toast);
    this.#timers.set(toast, new Countdown(this.#lifetimeMs, () => this.dismiss(toast)));
    this.#updateTimers();
    return toast;
  }

  dismiss(toast) {
    if (!toast || toast.parentNode !== this.#region) return;
    this.#timers.get(toast)?.cancel();
    this.#timers.delete(toast);
    // Keep keyboard users in the stack instead of dropping focus to <body>.
    const hadFocus = toast.contains(document.activeElement);
    const neighbour = toast.nextElementSibling ?? toast.previousElementSibling;
    toast.remove();
    if (hadFocus) (neighbour?.querySelector("a, button") ?? document.querySelector("main"))?.focus();
    if (!this.#region.contains(document.activeElement)) this.#focused = false;
    this.#updateTimers();
  }

  #build(note) {
    const toast = element("div", "toast");
    toast.dataset.noteId = String(note.id);
    const href = noteHref(note.url);
    const body = element(href ? "a" : "div", "toast-body");
    if (href) {
      body.href = href;
      body.addEventListener("click", () => this.#onOpen(note));
    }
    const head = element("span", "toast-head");
    if (note.actor) {
      head.append(element("span", "avatar", note.actor.slice(0, 1).toUpperCase()));
      head.lastChild.setAttribute("aria-hidden", "true");
      head.append(element("strong", "toast-actor", note.actor));
    }
    head.append(timeElement(note.created));
    body.append(head, element("span", "toast-title", note.title));
    if (note.content) body.append(element("span", "toast-content", note.content));

    const close = element("button", "toast-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", this.#strings.dismiss);
    close.title = this.#strings.dismiss;
    close.addEventListener("click", () => this.dismiss(toast));
    toast.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.dismiss(toast);
    });
    toast.append(body, close);
    return toast;
  }

  #setHovered(value) {
    this.#hovered = value;
    this.#updateTimers();
  }

  #setFocused(value) {
    this.#focused = value;
    this.#updateTimers();
  }

  #updateTimers() {
    const wait = this.#hovered || this.#focused || document.visibilityState === "hidden";
    for (const timer of this.#timers.values()) {
      if (wait) timer.pause();
      else timer.resume();
    }
  }
}

/** A timeout that can be paused and resumed, keeping the time it has left. */
class Countdown {
  #remaining;
  #done;
  #startedAt = 0;
  #timer = null;

  constructor(ms, done) {
    this.#remaining = ms;
    this.#done = done;
  }

  resume() {
    if (this.#timer !== null) return;
    this.#startedAt = performance.now();
    this.#timer = setTimeout(this.#done, this.#remaining);
  }

  pause() {
    if (this.#timer === null) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#remaining -= performance.now() - this.#startedAt;
  }

  cancel() {
    clearTimeout(this.#timer);
    this.#timer = null;
  }
}
