"""``/api/notes/`` (list), ``/api/notes/read/`` (mark read) and ``/api/notes/ticket/``."""

from django.http import JsonResponse

from note import conf
from note.http import BadRequest, api_view, json_body, query_int
from note.selectors import note_list_visible, note_read_ids, note_unread_count
from note.serializers import notes_wire
from note.services import note_mark_read
from note.tickets import ticket_issue
from notes_client.protocol import MAX_MARK_READ_IDS, is_note_id

PAGE_DEFAULT = 50
PAGE_MAX = 100


@api_view(methods=("GET",), login_required=False)
def note_list(request):
    """The caller's visible notes: newest first (``before`` pages back), or
    oldest first after ``after``. Anonymous callers see public notes."""
    after = query_int(request, "after")
    before = query_int(request, "before")
    if after is not None and before is not None:
        raise BadRequest("use either 'after' or 'before', not both")
    limit = query_int(request, "limit", default=PAGE_DEFAULT, minimum=1, maximum=PAGE_MAX)
    notes = note_list_visible(user=request.user, after=after, before=before, limit=limit)
    read = note_read_ids(user=request.user, notes=notes)
    return JsonResponse(
        {"notes": notes_wire(notes, read_ids=read), "unread": note_unread_count(user=request.user)}
    )


@api_view(methods=("POST",), limit="MARK_READ_PER_USER")
def note_read(request):
    data = json_body(request)
    if data.get("all") is True:
        result = note_mark_read(user=request.user, all=True)
    else:
        ids = data.get("ids")
        if not isinstance(ids, list) or not all(is_note_id(i) for i in ids):
            raise BadRequest('send {"ids": [note ids]} or {"all": true}')
        if len(ids) > MAX_MARK_READ_IDS:
            raise BadRequest(f"at most {MAX_MARK_READ_IDS} ids at a time")
        result = note_mark_read(user=request.user, ids=ids)
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
