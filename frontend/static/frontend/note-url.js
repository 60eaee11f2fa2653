/**
 * note-url.js: where a note's link may point.
 *
 * Any app can send a note with any `url`; only http(s) and paths on this site
 * become links, so a "javascript:" URL can never run when a toast is clicked.
 */

/** The absolute URL to open for `url`, or null when it must not be a link. */
export function noteHref(url) {
  if (typeof url !== "string" || url === "") return null;
  let parsed;
  try {
    parsed = new URL(url, window.location.href);
  } catch {
    return null;
  }
  return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
}
