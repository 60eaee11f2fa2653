"""``/api/notes/`` (list, filters), the actions on notes (read, unread, archive,
unarchive, delete), preferences, and ``/api/notes/ticket/``."""

import json

from django.http import JsonResponse

from note import conf
from note.deletion import note_delete
from note.http import BadRequest, api_view, json_body, query_int
from note.preferences import UNSET, PreferenceError, note_preferences, note_preferences_set
from note.selectors import (
    note_archived_ids,
    note_list_inbox,
    note_list_visible,
    note_read_ids,
    note_unread_now,
)
from note.serializers import notes_wire
from note.services import note_archive, note_mark_read, note_mark_unread
from note.tickets import ticket_issue
from notes_client import protocol
from notes_client.protocol import MAX_MARK_READ_IDS, is_note_id

PAGE_DEFAULT = 50
PAGE_MAX = 100
KINDS_MAX = 20
FLAGS = {"1": True, "true": True, "0": False, "false": False}


@api_view(methods=("GET",), login_required=False)
def note_list(request):
    """The caller's visible notes: newest first (``before`` pages back), or
    oldest first after ``after``. Anonymous callers see public notes.

    ``unread``, ``archived`` (``true``/``false``) and ``kind`` (repeatable)
    filter the newest-first listing, the inbox page's; ``next_before`` is the
    cursor of the next page, or null on the last.
    """
    after = query_int(request, "after")
    before = query_int(request, "before")
    if after is not None and before is not None:
        raise BadRequest("use either 'after' or 'before', not both")
    limit = query_int(request, "limit", default=PAGE_DEFAULT, minimum=1, maximum=PAGE_MAX)
    unread, archived = query_flag(request, "unread"), query_flag(request, "archived")
    kinds = request.GET.getlist("kind")
    if len(kinds) > KINDS_MAX or not all(0 < len(k) <= 64 for k in kinds):
        raise BadRequest(f"'kind' takes at most {KINDS_MAX} kinds of 1 to 64 characters")
    filtered = unread is not None or archived is not None or kinds
    if filtered and after is not None:
        raise BadRequest("'unread', 'archived' and 'kind' page with 'before', not 'after'")
    if filtered:
        notes = note_list_inbox(
            user=request.user,
            before=before,
            limit=limit,
            unread=unread,
            archived=archived,
            kinds=kinds,
        )
    else:
        notes = note_list_visible(user=request.user, after=after, before=before, limit=limit)
    read = note_read_ids(user=request.user, notes=notes)
    archived_ids = note_archived_ids(user=request.user, notes=notes)
    body = {
        "notes": notes_wire(notes, read_ids=read, archived_ids=archived_ids),
        "unread": note_unread_now(user=request.user),
    }
    if after is None:
        body["next_before"] = notes[-1].id if len(notes) == limit else None
    return JsonResponse(body)


@api_view(methods=("POST",), limit="MARK_READ_PER_USER")
def note_read(request):
    data = json_body(request)
    if data.get("all") is True:
        result = note_mark_read(user=request.user, all=True)
    else:
        usage = 'send {"ids": [note ids]} or {"all": true}'
        result = note_mark_read(user=request.user, ids=body_ids(data, usage))
    return JsonResponse({"unread": result.unread})


@api_view(methods=("POST",))
def note_ticket(request):
    """A one-use ticket that opens one socket (``/ws/notes/?ticket=``) within
    ``NOTES_TICKET_SECONDS``, under the credential this call came with."""
    if request.api_token is not None:
        ticket = ticket_issue(user=request.user, token=request.api_token)
    else:
        ticket = ticket_issue(user=request.user, session_key=request.session.session_key)
    return JsonResponse({"ticket": ticket, "expires_in": conf.TICKET_SECONDS}, status=201)


@api_view(methods=("POST",), limit="MARK_READ_PER_USER")
def note_unread(request):
    """Mark notes unread again: ``{"ids": [...]}`` -> ``{"unread": n}``."""
    result = note_mark_unread(user=request.user, ids=body_ids(json_body(request)))
    return JsonResponse({"unread": result.unread})


@api_view(methods=("POST",), limit="MARK_READ_PER_USER")
def note_archive_view(request):
    """Archive notes: ``{"ids": [...]}`` -> ``{"archived": [ids that changed]}``."""
    changed = note_archive(user=request.user, ids=body_ids(json_body(request)))
    return JsonResponse({"archived": changed})


@api_view(methods=("POST",), limit="MARK_READ_PER_USER")
def note_unarchive_view(request):
    """Unarchive notes: ``{"ids": [...]}`` -> ``{"unarchived": [ids that changed]}``."""
    changed = note_archive(user=request.user, ids=body_ids(json_body(request)), archived=False)
    return JsonResponse({"unarchived": changed})


@api_view(methods=("POST",), limit="MARK_READ_PER_USER")
def note_delete_view(request):
    """Delete notes for the caller: ``{"ids": [...]}`` -> ``{"deleted": [ids that went],
    "unread": n}``. Ids the caller cannot see (or deleted before) are left out."""
    result = note_delete(user=request.user, ids=body_ids(json_body(request)))
    return JsonResponse({"deleted": result.ids, "unread": result.unread})


@api_view(methods=("GET", "POST"))
def note_preferences_view(request):
    """The caller's preferences; POST ``{"mute": [kinds], "unmute": [...], "reset": [...],
    "quiet_minutes": n, "count_muted": bool, "channels": {kind: {channel: bool|null}}}``
    (each optional) changes them first."""
    if request.method == "GET":
        return JsonResponse(note_preferences(user=request.user).wire())
    try:
        command = protocol.parse_command(json.dumps({**json_body(request), "type": "preferences"}))
        unset = UNSET
        result = note_preferences_set(
            user=request.user,
            mute=command.mute,
            unmute=command.unmute,
            reset=command.reset,
            quiet_seconds=unset if command.quiet_minutes is None else command.quiet_minutes * 60,
            count_muted=unset if command.count_muted is None else command.count_muted,
            channels=command.channels,
        )
    except (protocol.ProtocolError, PreferenceError) as exc:
        raise BadRequest(str(exc)) from None
    return JsonResponse({**result.preferences.wire(), "unread": result.unread})


def body_ids(data: dict, usage: str = 'send {"ids": [note ids]}') -> list[int]:
    ids = data.get("ids")
    if not isinstance(ids, list) or not all(is_note_id(i) for i in ids):
        raise BadRequest(usage)
    if len(ids) > MAX_MARK_READ_IDS:
        raise BadRequest(f"at most {MAX_MARK_READ_IDS} ids at a time")
    return ids


def query_flag(request, name: str) -> bool | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in FLAGS:
        raise BadRequest(f"'{name}' must be true or false")
    return FLAGS[raw.lower()]
