"""Dates, numbers and amounts come from Flask-Babel in the page's language,
times in Europe/Berlin; the worker formats the same way without a request."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask, render_template_string
from flask.testing import FlaskClient
from flask_babel import force_locale

from core.data.db import bind
from tests.conftest import upgrade

NBSP, NNBSP = "\u00a0", "\u202f"  # Babel's spaces before € (German) and before PM (English)
MINUS = "\u2212"  # a real minus sign, not the hyphen of the locale data
WINTER = dt.datetime(2026, 11, 30, 13, 5)  # stored as naive UTC; 14:05 in Berlin
SUMMER = dt.datetime(2026, 7, 1, 22, 30)  # 00:30 on the next day in Berlin
FILTERS = (
    "{{ cents|euro }}|{{ minus|euro }}|{{ when|datetime }}|{{ when|date }}|{{ summer|datetime }}"
    "|{{ nothing|datetime }}|{{ 12500|amount }}|{{ 1200000000|amount('bytes') }}"
    "|{{ 3000000000|amount('bytes') }}|{{ 999|amount('bytes') }}"
)
VALUES = {"cents": 123456, "minus": -1000, "when": WINTER, "summer": SUMMER, "nothing": None}

GERMAN = [
    f"1.234,56{NBSP}€",
    f"{MINUS}10,00{NBSP}€",
    "30.11.2026, 14:05",
    "30.11.2026",
    "02.07.2026, 00:30",
    "–",
    "12.500",
    "1,2 GB",
    "3 GB",
    "999 B",
]
ENGLISH = [
    "€1,234.56",
    f"{MINUS}€10.00",
    f"Nov 30, 2026, 2:05{NNBSP}PM",
    "Nov 30, 2026",
    f"Jul 2, 2026, 12:30{NNBSP}AM",
    "–",
    "12,500",
    "1.2 GB",
    "3 GB",
    "999 B",
]


def _render(app: Flask, **request: object) -> list[str]:
    with app.test_request_context("/", **request):
        return render_template_string(FILTERS, **VALUES).split("|")


def test_filters_write_german_by_default(app: Flask) -> None:
    assert _render(app) == GERMAN


def test_filters_write_english_when_the_language_cookie_asks(app: Flask) -> None:
    assert _render(app, headers={"Cookie": "kontor_lang=en"}) == ENGLISH


def test_the_worker_formats_without_a_request(app: Flask) -> None:
    with app.app_context():
        assert render_template_string(FILTERS, **VALUES).split("|") == GERMAN
        with force_locale("en"):
            assert render_template_string(FILTERS, **VALUES).split("|") == ENGLISH


def _plain(html: str) -> str:
    return re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", "", html))


def test_subscription_page_in_both_languages(app: Flask, user_client: FlaskClient, owner) -> None:
    from plugins.subscriptions.models import Subscription

    upgrade(app, owner.account, "standard")
    with app.app_context(), bind(app).connection_context():
        Subscription.update(period_end=dt.datetime(2026, 11, 30, 23, 30)).execute()
    german = _plain(user_client.get("/account/subscription").get_data(as_text=True))
    assert f"Abrechnung: monatlich, 19,90{NBSP}€" in german
    assert "Nächste Erneuerung: 01.12.2026" in german  # midnight has passed in Berlin
    user_client.set_cookie("kontor_lang", "en")
    english = _plain(user_client.get("/account/subscription").get_data(as_text=True))
    assert "Billing: monthly, €19.90" in english
    assert "Next renewal: Dec 1, 2026" in english


def test_ago_says_roughly_how_long_ago_in_the_page_language(app: Flask) -> None:
    from core.data.db import utcnow

    template = "{{ five|ago }}|{{ now|ago }}|{{ hours|ago }}"
    values = {
        "five": utcnow() - dt.timedelta(minutes=5, seconds=10),
        "now": utcnow() - dt.timedelta(seconds=20),
        "hours": utcnow() - dt.timedelta(hours=3),
    }
    with app.test_request_context():
        assert render_template_string(template, **values) == (
            "vor 5 Minuten|gerade eben|vor 3 Stunden"
        )
        with force_locale("en"):
            assert render_template_string(template, **values) == (
                "5 minutes ago|just now|3 hours ago"
            )
