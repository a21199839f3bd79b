"""Dates, numbers, sizes and amounts in the current language, through Flask-Babel.

German pages show "30.11.2026, 14:05" and "1.234,56 €", English ones
"Nov 30, 2026, 2:05 PM" and "€1,234.56". Times are stored as naive UTC and
shown in ``TIMEZONE`` (Flask-Babel's ``BABEL_DEFAULT_TIMEZONE``). Outside a
request (the queue worker) the language is German unless ``force_locale``
says otherwise; an app context is needed either way.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Flask
from flask_babel import format_currency as babel_currency
from flask_babel import format_date, format_decimal, format_time, format_timedelta, get_locale
from flask_babel import gettext as _

LANGUAGES = ("de", "en")  # the first is the default
LANGUAGE_COOKIE = "kontor_lang"
TIMEZONE = "Europe/Berlin"
CURRENCY = "EUR"
NONE = "–"  # shown for a missing date

_BYTE_UNITS = (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3))


def format_when(value: dt.datetime | None, with_time: bool = True) -> str:
    """A stored (naive UTC) time in Berlin: the language's medium date and,
    with ``with_time``, its short time (no seconds)."""
    if value is None:
        return NONE
    date = format_date(value, "medium")
    if not with_time:
        return date
    pattern = get_locale().datetime_formats["medium"]
    return pattern.format(format_time(value, "short"), date)


def format_ago(value: dt.datetime) -> str:
    """How long ago a stored (naive UTC) time was, roughly: "vor 5 Minuten",
    "gerade eben" under a minute."""
    elapsed = dt.datetime.now(dt.UTC).replace(tzinfo=None) - value
    if elapsed < dt.timedelta(minutes=1):
        return _("gerade eben")
    return format_timedelta(-elapsed, granularity="minute", add_direction=True)


def format_number(amount: int | float) -> str:
    """A count with the language's digit grouping: 12500 -> "12.500" / "12,500"."""
    return format_decimal(amount)


def format_bytes(amount: int) -> str:
    """Decimal units as on an invoice, one decimal at most: "1,2 GB" / "1.2 GB"."""
    for unit, size in _BYTE_UNITS:
        if amount >= size:
            return f"{format_decimal(Decimal(amount) / size, '#,##0.#')} {unit}"
    return f"{format_decimal(amount)} B"


def format_amount(amount: int, unit: str = "count") -> str:
    """A plan resource's amount in its unit ("bytes" or "count")."""
    return format_bytes(amount) if unit == "bytes" else format_number(amount)


def format_cents(cents: int) -> str:
    """Integer cents in euros: 123456 -> "1.234,56 €" / "€1,234.56"; a negative
    amount gets a real minus sign (U+2212), not the hyphen that the locale data has."""
    return babel_currency(Decimal(cents).scaleb(-2), CURRENCY).replace("-", "\u2212")


def init_app(app: Flask) -> None:
    """Berlin as Flask-Babel's time zone, and the filters every template uses:
    ``datetime``, ``date``, ``ago``, ``amount(unit)``, ``euro``. Call before ``Babel``."""
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", TIMEZONE)
    app.jinja_env.filters.update(
        datetime=format_when,
        date=lambda value: format_when(value, with_time=False),
        ago=format_ago,
        amount=format_amount,
        euro=format_cents,
    )
