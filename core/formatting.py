"""German display formats: Berlin times, amounts, sizes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def berlin_time(value: dt.datetime | None, with_time: bool = True) -> str:
    """Show a stored (naive UTC) time in Europe/Berlin, German style."""
    if value is None:
        return "–"
    local = value.replace(tzinfo=dt.UTC).astimezone(BERLIN)
    return local.strftime("%d.%m.%Y %H:%M" if with_time else "%d.%m.%Y")
