"""API tokens: shown once, stored hashed, accepted as Bearer by the API."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from note.models import ApiToken
from note.tokens import token_user

pytestmark = pytest.mark.django_db


def issue(*args):
    out = StringIO()
    call_command("issue_token", *args, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def test_issue_token_prints_a_token_that_is_stored_only_hashed(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    token = issue("alice")
    stored = ApiToken.objects.get()
    assert token not in (stored.key_hash, stored.prefix)
    assert len(token) > 40 and stored.prefix == token[:12]
    assert token_user(token) == alice


def test_issue_token_create_makes_the_user(django_user_model):
    token = issue("newbie", "--create")
    assert token_user(token).username == "newbie"


def test_issue_token_for_a_missing_user_fails_clearly():
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        issue("ghost")


def test_each_issue_gives_a_new_token(django_user_model):
    django_user_model.objects.create_user("alice")
    assert issue("alice") != issue("alice")


def test_tokens_of_inactive_users_are_refused(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    token = issue("alice")
    alice.is_active = False
    alice.save()
    assert token_user(token) is None


def test_token_calls_need_no_csrf(django_user_model):
    from django.test import Client

    django_user_model.objects.create_user("alice")
    token = issue("alice")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/notes/read/",
        data={"all": True},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
