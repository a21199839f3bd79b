"""German is the source language; English must translate every visible string."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "i18n.py"


def _i18n():
    spec = importlib.util.spec_from_file_location("kontor_i18n", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_string_is_translated_and_compiled():
    assert _i18n().problems() == []


def test_pages_render_in_english_when_chosen(user_client):
    user_client.get("/language/en")
    page = user_client.get("/account/company").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "My company" in page and "Mobile number" in page
    assert "Meine Firma" not in page


def test_wtforms_messages_follow_the_locale(user_client):
    from tests.support.web import submit

    response = submit(
        user_client,
        "/account/users",
        {"first_name": "A", "last_name": "B", "email": "a@b.de", "role": "boss"},
    )
    assert "Keine gültige Auswahl" in response.get_data(as_text=True)
