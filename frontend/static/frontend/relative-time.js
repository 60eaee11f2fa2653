/**
 * relative-time.js: "2 minutes ago" in the page's language, by the browser's Intl.
 */

const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];

/** `iso` relative to `now`, e.g. "now", "3 minutes ago", "昨天". */
export function relativeTime(iso, { lang = document.documentElement.lang, now = Date.now() } = {}) {
  // Notes are never from the future; a client clock a little behind must not say "in 3 seconds".
  const seconds = Math.min(0, Math.round((new Date(iso).getTime() - now) / 1000));
  const format = new Intl.RelativeTimeFormat(lang || undefined, { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.trunc(seconds / size), unit);
  }
  return seconds > -10 ? format.format(0, "second") : format.format(seconds, "second");
}

/** A <time> element showing `iso` relative to now, with the exact moment as its tooltip. */
export function timeElement(iso) {
  const time = document.createElement("time");
  time.dateTime = iso;
  time.textContent = relativeTime(iso);
  time.title = new Date(iso).toLocaleString(document.documentElement.lang || undefined);
  return time;
}
