"""A Django project made the way a host makes one, with our apps added by docs/integrate.md.

:func:`doc_blocks` reads the blocks of docs/integrate.md marked
``<!-- host: ACTION PATH -->`` and :meth:`HostProject.follow_the_guide`
applies them, literally, to a project from ``django-admin startproject mysite``.
Everything else here is the host's own: a custom user model, ``ATOMIC_REQUESTS``,
its database, whitenoise for its static files, a login page, and two views
that send notes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support.checkout import export_checkout

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "integrate.md"
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
MARKER = re.compile(
    r"<!-- host: (append|write|replace in) ([\w/.]+)(?:: (.*?))? -->\n```\w*\n(.*?)```", re.S
)


@dataclass(frozen=True)
class DocBlock:
    action: str  # "append", "write" or "replace in"
    path: str
    anchor: str | None  # for "replace in": the text the block starts from
    code: str


def doc_blocks() -> list[DocBlock]:
    return [
        DocBlock(action, path, anchor, code)
        for action, path, anchor, code in MARKER.findall(GUIDE.read_text())
    ]


class HostVenv:
    """A fresh virtualenv with this repository installed from its path, not editable."""

    def __init__(self, path: Path, drivers: list[str]) -> None:
        self.path = path
        checkout = export_checkout(path.with_name(path.name + "-checkout"))
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        self.pip("install", "-q", "--upgrade", "pip")
        self.pip(
            "install", "-q", "-c", str(CONSTRAINTS), str(checkout), "whitenoise>=6,<7", *drivers
        )

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)

    def pip(self, *args: str) -> None:
        subprocess.run([self.bin("pip"), *args], check=True, timeout=600)


class HostProject:
    def __init__(self, venv: HostVenv, root: Path, database: dict, layer_prefix: str) -> None:
        self.venv = venv
        self.root = root
        self.database = database
        self.layer_prefix = layer_prefix
        subprocess.run([venv.bin("django-admin"), "startproject", "mysite", str(root)], check=True)

    @property
    def env(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
        return {**clean, "DJANGO_SETTINGS_MODULE": "mysite.settings", "PYTHONUNBUFFERED": "1"}

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [self.venv.bin("python"), "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())

    def append(self, path: str, text: str) -> None:
        with (self.root / path).open("a") as file:
            file.write("\n" + textwrap.dedent(text))

    def host_setup(self) -> None:
        """What the host had before it read our guide."""
        self.write(
            "accounts/models.py",
            """
            from django.contrib.auth.models import AbstractUser
            from django.db import models


            class User(AbstractUser):
                nickname = models.CharField(max_length=40, blank=True)
            """,
        )
        self.write("accounts/__init__.py", "")
        self.write(
            "mysite/views.py",
            """
            from django.contrib.auth import get_user_model
            from django.http import JsonResponse
            from django.shortcuts import get_object_or_404, render

            from note.signals import notify


            def home(request):
                return render(request, "home.html")


            def poke(request, username):
                # ATOMIC_REQUESTS: the note commits with this request's transaction.
                target = get_object_or_404(get_user_model(), username=username)
                notify.send(
                    sender=get_user_model(),
                    actor=None,
                    title=request.GET.get("title", "You were poked"),
                    content="from a host view",
                    url="/",
                    kind="host.poke",
                    recipients=[target],
                )
                return JsonResponse({"poked": username})


            def announce(request):
                notify.send(
                    sender=get_user_model(),
                    actor=None,
                    title=request.GET.get("title", "Announcement"),
                    content="",
                    url="/",
                    kind="host.announce",
                    recipients=None,
                )
                return JsonResponse({"announced": True})
            """,
        )
        self.write(
            "mysite/templates/home.html",
            """
            {% extends "base.html" %}
            {% block content %}<h1>Welcome</h1>{% endblock %}
            """,
        )
        self.write(
            "mysite/templates/registration/login.html",
            """
            {% extends "base.html" %}
            {% block content %}
            <form method="post">{% csrf_token %}{{ form.as_p }}
              <button type="submit">Log in</button></form>
            {% endblock %}
            """,
        )
        self.append(
            "mysite/urls.py",
            """
            from mysite import views

            urlpatterns += [
                path("", views.home, name="home"),
                path("accounts/", include("django.contrib.auth.urls")),
                path("poke/<str:username>/", views.poke),
                path("announce/", views.announce),
            ]
            """,
        )
        self.append(
            "mysite/settings.py",
            f"""
            INSTALLED_APPS += ["accounts"]
            AUTH_USER_MODEL = "accounts.User"
            DATABASES = {{"default": {self.database!r}}}
            DATABASES["default"]["ATOMIC_REQUESTS"] = True
            # An older project's default: our apps must not need migrations for it.
            DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
            ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
            TEMPLATES[0]["DIRS"] = [BASE_DIR / "mysite" / "templates"]
            MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
            STATIC_ROOT = BASE_DIR / "static"
            LOGIN_REDIRECT_URL = "/"
            """,
        )
        # urls.py needs include() for the host's own line above, before the guide's block.
        urls = (self.root / "mysite/urls.py").read_text()
        self.write(
            "mysite/urls.py",
            urls.replace("from django.urls import path", "from django.urls import include, path"),
        )

    def follow_the_guide(self) -> list[DocBlock]:
        blocks = doc_blocks()
        for block in blocks:
            if block.action == "append":
                self.append(block.path, block.code)
            elif block.action == "write":
                self.write(block.path, block.code)
            else:
                target = self.root / block.path
                text = target.read_text()
                assert block.anchor and block.anchor in text, (block.path, block.anchor)
                lines = block.code.splitlines()
                start = lines.index(block.anchor)
                head, tail = lines[:start], lines[start:]
                text = "\n".join(head) + "\n" + text.replace(block.anchor, "\n".join(tail), 1)
                target.write_text(text)
        return blocks

    def after_the_guide(self) -> None:
        """The host's own values for what the guide shows with examples."""
        self.append(
            "mysite/settings.py",
            f"""
            CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = {self.layer_prefix!r}
            """,
        )


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
