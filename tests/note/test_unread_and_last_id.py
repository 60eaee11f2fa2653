"""The connect path's one-statement ``hello`` counts agree with the ORM selectors.

``note_unread_and_last_id`` restates the visibility and read rules in SQL for
speed; this holds it to ``note_last_visible_id`` and ``note_unread_count``
over random histories (public and private notes, notes older than the
account, watermarks, single reads, notes marked unread again, muted kinds), on whichever
database the suite runs; and the inbox's unread filter and read flags to the count.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from note.models import Note
from note.preferences import note_preferences, note_preferences_set
from note.selectors import (
    note_last_visible_id,
    note_list_inbox,
    note_list_visible,
    note_read_ids,
    note_unread_and_last_id,
    note_unread_count,
)
from note.services import note_create, note_mark_read, note_mark_unread

WHO = ("alice", "bob")
KINDS = ("t", "u")

new_note = st.tuples(
    st.just("note"),
    st.sampled_from([None, *WHO]),  # recipient: None is public
    st.tuples(st.booleans(), st.sampled_from(KINDS)),  # created before the accounts existed
)
mark_some = st.tuples(st.just("read"), st.sampled_from(WHO), st.lists(st.integers(0, 30)))
mark_all = st.tuples(st.just("read_all"), st.sampled_from(WHO), st.none())
mark_unread = st.tuples(st.just("unread"), st.sampled_from(WHO), st.lists(st.integers(0, 30)))
mute = st.tuples(
    st.just("mute"),
    st.sampled_from(WHO),
    st.tuples(st.sampled_from(KINDS), st.sampled_from([True, False, None])),  # None: reset
)
count_muted = st.tuples(st.just("count_muted"), st.sampled_from(WHO), st.booleans())
histories = st.lists(
    st.one_of(new_note, mark_some, mark_all, mark_unread, mute, count_muted), max_size=25
)


def expected(user) -> tuple[int, int]:
    last_id = note_last_visible_id(user=user)
    return note_unread_count(user=user, upto_id=last_id), last_id


class UnreadAndLastIdTests(TestCase):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(history=histories)
    def test_agrees_with_the_orm_selectors(self, history):
        joined = timezone.now()
        users = {
            name: get_user_model().objects.create_user(name, date_joined=joined) for name in WHO
        }
        for op, who, arg in history:
            if op == "note":
                old, kind = arg
                [note] = note_create(kind=kind, title="n", recipients=users[who] if who else None)
                if old:
                    Note.objects.filter(pk=note.pk).update(created=joined - timedelta(days=1))
            elif op in ("read", "unread"):
                visible = note_list_visible(user=users[who], limit=100)
                ids = [visible[i % len(visible)].id for i in arg] if visible else []
                mark = note_mark_read if op == "read" else note_mark_unread
                mark(user=users[who], ids=ids)
            elif op == "mute":
                kind, muted = arg
                change = {None: "reset", True: "mute", False: "unmute"}[muted]
                note_preferences_set(user=users[who], **{change: [kind]})
            elif op == "count_muted":
                note_preferences_set(user=users[who], count_muted=arg)
            else:
                note_mark_read(user=users[who], all=True)
        for user in (*users.values(), None):
            assert note_unread_and_last_id(user=user) == expected(user)
        for user in users.values():
            # The inbox's unread filter and the read flags tell the same story as the count.
            unread = note_list_inbox(user=user, unread=True, limit=100)
            uncounted = note_preferences(user=user).uncounted_kinds()
            assert len([n for n in unread if n.kind not in uncounted]) == note_unread_count(
                user=user
            )
            visible = note_list_visible(user=user, limit=100)
            read = note_read_ids(user=user, notes=visible)
            assert {n.id for n in visible} - read == {n.id for n in unread}

    def test_counts_what_a_new_user_has_not_read(self):
        earlier = note_create(kind="t", title="before you came")[0]
        Note.objects.filter(pk=earlier.pk).update(created=timezone.now() - timedelta(days=1))
        alice = get_user_model().objects.create_user("alice")
        note_create(kind="t", title="after you came")
        [private] = note_create(kind="t", title="for alice", recipients=alice)
        note_create(kind="t", title="for someone else", recipients=[self._bob()])
        assert note_unread_and_last_id(user=alice) == (2, private.id)
        note_mark_read(user=alice, ids=[private.id])
        assert note_unread_and_last_id(user=alice) == (1, private.id)
        assert note_unread_and_last_id(user=None) == (0, private.id - 1)

    def _bob(self):
        return get_user_model().objects.create_user("bob")
