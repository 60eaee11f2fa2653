/**
 * notes.js: what {% notes_bell %} and {% notes_toasts %} need on a page.
 *
 * The connection (notes-client.js) reports what happens; this file decides
 * what the page shows: toasts, the bell and the live indicator. Its
 * configuration (URLs, the user, the translated words) is the JSON block
 * #notes-config that {% notes_toasts %} renders: data, not code, so a strict
 * Content-Security-Policy allows it.
 *
 * Host pages can follow along: every note is also dispatched on `document`
 * as a "notes:note" CustomEvent ({note, replayed}), and the end of each
 * replay as "notes:synced".
 */

import { DesktopNotifier } from "./desktop.js";
import { Inbox } from "./inbox.js";
import { CONNECTED, DISCONNECTED, NotesClient } from "./notes-client.js";
import { NotesApi } from "./notes-api.js";
import { SettingsPanel } from "./settings-panel.js";
import { ToastStack } from "./toasts.js";

const config = JSON.parse(document.getElementById("notes-config").textContent);
const { strings } = config;
const user = config.user || null;

const bellMenu = document.querySelector(".notes-ui .bell-menu");
const inbox =
  user && bellMenu
    ? new Inbox(bellMenu, {
        strings,
        api: new NotesApi({
          listUrl: config.listUrl,
          readUrl: config.readUrl,
          csrfToken: config.csrfToken,
        }),
      })
    : null;

const toasts = new ToastStack(document.getElementById("notes-toasts"), {
  strings,
  onOpen: (note) => inbox?.markOpened(note),
});

// System notifications while the page is hidden, once the user turned them on
// in the bell (desktop.js): never asked for on page load.
const desktop = user ? new DesktopNotifier({ user, onOpen: (note) => inbox?.markOpened(note) }) : null;

// One resume point per account: another user of this browser sees other private notes.
const client = new NotesClient({
  url: config.wsUrl,
  storageKey: `notes-client:last-id:${user ?? ""}`,
});

// The live indicator: "Connecting…" at first, "Reconnecting…" once a
// connection or an attempt has failed, "Live" from the end of the replay
// (the synced frame) for as long as the connection lasts.
const live = document.getElementById("notes-live");
let everLost = false;
function showLive(shown) {
  if (!live) return;
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
  preferences = hello.preferences ?? {};
  settings?.show(preferences);
  inbox?.setUnread(hello.unread);
});

// The user's preferences as the server last said (hello, then "preferences" frames).
let preferences = {};
const settings =
  user && bellMenu?.querySelector("#notes-settings")
    ? new SettingsPanel(bellMenu, { client, strings, desktop })
    : null;
client.addEventListener("preferences", ({ detail }) => {
  preferences = detail;
  settings?.show(preferences);
});

let replaying = true;
client.addEventListener("state", ({ detail: { state } }) => {
  if (state !== CONNECTED) replaying = true;
});
client.addEventListener("synced", ({ detail }) => {
  replaying = false;
  showLive("live");
  document.dispatchEvent(new CustomEvent("notes:synced", { detail }));
});

client.addEventListener("note", ({ detail: note }) => {
  inbox?.noteArrived(note);
  // A muted note (its kind muted, or do not disturb) is listed but neither
  // counted (the server's count leaves it out too) nor popped up.
  const counted = !note.read && !(note.muted && !preferences.count_muted);
  if (inbox && counted && note.id > countedUpTo) inbox.setUnread(inbox.unread + 1);
  // Your own post is no news to you; the bell still counts it, as the server does.
  if (!note.read) popUp(note, replaying);
  document.dispatchEvent(new CustomEvent("notes:note", { detail: { note, replayed: replaying } }));
});

// An unread note may pop up: a system notification when the page is hidden
// and the user gets this kind on the desktop (live notes only: a reconnect's
// replay does not flood the desktop), else a toast, which waits while the page
// is hidden. Nothing pops up for a muted note (its kind muted, or do not
// disturb) or your own post (no news to you; the bell still counts it, as the
// server does); "channels_off" names what the user turned off for its kind.
// Host pages (and tests) learn what became of each: a "notes:popup" event
// with {note, as: "desktop" | "elsewhere" (another tab showed it) | "toast" | "none"}.
async function popUp(note, replayed) {
  const off = note.channels_off ?? [];
  const quiet = note.muted || (user && note.actor === user);
  let as = null;
  if (!quiet && desktop && !replayed && !off.includes("desktop")) as = await desktop.offer(note);
  if (!as) {
    as = quiet || off.includes("toast") ? "none" : "toast";
    if (as === "toast") toasts.show(note);
  }
  document.dispatchEvent(new CustomEvent("notes:popup", { detail: { note, as } }));
}

client.addEventListener("unread", ({ detail: { count } }) => inbox?.unreadChanged(count));

// Other scripts of the page (the inbox page) follow state changes from any tab.
client.addEventListener("changed", ({ detail }) => {
  inbox?.notesChanged(detail);
  document.dispatchEvent(new CustomEvent("notes:changed", { detail }));
});

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

// The server ended this login's access (close code 4401: logged out
// everywhere, a password change, a deactivation). The client has stopped;
// the page shows itself afresh, as whoever its cookie now says (the tab that
// changed its password stays logged in under its new session).
client.addEventListener("revoked", sessionChanged);

client.start();
