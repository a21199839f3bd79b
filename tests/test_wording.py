"""Wording and small page behaviours a newcomer notices: plurals, signs, one
term per thing, confirmations, messages after logout, unique element ids."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from core.data.db import bind
from core.data.models import User
from tests.conftest import PASSWORD, upgrade
from tests.support.web import csrf_token, login, submit

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "core" / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def _flash_after(client, response) -> str:
    assert response.status_code == 302
    return _text(client.get(response.headers["Location"]).get_data(as_text=True))


@pytest.mark.parametrize(
    ("others", "message"),
    [
        (0, "Es gab keine anderen Sitzungen."),
        (1, "1 andere Sitzung wurde abgemeldet."),
        (2, "2 andere Sitzungen wurden abgemeldet."),
    ],
)
def test_logging_out_other_sessions_counts_in_words(app, user_client, owner, others, message):
    for _ in range(others):
        login(app.test_client(), owner.email, PASSWORD)
    response = submit(
        user_client,
        "/account/profile/sessions",
        {"submit": "1"},
        "others-",
    )
    text = _flash_after(user_client, response)
    assert message in text and "(en)" not in text


def test_a_price_drop_shows_a_real_minus_sign(app, user_client, owner):
    page = user_client.get("/account/subscription").get_data(as_text=True)
    current = re.search(r"/account/subscription/change\?plan=(\w+)", page)
    with app.app_context(), bind(app).connection_context():
        from plugins.subscriptions.services import subscription

        start = subscription(owner.account).plan
    upgrade(app, owner.account, "premium")
    text = _text(user_client.get(f"/account/subscription/change?plan={start}").get_data(True))
    assert re.search("Differenz: \u2212\\d", text), text
    assert "Differenz: -" not in text
    assert current is None or current.group(1)  # the page links plans by key


def test_one_term_each_for_plan_and_mail_account():
    """German: "Tarif" and "E-Mail-Konto"; English: "plan" and "e-mail account"."""
    for message in read_po(PO.open("rb")):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for msgid in ids:
            assert not re.search(r"\bPlan\b|E-Mail-Account", msgid), msgid
        for msgstr in strings:
            assert not re.search(r"(?i)\btariff|\bemail account|mail box", msgstr), msgstr


def test_removing_a_user_asks_first_on_a_page_of_its_own(app, make_owner):
    owner = make_owner("chef@example.com")
    upgrade(app, owner.account)
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    submit(
        client,
        "/account/users",
        {"first_name": "Max", "last_name": "Muster", "email": "max@example.com", "role": "member"},
    )
    with app.app_context(), bind(app).connection_context():
        max_id = User.get(User.email == "max@example.com").id
    users = client.get("/account/users").get_data(as_text=True)
    assert f'action="/account/users/{max_id}/remove"' not in users  # no one-click removal
    assert f'href="/account/users/{max_id}/remove"' in users
    confirm = client.get(f"/account/users/{max_id}/remove")
    assert confirm.status_code == 200
    text = _text(confirm.get_data(as_text=True))
    assert "Möchten Sie Max Muster (max@example.com) wirklich entfernen?" in text
    assert client.get(f"/account/users/{owner.id}/remove").status_code == 404  # not oneself
    token = csrf_token(client, f"/account/users/{max_id}/remove")
    response = client.post(f"/account/users/{max_id}/remove", data={"csrf_token": token})
    assert "Der Benutzer wurde entfernt." in _flash_after(client, response)
    with app.app_context(), bind(app).connection_context():
        assert User.get_or_none(User.email == "max@example.com") is None


def test_logout_says_so_and_login_sends_the_logged_in_onwards(user_client):
    assert user_client.get("/login").headers["Location"].endswith("/account/")
    assert user_client.get("/login?next=/account/mail").headers["Location"] == "/account/mail"
    assert user_client.get("/register").headers["Location"].endswith("/account/")
    token = csrf_token(user_client, "/account/")
    response = user_client.post("/logout", data={"csrf_token": token})
    assert "Sie wurden abgemeldet." in _flash_after(user_client, response)
    assert user_client.get("/login").status_code == 200
    assert user_client.get("/register").status_code == 200


def test_company_form_asks_for_a_phone_and_a_notification_address(user_client):
    page = user_client.get("/account/company").get_data(as_text=True)
    assert re.search(r'<input[^>]*type="tel"[^>]*name="mobile_number"', page) or re.search(
        r'<input[^>]*name="mobile_number"[^>]*type="tel"', page
    )
    response = submit(
        user_client,
        "/account/company",
        {"company_name": "Muster GmbH", "notification_email": "  ", "mobile_number": ""},
    )
    assert response.status_code == 422
    assert "Bitte geben Sie eine E-Mail-Adresse für Benachrichtigungen ein." in _text(
        response.get_data(as_text=True)
    )


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids[value] += 1


def test_every_page_has_unique_element_ids(app, user_client, owner):
    """Every GET page of the settings area, sections and their sub-pages."""
    submit(user_client, "/account/mail", {"mode": "service", "keep_history": "y", "submit": "1"})
    paths = sorted(
        {
            rule.rule
            for rule in app.url_map.iter_rules()
            if "GET" in rule.methods
            and not rule.arguments
            and (rule.rule.startswith("/account") or rule.rule in ("/login", "/register"))
        }
    )
    assert len(paths) >= 10, paths
    checked = 0
    for path in paths:
        client = user_client if path.startswith("/account") else app.test_client()
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parser = _Ids()
        parser.feed(response.get_data(as_text=True))
        doubles = [i for i, n in parser.ids.items() if n > 1]
        assert not doubles, (path, doubles)
        checked += 1
    assert checked >= 10
