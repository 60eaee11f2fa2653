"""Token lifecycle: names, expiry, a cheap last_used, listing and revoking, the admin."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.contrib.sessions.models import Session
from django.core import checks
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from note.models import ApiToken, CredentialChange
from note.tokens import token_authenticate, token_issue, token_user

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_issue_token_takes_a_name_and_an_expiry(django_user_model):
    django_user_model.objects.create_user("alice")
    raw = run("issue_token", "alice", "--name", "backup job", "--expires-in-days", "7")
    token = ApiToken.objects.get()
    assert raw.strip().splitlines()[-1].startswith(token.prefix)
    assert token.name == "backup job"
    assert timezone.now() + datetime.timedelta(days=6) < token.expires


def test_issue_token_refuses_a_nonsense_expiry(django_user_model):
    django_user_model.objects.create_user("alice")
    with pytest.raises(CommandError, match="--expires-in-days"):
        run("issue_token", "alice", "--expires-in-days", "-1")


def test_an_expired_token_is_refused(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    raw = token_issue(user=alice, expires=timezone.now() - datetime.timedelta(seconds=1))
    assert token_user(raw) is None


def test_last_used_is_written_once_per_period_not_per_use(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    raw = token_issue(user=alice)
    assert ApiToken.objects.get().last_used is None
    token_authenticate(raw)
    first = ApiToken.objects.get().last_used
    assert first is not None
    token_authenticate(raw)
    assert ApiToken.objects.get().last_used == first
    with override_settings(NOTES_TOKEN_LAST_USED_SECONDS=1):
        ApiToken.objects.update(last_used=first - datetime.timedelta(seconds=5))
        token_authenticate(raw)
        assert ApiToken.objects.get().last_used > first - datetime.timedelta(seconds=5)


def test_list_tokens_shows_each_token_but_never_its_value(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    raw = token_issue(user=alice, name="laptop")
    out = run("list_tokens", "--user", "alice")
    assert "laptop" in out and raw[:12] in out
    assert raw not in out


def test_revoke_token_by_prefix_deletes_it_and_records_the_change(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    raw = token_issue(user=alice)
    out = run("revoke_token", raw[:12])
    assert "revoked" in out
    assert token_user(raw) is None
    assert CredentialChange.objects.filter(user_key=str(alice.pk)).exists()


def test_revoke_token_names_what_it_cannot_find():
    with pytest.raises(CommandError, match="no token"):
        run("revoke_token", "rtn_nothing")


def test_saving_a_user_without_a_credential_change_records_nothing(django_user_model):
    alice = django_user_model.objects.create_user("alice", password="pw-12345678")
    alice.first_name = "Alice"
    alice.save()
    alice.last_login = timezone.now()
    alice.save(update_fields=["last_login"])
    assert not CredentialChange.objects.exists()
    alice.set_password("another-pw-123")
    alice.save()
    assert CredentialChange.objects.filter(user_key=str(alice.pk)).count() == 1


def test_admin_add_shows_the_new_token_once(admin_client, django_user_model):
    bob = django_user_model.objects.create_user("bob")
    response = admin_client.post(
        "/admin/note/apitoken/add/", {"user": bob.pk, "name": "ci", "expires": ""}, follow=True
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(user=bob)
    shown = [str(m) for m in response.context["messages"]]
    assert any(token.prefix in m for m in shown)
    raw = next(m for m in shown if token.prefix in m).split("<code>")[1].split("</code>")[0]
    assert token_user(raw) == bob
    listing = admin_client.get("/admin/note/apitoken/").content.decode()
    assert "ci" in listing and raw not in listing


def test_admin_log_out_everywhere_ends_sessions_and_tokens(admin_client, client, django_user_model):
    bob = django_user_model.objects.create_user("bob", password="pw-bob-12345")
    token_issue(user=bob)
    client.login(username="bob", password="pw-bob-12345")
    assert Session.objects.count() == 2  # the admin's and bob's
    response = admin_client.post(
        "/admin/auth/user/",
        {"action": "logout_everywhere", "_selected_action": [bob.pk]},
        follow=True,
    )
    assert "1 session(s) ended, 1 token(s) revoked" in response.content.decode()
    assert Session.objects.count() == 1
    assert not ApiToken.objects.filter(user=bob).exists()


@pytest.mark.parametrize(
    "name, value, check",
    [
        ("NOTES_TOKEN_LAST_USED_SECONDS", 0, "note.E003"),
        ("NOTES_TOKEN_LAST_USED_SECONDS", "300", "note.E003"),
        ("NOTES_TICKET_SECONDS", 0, "note.E004"),
        ("NOTES_TICKET_SECONDS", 86400, "note.E004"),
    ],
)
def test_a_bad_token_or_ticket_setting_is_an_error_naming_it(name, value, check):
    with override_settings(**{name: value}):
        [message] = checks.run_checks()
    assert message.id == check and name in message.msg
