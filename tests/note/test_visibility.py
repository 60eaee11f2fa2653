"""A note is visible when public or addressed to the reader; a private note never leaks."""

import pytest

from note.selectors import note_list_visible, note_unread_count
from note.services import note_create
from note.tokens import token_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    public = note_create(kind="t", title="public")[0]
    to_alice = note_create(kind="t", title="for alice", recipients=[alice])[0]
    to_bob = note_create(kind="t", title="for bob", recipients=[bob])[0]
    return alice, bob, public, to_alice, to_bob


def test_each_user_lists_public_and_own_notes_only(world):
    alice, bob, public, to_alice, to_bob = world
    assert [n.id for n in note_list_visible(user=alice)] == [to_alice.id, public.id]
    assert [n.id for n in note_list_visible(user=bob)] == [to_bob.id, public.id]


def test_anonymous_lists_public_notes_only(world, client):
    *_, public, _to_alice, _to_bob = world
    body = client.get("/api/notes/").json()
    assert [n["id"] for n in body["notes"]] == [public.id]
    assert body["unread"] == 0


def test_private_notes_are_not_counted_for_others(world):
    alice, bob, *_ = world
    assert note_unread_count(user=alice) == 2
    assert note_unread_count(user=bob) == 2


def test_api_lists_only_visible_notes_with_paging(world, client):
    alice, _bob, public, to_alice, to_bob = world
    token = token_issue(user=alice)
    auth = {"Authorization": f"Bearer {token}"}
    newest = client.get("/api/notes/?limit=1", headers=auth).json()
    assert [n["id"] for n in newest["notes"]] == [to_alice.id]
    assert newest["notes"][0]["public"] is False
    older = client.get(f"/api/notes/?before={to_alice.id}", headers=auth).json()
    assert [n["id"] for n in older["notes"]] == [public.id]
    after = client.get(f"/api/notes/?after={public.id}", headers=auth).json()
    assert [n["id"] for n in after["notes"]] == [to_alice.id]
    assert to_bob.id not in {n["id"] for page in (newest, older, after) for n in page["notes"]}


def test_note_json_shape(world, client):
    alice, *_ = world
    note = note_create(kind="news.published", title="T", content="C", url="/news/1/", actor=alice)[
        0
    ]
    body = client.get("/api/notes/?limit=1").json()
    assert body["notes"][0] == {
        "id": note.id,
        "kind": "news.published",
        "title": "T",
        "content": "C",
        "url": "/news/1/",
        "actor": "alice",
        "public": True,
        "created": note.created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "read": False,
    }
