/**
 * inbox-page.js: the full inbox at /notes/ — every visible note, newest first,
 * paged by id (the API's next_before cursor), filtered by unread, archived and
 * kind, with mark read/unread, archive/unarchive and delete on each note.
 *
 * Delete asks once more in place (the button says "Delete for good?"; Enter or
 * a click again deletes, Escape or leaving the button keeps the note): a
 * private note is really gone, so there is nothing to undo with.
 *
 * Actions go through the JSON API; what changes in any tab (or the API, or a
 * command) comes back as the socket's "changed" frames, which notes.js passes
 * on as "notes:changed" events: every open inbox page follows them.
 * Note text enters the page as textContent only (dom.js).
 */

import { element } from "./dom.js";
import { noteHref } from "./note-url.js";
import { timeElement } from "./relative-time.js";

const config = JSON.parse(document.getElementById("notes-config").textContent);
const strings = JSON.parse(document.getElementById("notes-page-strings").textContent);
const list = document.getElementById("notes-page-list");
const older = document.getElementById("notes-page-older");
const status = document.getElementById("notes-page-status");
const filters = document.getElementById("notes-filters");

let cursor = null; // next_before of the last page, null when there is no more

function currentFilters() {
  const form = new FormData(filters);
  return {
    unread: form.get("unread") === "true",
    archived: form.get("archived") === "true",
    kind: (form.get("kind") || "").trim(),
  };
}

async function load({ more = false } = {}) {
  const { unread, archived, kind } = currentFilters();
  const url = new URL(config.listUrl, window.location.href);
  url.searchParams.set("limit", "20");
  url.searchParams.set("archived", String(archived));
  if (unread) url.searchParams.set("unread", "true");
  if (kind) url.searchParams.set("kind", kind);
  if (more && cursor !== null) url.searchParams.set("before", String(cursor));
  let body;
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = await response.json();
  } catch {
    say(strings.failed);
    return;
  }
  if (!more) list.replaceChildren();
  for (const note of body.notes) list.append(row(note));
  cursor = body.next_before;
  older.hidden = cursor === null;
  say(list.children.length ? "" : strings.empty);
}

function say(text) {
  status.textContent = text;
  status.hidden = !text;
}

function row(note) {
  const item = element("li", "notes-page-item");
  item.dataset.id = String(note.id);
  const head = element("div", "notes-page-head");
  const href = noteHref(note.url);
  const title = href ? element("a", "notes-page-title", note.title) : element("span", "notes-page-title", note.title);
  if (href) title.href = href;
  head.append(title, element("span", "notes-page-kind", note.kind), timeElement(note.created));
  if (note.muted) head.append(element("span", "notes-page-flag", strings.muted));
  item.append(head);
  if (note.content) item.append(element("p", "notes-page-content", note.content));
  const actions = element("div", "notes-page-actions");
  const readButton = element("button", "quiet notes-page-read");
  readButton.type = "button";
  const archiveButton = element("button", "quiet notes-page-archive");
  archiveButton.type = "button";
  readButton.addEventListener("click", () =>
    act(item.dataset.read === "true" ? config.unreadUrl : config.readUrl, note.id),
  );
  archiveButton.addEventListener("click", () =>
    act(item.dataset.archived === "true" ? config.unarchiveUrl : config.archiveUrl, note.id),
  );
  const deleteButton = element("button", "quiet notes-page-delete", strings.delete);
  deleteButton.type = "button";
  deleteButton.addEventListener("click", () => {
    if (item.dataset.confirming === "true") {
      act(config.deleteUrl, note.id);
      return;
    }
    item.dataset.confirming = "true";
    deleteButton.textContent = strings.confirmDelete;
    say(strings.confirmHint);
  });
  const keep = () => {
    if (item.dataset.confirming !== "true") return;
    delete item.dataset.confirming;
    deleteButton.textContent = strings.delete;
    say("");
  };
  deleteButton.addEventListener("blur", keep);
  deleteButton.addEventListener("keydown", (event) => {
    if (event.key === "Escape") keep();
  });
  actions.append(readButton, archiveButton, deleteButton);
  item.append(actions);
  setState(item, { read: note.read, archived: Boolean(note.archived) });
  return item;
}

function setState(item, { read, archived }) {
  if (read !== undefined) {
    item.dataset.read = String(read);
    item.classList.toggle("unread", !read);
    item.querySelector(".notes-page-read").textContent = read ? strings.markUnread : strings.markRead;
  }
  if (archived !== undefined) {
    item.dataset.archived = String(archived);
    item.querySelector(".notes-page-archive").textContent = archived ? strings.unarchive : strings.archive;
  }
}

async function act(url, id) {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": config.csrfToken,
      },
      body: JSON.stringify({ ids: [id] }),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch {
    say(strings.failed);
  }
  // The page changes when the socket says so ("notes:changed"), in this tab as in any other.
}

document.addEventListener("notes:changed", ({ detail }) => {
  const { unread, archived } = currentFilters();
  const items = detail.all
    ? [...list.children]
    : detail.ids.map((id) => list.querySelector(`li[data-id="${id}"]`)).filter(Boolean);
  for (const item of items) {
    if (detail.deleted) {
      removeKeepingFocus(item);
      continue;
    }
    if ("archived" in detail && detail.archived !== archived) {
      item.remove(); // moved out of the list this page shows
      continue;
    }
    if ("read" in detail && detail.read && unread) {
      item.remove();
      continue;
    }
    setState(item, { read: detail.read, archived: detail.archived });
  }
  if (!list.children.length) say(strings.empty);
});

/** Remove a row; if focus was in it, it moves to the next row's first button (or the list's heading). */
function removeKeepingFocus(item) {
  const hadFocus = item.contains(document.activeElement);
  const next = item.nextElementSibling || item.previousElementSibling;
  item.remove();
  if (!hadFocus) return;
  say("");
  const target = next?.querySelector("button") || document.getElementById("notes-page-heading");
  if (target === document.getElementById("notes-page-heading")) target.tabIndex = -1;
  target.focus();
}

document.addEventListener("notes:note", ({ detail: { note, replayed } }) => {
  const { unread, archived, kind } = currentFilters();
  if (replayed || archived || (kind && note.kind !== kind) || (unread && note.read)) return;
  if (list.querySelector(`li[data-id="${note.id}"]`)) return;
  list.prepend(row(note));
  say("");
});

filters.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
filters.addEventListener("change", () => load());
older.addEventListener("click", () => load({ more: true }));

load();
