"""``note.signals.notify``: the fixed format, public vs addressed notes."""

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from news.models import News
from note.models import Note
from note.signals import notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(n) for n in ("alice", "bob", "carol")]


def test_notify_public_stores_one_public_note(users):
    alice = users[0]
    notify.send(
        sender=News,
        actor=alice,
        title="Maintenance tonight",
        content="22:00 UTC",
        url="/status/",
        kind="site.maintenance",
        recipients=None,
    )
    note = Note.objects.get()
    assert (note.public, note.actor, note.kind) == (True, alice, "site.maintenance")
    assert (note.title, note.content, note.url) == ("Maintenance tonight", "22:00 UTC", "/status/")


def test_notify_addressed_stores_one_private_note_per_recipient(users):
    alice, bob, carol = users
    notify.send(
        sender=News,
        actor=alice,
        title="Hi",
        content="",
        url="",
        kind="user.dm",
        recipients=[bob, carol, bob],
    )
    notes = Note.objects.order_by("id")
    assert [n.recipient for n in notes] == [bob, carol]
    assert all(not n.public for n in notes)
    assert [n.id for n in notes] == [notes[0].id, notes[0].id + 1]


def test_notify_to_nobody_stores_nothing(users):
    notify.send(
        sender=News, actor=None, title="Nobody", content="", url="", kind="x", recipients=[]
    )
    assert Note.objects.count() == 0


def test_notify_accepts_a_lazy_title_and_no_actor(users):
    from django.utils.translation import gettext_lazy

    notify.send(
        sender=News,
        actor=None,
        title=gettext_lazy("Welcome"),
        content="",
        url="",
        kind="system",
        recipients=[users[1]],
    )
    note = Note.objects.get()
    assert note.title == "Welcome" and note.actor is None


def test_receivers_can_filter_by_sender(users):
    from django.contrib.auth.models import User

    from_news = []
    notify.connect(
        lambda sender, **kw: from_news.append(kw["title"]),
        sender=News,
        weak=False,
        dispatch_uid="test-filter",
    )
    try:
        notify.send(
            sender=User,
            actor=None,
            title="from users",
            content="",
            url="",
            kind="x",
            recipients=None,
        )
        notify.send(
            sender=News,
            actor=None,
            title="from news",
            content="",
            url="",
            kind="x",
            recipients=None,
        )
    finally:
        notify.disconnect(dispatch_uid="test-filter", sender=News)
    assert from_news == ["from news"]
    assert Note.objects.count() == 2


def test_overlong_fields_are_clipped_not_rejected(users):
    notify.send(
        sender=News,
        actor=None,
        title="t" * 2000,
        content="c" * 10_000,
        url="/" + "u" * 2000,
        kind="k" * 200,
        recipients=None,
    )
    note = Note.objects.get()
    assert len(note.title) == 500 and note.title.endswith("…")
    assert len(note.content) == 10_000


def test_a_robust_sender_keeps_its_own_writes_when_the_note_fails(users):
    """note_create is a savepoint inside the sender's transaction, not a trap for it."""
    alice = users[0]
    with transaction.atomic():
        News.objects.create(author=alice, title="before")
        [(_, error)] = notify.send_robust(sender=News, title="bad url", url=123)
        News.objects.create(author=alice, title="after")  # the transaction still works
    assert isinstance(error, TypeError)
    assert sorted(News.objects.values_list("title", flat=True)) == ["after", "before"]
    assert not Note.objects.exists()


def test_a_note_over_the_size_limit_is_refused_with_a_field_error_and_nothing_stored(users):
    from note.services import NoteTooLarge

    with pytest.raises(NoteTooLarge) as caught:
        notify.send(sender=News, title="big", content="😀" * 20_000, recipients=None)
    assert "at most" in caught.value.message_dict["content"][0]
    assert not Note.objects.exists()


def test_the_size_limit_counts_utf8_bytes_of_the_json_not_characters(users, settings):
    settings.NOTES_MAX_NOTE_BYTES = 1000
    notify.send(sender=News, title="fits", content="a" * 700, recipients=None)
    with pytest.raises(ValidationError):
        notify.send(sender=News, title="does not", content="é" * 700, recipients=None)
    assert list(Note.objects.values_list("title", flat=True)) == ["fits"]


def test_a_lone_surrogate_is_refused_with_a_field_error_and_nothing_stored(users):
    # What json.loads makes of "\ud800": no database can store it.
    with pytest.raises(ValidationError) as caught:
        notify.send(sender=News, title="half an emoji \ud83d", recipients=None)
    assert "surrogate" in caught.value.message_dict["title"][0]
    assert not Note.objects.exists()


def test_a_robust_sender_gets_the_size_error_back_and_keeps_its_writes(users):
    with transaction.atomic():
        News.objects.create(author=users[0], title="mine")
        [(_, error)] = notify.send_robust(sender=News, title="big", content="x" * 70_000)
    assert isinstance(error, ValidationError)
    assert News.objects.filter(title="mine").exists()
    assert not Note.objects.exists()


def test_notify_to_a_group_reaches_its_members_at_the_time_of_sending(users):
    from django.contrib.auth.models import Group

    alice, bob, carol = users
    staff = Group.objects.create(name="staff")
    staff.user_set.add(alice, bob)
    notify.send(sender=News, title="Standup", recipients=staff)
    staff.user_set.add(carol)  # joined after: not a recipient of that note
    assert sorted(Note.objects.values_list("recipient__username", flat=True)) == ["alice", "bob"]


def test_a_large_group_costs_one_statement_to_resolve(django_user_model):
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    group = Group.objects.create(name="everyone")
    members = django_user_model.objects.bulk_create(
        [django_user_model(username=f"m{i}") for i in range(300)]
    )
    group.user_set.add(*members)
    user_table = django_user_model._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        notify.send(sender=News, title="All hands", recipients=group)
    reads = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # (Reads of notes that join the user table for the actor's name do not count.)
    from_users = [
        sql
        for sql in reads
        if sql.partition(" FROM ")[2].lstrip().strip('"`').startswith(user_table)
    ]
    assert len(from_users) == 1, reads
    assert Note.objects.filter(recipient__isnull=False).count() == 300


def test_notify_to_a_queryset_of_users(users):
    from django.contrib.auth import get_user_model

    notify.send(
        sender=News,
        title="Hi",
        recipients=get_user_model().objects.filter(username__in=["bob", "carol"]),
    )
    assert sorted(Note.objects.values_list("recipient__username", flat=True)) == ["bob", "carol"]


@pytest.mark.parametrize("wrong", ["alice", 42, [1, 2]])
def test_recipients_of_the_wrong_kind_are_refused_and_nothing_is_stored(users, wrong):
    with pytest.raises(TypeError, match="recipients must be"):
        notify.send(sender=News, title="Hi", recipients=wrong)
    assert not Note.objects.exists()


def test_a_misspelt_recipients_raises_naming_the_key_and_stores_no_public_note(users):
    """``recipient=bob`` (issue 18) used to be dropped: a public note everyone saw."""
    bob = users[1]
    with pytest.raises(TypeError, match=r"'recipient' \(did you mean 'recipients'\?\)"):
        notify.send(sender=News, title="Your invoice", recipient=bob)
    assert not Note.objects.exists()


@pytest.mark.parametrize("key", ["datas", "urls", "level"])
def test_any_keyword_outside_the_fixed_format_raises_and_stores_nothing(users, key):
    with pytest.raises(TypeError, match=f"'{key}'"):
        notify.send(sender=News, title="Hi", recipients=None, **{key: "x"})
    assert not Note.objects.exists()


def test_send_robust_returns_the_unknown_keyword_error(users):
    [(_, error)] = notify.send_robust(sender=News, title="Hi", recipient=users[1])
    assert isinstance(error, TypeError)
    assert "'recipient'" in str(error) and "nothing was stored" in str(error)
    assert not Note.objects.exists()
