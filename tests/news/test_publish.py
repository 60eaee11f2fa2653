"""Publishing news creates exactly one public note, from every entry point; editing creates none."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from news.models import News
from news.services import news_publish
from note.models import Note
from note.tokens import token_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw-alice-123")


def assert_one_news_note(news):
    notes = list(Note.objects.all())
    assert len(notes) == 1
    note = notes[0]
    assert note.kind == "news.published"
    assert note.recipient is None
    assert note.title == f"alice posted news: {news.title}"
    assert note.content == news.content
    assert note.url == f"/news/{news.pk}/"
    assert note.actor == news.author


def test_service_publishes_one_note(alice):
    news = news_publish(author=alice, title="Hello", content="World")
    assert_one_news_note(news)


def test_page_form_publishes_one_note(client, alice):
    client.force_login(alice)
    response = client.post(reverse("news-create"), {"title": "From form", "content": "c"})
    assert response.status_code == 302
    assert_one_news_note(News.objects.get())


def test_page_form_with_errors_publishes_nothing(client, alice):
    client.force_login(alice)
    response = client.post(reverse("news-create"), {"title": "", "content": "c"})
    assert response.status_code == 400
    assert Note.objects.count() == 0


def test_api_with_token_publishes_one_note(client, alice):
    token = token_issue(user=alice)
    response = client.post(
        "/api/news/",
        data=json.dumps({"title": "From API", "content": "c"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["title"] == "From API" and body["author"] == "alice"
    assert_one_news_note(News.objects.get(pk=body["id"]))


def test_api_refuses_content_too_large_for_a_note_with_a_field_error(client, alice):
    token = token_issue(user=alice)
    response = client.post(
        "/api/news/",
        data=json.dumps({"title": "Emoji", "content": "😀" * 20_000}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert "bytes" in response.json()["errors"]["content"][0]
    assert not News.objects.exists() and not Note.objects.exists()


def test_admin_add_of_content_too_large_shows_the_form_error(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    response = client.post(
        reverse("admin:news_news_add"), {"title": "Big", "content": "😀" * 20_000}
    )
    assert response.status_code == 200
    assert b"bytes" in response.content
    assert not News.objects.exists() and not Note.objects.exists()


def test_api_with_session_needs_csrf(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    payload = {"data": json.dumps({"title": "x"}), "content_type": "application/json"}
    refused = client.post("/api/news/", **payload)
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/json"
    assert Note.objects.count() == 0

    client.get("/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post("/api/news/", headers={"X-CSRFToken": token}, **payload)
    assert accepted.status_code == 201
    assert Note.objects.count() == 1


def test_admin_add_publishes_one_note_and_edit_publishes_none(client, django_user_model):
    admin = django_user_model.objects.create_superuser("alice", password="pw-alice-123")
    client.force_login(admin)
    response = client.post(
        reverse("admin:news_news_add"), {"title": "Admin news", "content": "first"}
    )
    assert response.status_code == 302, response.content
    news = News.objects.get()
    assert news.author == admin
    assert_one_news_note(news)

    response = client.post(
        reverse("admin:news_news_change", args=[news.pk]),
        {"title": "Admin news, edited", "content": "second"},
    )
    assert response.status_code == 302
    news.refresh_from_db()
    assert news.title == "Admin news, edited"
    assert Note.objects.count() == 1  # the edit sent nothing


def test_resaving_news_sends_nothing(alice):
    news = news_publish(author=alice, title="Once")
    news.title = "Twice"
    news.save()
    News.objects.filter(pk=news.pk).update(content="third")
    assert Note.objects.count() == 1


def test_post_news_command_publishes_one_note(alice):
    out = StringIO()
    call_command("post_news", user="alice", title="From CLI", content="c", stdout=out)
    news = News.objects.get()
    assert f"published news {news.pk}" in out.getvalue()
    assert_one_news_note(news)


def test_post_news_command_refuses_unknown_user():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("post_news", user="nobody", title="x")
    assert Note.objects.count() == 0


def test_news_published_signal_is_sent_once_with_the_sender(alice):
    from news.signals import news_published

    seen = []

    def receiver(sender, news, **kwargs):
        seen.append((sender, news.title))

    news_published.connect(receiver)
    try:
        news_publish(author=alice, title="Signal")
    finally:
        news_published.disconnect(receiver)
    assert seen == [(News, "Signal")]


def test_news_detail_page_shows_the_news(client, alice):
    news = news_publish(author=alice, title="<b>Bold</b>", content="Body")
    response = client.get(f"/news/{news.pk}/")
    assert response.status_code == 200
    assert b"&lt;b&gt;Bold&lt;/b&gt;" in response.content
