"""Keep the English catalog complete.

    python scripts/i18n.py          # extract, merge into core/translations/en, compile
    python scripts/i18n.py --check  # change nothing; exit 1 on a missing translation

German is the source language; the English catalog must translate every string.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "core" / "translations"
PO = CATALOG / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def pybabel(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def _key(value: str | list[str] | tuple[str, ...]) -> str | tuple[str, ...]:
    """A message id or translation as a hashable, comparable value (plurals are
    sequences: babel reads them as tuples from .po and lists from .mo files)."""
    return value if isinstance(value, str) else tuple(value)


def extract(pot: Path) -> set[str | tuple[str, ...]]:
    """Every translatable German string in core, plugins and templates."""
    pybabel("extract", "-F", "babel.cfg", "-k", "_l", "--no-location", "-o", str(pot), ".")
    return {_key(m.id) for m in read_po(pot.open("rb")) if m.id}


def problems() -> list[str]:
    """Strings missing, untranslated or stale in the English catalog."""
    with tempfile.TemporaryDirectory() as tmp:
        wanted = extract(Path(tmp) / "messages.pot")
    po = {_key(m.id): m for m in read_po(PO.open("rb")) if m.id}
    mo = {_key(m.id): _key(m.string) for m in read_mo(MO.open("rb")) if m.id}
    found = []
    for msgid in sorted(wanted, key=str):
        entry = po.get(msgid)
        strings = (
            [entry.string] if entry and isinstance(entry.string, str) else entry and entry.string
        )
        if entry is None or not all(strings or [""]) or entry.fuzzy:
            found.append(f"untranslated: {msgid!r}")
        elif mo.get(msgid) != _key(entry.string):
            found.append(f"not compiled: {msgid!r}")
    return found


def main() -> int:
    if "--check" in sys.argv:
        found = problems()
        print(*found, sep="\n")
        return 1 if found else 0
    pot = ROOT / "build" / "messages.pot"
    pot.parent.mkdir(exist_ok=True)
    extract(pot)
    if PO.exists():
        pybabel("update", "-i", str(pot), "-d", str(CATALOG), "-l", "en", "--no-fuzzy-matching")
    else:
        pybabel("init", "-i", str(pot), "-d", str(CATALOG), "-l", "en")
    pybabel("compile", "-d", str(CATALOG), "-l", "en")
    return 0


if __name__ == "__main__":
    sys.exit(main())
