"""The reader's language for a WebSocket connection, chosen like LocaleMiddleware does."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header


def scope_language(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            for code, _quality in parse_accept_lang_header(value.decode("latin-1")):
                if code == "*":
                    break
                try:
                    return get_supported_language_variant(code)
                except LookupError:
                    continue
    return settings.LANGUAGE_CODE
