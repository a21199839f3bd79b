"""German display formats: Berlin times, amounts, sizes; the interface languages."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
LANGUAGES = ("de", "en")  # the first is the default
LANGUAGE_COOKIE = "kontor_lang"


def berlin_time(value: dt.datetime | None, with_time: bool = True) -> str:
    """Show a stored (naive UTC) time in Europe/Berlin, German style."""
    if value is None:
        return "–"
    local = value.replace(tzinfo=dt.UTC).astimezone(BERLIN)
    return local.strftime("%d.%m.%Y %H:%M" if with_time else "%d.%m.%Y")


def _decimal(value: float, digits: int) -> str:
    text = f"{value:,.{digits}f}".replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return text[: -(digits + 1)] if digits and text.endswith("," + "0" * digits) else text


def format_bytes(amount: int) -> str:
    """Decimal units as on a German invoice: 1200000000 -> "1,2 GB"."""
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if amount >= size:
            return f"{_decimal(amount / size, 1)} {unit}"
    return f"{amount} B"


def format_cents(cents: int) -> str:
    """Euro amounts: 199000 -> "1.990,00 €", negative with a minus sign."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    return f"{sign}{_decimal(euros, 0)},{rest:02d} €"


def format_number(amount: int) -> str:
    """Thousands with a dot: 12500 -> "12.500"."""
    return _decimal(amount, 0)
