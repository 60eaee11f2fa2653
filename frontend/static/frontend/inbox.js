/**
 * inbox.js: the DOM of the bell (unread count) and its dropdown of recent notes.
 *
 * The markup is {% notes_bell %}'s (frontend/templates/notes/bell.html); this
 * module fills the list, keeps the count and opens and closes the panel: a
 * disclosure button, so the panel follows the bell in keyboard order, Escape
 * closes it and gives focus back.
 */

import { element } from "./dom.js";
import { noteHref } from "./note-url.js";
import { timeElement } from "./relative-time.js";

const RECENT = 20;

export class Inbox {
  #bell;
  #badge;
  #panel;
  #list;
  #status;
  #strings;
  #api;
  #unread = 0;
  #loaded = false;

  /** `root`: the element holding the markup; `api`: a NotesApi. */
  constructor(root, { strings, api }) {
    this.#bell = root.querySelector("#notes-bell");
    this.#badge = root.querySelector("#notes-bell-count");
    this.#panel = root.querySelector("#notes-inbox");
    this.#list = root.querySelector("#notes-inbox-list");
    this.#status = root.querySelector("#notes-inbox-status");
    this.#strings = strings;
    this.#api = api;

    this.#bell.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    root.querySelector("#notes-mark-all-read").addEventListener("click", () => this.#markAllRead());
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.isOpen) {
        this.close();
        this.#bell.focus();
      }
    });
    // Leaving the menu, by pointer or by Tab, closes it.
    document.addEventListener("pointerdown", (event) => {
      if (this.isOpen && !root.contains(event.target)) this.close();
    });
    root.addEventListener("focusout", (event) => {
      if (this.isOpen && event.relatedTarget && !root.contains(event.relatedTarget)) this.close();
    });
  }

  get isOpen() {
    return !this.#panel.hidden;
  }

  get unread() {
    return this.#unread;
  }

  setUnread(count) {
    this.#unread = Math.max(0, count);
    this.#badge.textContent = this.#unread > 99 ? "99+" : String(this.#unread);
    this.#badge.hidden = this.#unread === 0;
    this.#bell.setAttribute(
      "aria-label",
      this.#strings.bellLabel.replace("%(count)s", String(this.#unread)),
    );
  }

  open() {
    this.#panel.hidden = false;
    this.#bell.setAttribute("aria-expanded", "true");
    this.refresh();
  }

  close() {
    this.#panel.hidden = true;
    this.#bell.setAttribute("aria-expanded", "false");
  }

  /** Load the recent notes (and the count that goes with them). */
  async refresh() {
    let page;
    try {
      page = await this.#api.list({ limit: RECENT });
    } catch {
      this.#showStatus(this.#strings.failed);
      return;
    }
    this.#list.replaceChildren(...page.notes.map((note) => this.#item(note)));
    this.#loaded = true;
    this.#showStatus(page.notes.length ? "" : this.#strings.empty);
    this.setUnread(page.unread);
  }

  /** A note that arrived live: shown at the top if the list is on screen. */
  noteArrived(note) {
    if (!this.isOpen || !this.#loaded) return;
    if (this.#list.querySelector(`[data-note-id="${note.id}"]`)) return;
    this.#list.prepend(this.#item(note));
    this.#list.querySelectorAll(`.inbox-item:nth-child(n + ${RECENT + 1})`).forEach((item) => item.remove());
    this.#showStatus("");
  }

  /** The count changed because of a read somewhere (this tab or another). */
  unreadChanged(count) {
    this.setUnread(count);
    if (this.isOpen) this.refresh();
  }

  /** Notes changed in some tab: a deleted one leaves the list at once. */
  notesChanged({ ids = [], deleted }) {
    if (!deleted) return;
    for (const id of ids) this.#list.querySelector(`[data-note-id="${id}"]`)?.remove();
    if (this.#loaded && !this.#list.children.length) this.#showStatus(this.#strings.empty);
  }

  /** Called when a note is opened from a toast or from the list. */
  markOpened(note) {
    if (note.read) return;
    this.#api.markRead([note.id], { keepalive: true }).catch(() => {});
  }

  #item(note) {
    const item = element("li", note.read ? "inbox-item" : "inbox-item is-unread");
    item.dataset.noteId = String(note.id);
    const href = noteHref(note.url);
    const link = element(href ? "a" : "div", "inbox-link");
    if (href) {
      link.href = href;
      link.addEventListener("click", () => this.markOpened(note));
    }
    if (!note.read) link.append(element("span", "visually-hidden", `${this.#strings.unread}: `));
    link.append(element("span", "inbox-title", note.title));
    const meta = element("span", "inbox-meta");
    if (note.actor) meta.append(element("span", "", note.actor), " · ");
    meta.append(timeElement(note.created));
    link.append(meta);
    item.append(link);
    if (!note.read) {
      const button = element("button", "quiet mark-one", this.#strings.markRead);
      button.type = "button";
      button.addEventListener("click", () => this.#markOneRead(note, item));
      item.append(button);
    }
    return item;
  }

  async #markOneRead(note, item) {
    try {
      const { unread } = await this.#api.markRead([note.id]);
      note.read = true;
      item.replaceWith(this.#item(note));
      this.#list.querySelector(`[data-note-id="${note.id}"] .inbox-link`)?.focus();
      this.setUnread(unread);
    } catch {
      this.#showStatus(this.#strings.failed);
    }
  }

  async #markAllRead() {
    try {
      const { unread } = await this.#api.markAllRead();
      this.setUnread(unread);
      await this.refresh();
    } catch {
      this.#showStatus(this.#strings.failed);
    }
  }

  #showStatus(text) {
    this.#status.textContent = text;
    this.#status.hidden = text === "";
  }
}
