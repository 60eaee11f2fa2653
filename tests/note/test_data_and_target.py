"""``notify.send(..., data=..., target=...)``: structured data and a generic target."""

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from news.models import News
from note.models import Note
from note.selectors import note_list_visible
from note.serializers import note_payload, note_wire
from note.signals import notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


def send(**kwargs):
    defaults = dict(sender=News, actor=None, title="Paid", kind="billing.paid", recipients=None)
    notify.send(**{**defaults, **kwargs})


def test_data_is_stored_and_sent_with_the_note(alice):
    send(data={"order": 42, "amount": "12.50", "items": (1, 2)}, recipients=[alice])
    [note] = note_list_visible(user=alice)
    wire = note_wire(note_payload(note), read=False)
    # A tuple comes back as the list a client would see: stored as sent.
    assert wire["data"] == {"order": 42, "amount": "12.50", "items": [1, 2]}


def test_a_note_without_data_has_no_data_field_so_v1_frames_are_unchanged(alice):
    send()
    wire = note_wire(note_payload(Note.objects.get()), read=False)
    assert "data" not in wire


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ([1, 2], "must be a JSON object"),
        ("text", "must be a JSON object"),
        ({"when": object()}, "must be plain JSON"),
        ({"x": float("nan")}, "must be plain JSON"),
        ({"big": "x" * 9000}, "at most 8192 are allowed"),
    ],
)
def test_bad_data_is_a_clear_validation_error_and_stores_nothing(alice, data, says):
    with pytest.raises(ValidationError) as info:
        send(data=data)
    assert says in " ".join(info.value.message_dict["data"])
    assert Note.objects.count() == 0


@override_settings(NOTES_MAX_DATA_BYTES=100)
def test_the_data_limit_is_a_setting(alice):
    send(data={"small": "x" * 50})
    with pytest.raises(ValidationError, match="at most 100"):
        send(data={"big": "x" * 200})


def test_target_is_kept_and_gives_the_url(alice):
    news = News.objects.create(author=alice, title="t", content="c")
    send(target=news, recipients=[alice])
    note = Note.objects.get()
    assert note.target == news
    assert note.url == news.get_absolute_url() == f"/news/{news.pk}/"


def test_a_given_url_wins_over_the_targets(alice):
    news = News.objects.create(author=alice, title="t", content="c")
    send(target=news, url="/elsewhere/")
    assert Note.objects.get().url == "/elsewhere/"


def test_an_unsaved_target_is_refused(alice):
    with pytest.raises(ValidationError, match="saved model instance"):
        send(target=News(author=alice, title="t"))
    with pytest.raises(ValidationError, match="saved model instance"):
        send(target="news 7")
    assert Note.objects.count() == 0
