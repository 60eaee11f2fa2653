/**
 * app.js: wires the page. The connection (notes-client.js) reports what
 * happens; this file decides what the page shows: toasts, the bell, the live
 * indicator and the "new news" button. Configuration comes from data-
 * attributes on <body>, the translated words from the JSON block
 * #notes-client-strings (data, so the Content-Security-Policy allows it).
 */

import { Inbox } from "./inbox.js";
import { CONNECTED, DISCONNECTED, NotesClient } from "./notes-client.js";
import { NotesApi } from "./notes-api.js";
import { ToastStack } from "./toasts.js";

const config = document.body.dataset;
const strings = JSON.parse(document.getElementById("notes-client-strings").textContent);
const user = config.user || null;

const inbox = user
  ? new Inbox(document.querySelector(".bell-menu"), {
      strings,
      api: new NotesApi({
        listUrl: config.notesUrl,
        readUrl: config.readUrl,
        csrfToken: config.csrfToken,
      }),
    })
  : null;

const toasts = new ToastStack(document.getElementById("toasts"), {
  strings,
  onOpen: (note) => inbox?.markOpened(note),
});

// One resume point per account: another user of this browser sees other private notes.
const client = new NotesClient({
  url: config.wsUrl,
  storageKey: `notes-client:last-id:${user ?? ""}`,
});

// The live indicator: "Connecting…" at first, "Reconnecting…" once a
// connection or an attempt has failed, "Live" from the end of the replay
// (the synced frame) for as long as the connection lasts.
const live = document.getElementById("live");
let everLost = false;
function showLive(shown) {
  live.dataset.state = shown;
  live.querySelector(".live-text").textContent = strings[shown];
}
client.addEventListener("state", ({ detail: { state } }) => {
  if (state === DISCONNECTED) everLost = true;
  if (state !== CONNECTED) showLive(everLost ? "reconnecting" : "connecting");
});

// hello.unread counts every unread note up to hello.last_id, replayed ones
// included; only notes past it add to the bell.
let countedUpTo = 0;
client.addEventListener("hello", ({ detail: hello }) => {
  if ((hello.user ?? null) !== user) {
    sessionChanged();
    return;
  }
  countedUpTo = hello.last_id;
  inbox?.setUnread(hello.unread);
});

// Notes replayed by the first connection are older than this page, so its
// news list has them already; news from any later note is not on it yet.
let pageSynced = false;
client.addEventListener("synced", () => {
  pageSynced = true;
  showLive("live");
});

// "Show new news (n)" above the list; a click reloads it. (Fetching the list
// on every note would have each open page call the server on every post.)
const freshNews = {
  count: 0,
  button: document.getElementById("news-fresh"),
  add() {
    if (!this.button) return;
    this.count += 1;
    this.button.textContent = strings.freshNews.replace("%(count)s", String(this.count));
    this.button.parentElement.hidden = false;
  },
};
freshNews.button?.addEventListener("click", () => window.location.reload());

client.addEventListener("note", ({ detail: note }) => {
  inbox?.noteArrived(note);
  if (pageSynced && note.kind === "news.published") freshNews.add();
  if (inbox && !note.read && note.id > countedUpTo) inbox.setUnread(inbox.unread + 1);
  // Your own post is no news to you; the bell still counts it, as the server does.
  if (!note.read && !(user && note.actor === user)) toasts.show(note);
});

client.addEventListener("unread", ({ detail: { count } }) => inbox?.unreadChanged(count));

// The session changed in another tab (logged out, or in as someone else): this
// page's account menu belongs to the old one, so show the page afresh. A page
// reloaded for this moments ago stays as it is rather than reload in a loop.
function sessionChanged() {
  client.stop();
  const key = "notes-app:reloaded-at";
  const last = Number(sessionStorage.getItem(key) ?? 0);
  if (Date.now() - last < 10_000) return;
  sessionStorage.setItem(key, String(Date.now()));
  window.location.reload();
}

client.start();
