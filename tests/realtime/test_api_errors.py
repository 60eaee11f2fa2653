"""Every bad input to the JSON API gets a JSON error with a fitting status, never HTML or a 500."""

import json

import pytest

from note.models import Note
from note.services import note_create
from note.tokens import token_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth(django_user_model):
    user = django_user_model.objects.create_user("alice")
    return {"Authorization": f"Bearer {token_issue(user=user)}"}


def assert_json_error(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json()["error"], str)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        b'"a string"',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"title": 12}',
        b'{"title": null}',
        b'{"title": ["x"]}',
        b'{"content": "no title"}',
        b'{"title": ""}',
        json.dumps({"title": "x" * 201}).encode(),
        b'{"title": "ok", "content": {"a": 1}}',
        b'{"title": "' + b"9" * 300_000 + b'"}',
    ],
)
def test_bad_news_bodies_get_400(client, auth, body):
    response = client.post("/api/news/", data=body, content_type="application/json", headers=auth)
    assert_json_error(response, 400)
    assert Note.objects.count() == 0


def test_news_field_errors_are_per_field(client, auth):
    response = client.post(
        "/api/news/", data={"title": ""}, content_type="application/json", headers=auth
    )
    assert_json_error(response, 400)
    assert "title" in response.json()["errors"]


def test_news_without_login_is_401(client):
    response = client.post("/api/news/", data={"title": "x"}, content_type="application/json")
    assert_json_error(response, 401)


@pytest.mark.parametrize(
    "header", ["Bearer nope", "Bearer ", "Basic abc", "Bearer " + "x" * 5000, "bearer"]
)
def test_bad_tokens_are_401(client, header):
    response = client.get("/api/notes/", headers={"Authorization": header})
    assert_json_error(response, 401)


def test_wrong_method_is_405(client, auth):
    assert_json_error(client.get("/api/news/", headers=auth), 405)
    assert_json_error(client.delete("/api/notes/", headers=auth), 405)


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "limit=0",
        "limit=101",
        "limit=99999999999999999999999",
        "limit=-1",
        "before=x",
        "after=1.5",
        "after=-3",
        "before=1e3",
        "after=1&before=5",
        "after=" + "9" * 30,
    ],
)
def test_bad_list_queries_get_400(client, auth, query):
    assert_json_error(client.get(f"/api/notes/?{query}", headers=auth), 400)


@pytest.mark.parametrize(
    "body",
    [
        b"nope",
        b"[]",
        b"{}",
        b'{"ids": "1"}',
        b'{"ids": [1, "2"]}',
        b'{"ids": [true]}',
        b'{"ids": [1.5]}',
        b'{"ids": [-1]}',
        b'{"ids": [0]}',
        b'{"all": "yes"}',
        b'{"ids": [' + b"9" * 40 + b"]}",
        json.dumps({"ids": list(range(1, 1002))}).encode(),
    ],
)
def test_bad_read_bodies_get_400(client, auth, body):
    response = client.post(
        "/api/notes/read/", data=body, content_type="application/json", headers=auth
    )
    assert_json_error(response, 400)


def test_unknown_ids_are_ignored(client, auth):
    note_create(kind="t", title="n")
    response = client.post(
        "/api/notes/read/", data={"ids": [424242]}, content_type="application/json", headers=auth
    )
    assert response.status_code == 200
    assert response.json() == {"unread": 1}


def test_read_without_login_is_401(client):
    response = client.post("/api/notes/read/", data={"all": True}, content_type="application/json")
    assert_json_error(response, 401)


def test_unknown_api_path_is_json_404(client, settings):
    settings.DEBUG = False
    assert_json_error(client.get("/api/nothing/"), 404)
