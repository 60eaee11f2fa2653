/**
 * site.js: the example site's own use of the notes on its page.
 *
 * {% notes_toasts %} dispatches every note on `document` ("notes:note"); the
 * news list follows with a "Show new news (n)" button above it, and a click
 * reloads the page. (Fetching the list on every note would have each open
 * page call the server on every post.) Notes replayed by a (re)connection are
 * older than the page or already counted, so only live ones count.
 */

const button = document.getElementById("news-fresh");

if (button) {
  let count = 0;
  document.addEventListener("notes:note", ({ detail: { note, replayed } }) => {
    if (replayed || note.kind !== "news.published") return;
    count += 1;
    button.textContent = button.dataset.label.replace("%(count)s", String(count));
    button.parentElement.hidden = false;
  });
  button.addEventListener("click", () => window.location.reload());
}
