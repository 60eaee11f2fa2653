/**
 * protocol.js: the numbers of the /ws/notes/ protocol (v1) for browsers, no DOM.
 *
 * The same names and numbers as clients/python/notes_client/protocol.py and
 * the tables of docs/protocol.md; tests/test_protocol_tables.py holds the
 * three equal. notes-client.js imports it; so may any page.
 */

export const PROTOCOL_VERSION = 1;

/** Every code the server closes a socket with, and what it tells the client. */
export const CloseCode = Object.freeze({
  NORMAL: 1000, // the session logged out: its browser connections end
  GOING_AWAY: 1001, // the server is shutting down: resume with ?after=
  POLICY: 1008, // the client kept flooding after rate_limited errors
  TOO_BIG: 1009, // the client sent a frame over MAX_FRAME_BYTES
  INTERNAL_ERROR: 1011, // a server error: reconnect with back-off
  SERVICE_RESTART: 1012, // the server could not keep the client up to date: resume
  TRY_AGAIN_LATER: 1013, // the client fell behind (or read a replay too slowly): resume later
  BAD_REQUEST: 4400, // the handshake's request was bad; an error frame says why
  REVOKED: 4401, // the credential ended (revoked, expired, ticket used): don't retry with it
  NOT_FOUND: 4404, // no WebSocket endpoint at this path
  RATE_LIMITED: 4429, // a limit refused the handshake: wait the reason's seconds, then back off
});

/** The largest frame either side sends: a bigger one from the client closes with TOO_BIG. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Ids in one mark_read, mark_unread, archive, unarchive or delete frame. */
export const MAX_MARK_READ_IDS = 1000;
/** Kinds are texts of 1 to this many characters (preferences). */
export const MAX_KIND_CHARS = 64;
/** The longest do-not-disturb a preferences frame may ask for, in minutes (a week). */
export const MAX_QUIET_MINUTES = 7 * 24 * 60;
/** Where a note can reach a user; the kind "*" in a preferences frame's channels means every kind. */
export const Channel = Object.freeze({ TOAST: "toast", DESKTOP: "desktop", EMAIL: "email" });
/** The largest note id (64-bit signed): a BigInt, as it is past Number.MAX_SAFE_INTEGER. */
export const MAX_NOTE_ID = 2n ** 63n - 1n;

/** The seconds a RATE_LIMITED close's reason asks for ("...; retry after 3 s"), or null. */
export function retryAfter(reason) {
  const match = /retry after (\d{1,6}) s/.exec(reason || "");
  return match ? Number(match[1]) : null;
}
