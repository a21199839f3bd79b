"""axe-core on every section and the entry pages: no serious or critical findings.

axe-core is the copy shipped inside the ``axe-playwright-python`` test
dependency (pinned in constraints.txt), so no npm step is needed.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

from tests.support.browser import WIDTHS, set_width, sign_up
from tests.support.web import section_urls

EXTRA_PAGES = [
    "/account/subscription/change?plan=premium",
    "/account/subscription/cancel",
    "/account/subscription/billing",
    "/account/subscription/invoices",
    "/account/profile/passkeys",
    "/account/profile/sessions",
    "/account/profile/two-factor",
    "/account/users/two-factor",
]


AXE = Axe()


def _violations(page) -> list[str]:
    """Serious and critical findings, each as "rule: selectors"."""
    found = AXE.run(page).response["violations"]
    return [
        v["id"] + ": " + ", ".join(" ".join(n["target"]) for n in v["nodes"])
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_core_is_the_shipped_version():
    assert "axe v4." in AXE.axe_script[:200]


def _check(page, url: str) -> None:
    """axe at desktop and at phone width (the section menu replaces the sidebar)."""
    for width in WIDTHS.values():
        set_width(page, width)
        page.goto(url)
        assert _violations(page) == [], (url, width)
    set_width(page, WIDTHS["desktop"])


def test_entry_pages_and_every_section_pass_axe(app, live, page):
    for path in ("/login", "/register", "/staff/login"):
        _check(page, live.url + path)
    sign_up(page, live, "axe@example.com", "axe-passwort-123", "Axe GmbH", ("A", "X"))
    for path in [*section_urls(app), *EXTRA_PAGES]:
        _check(page, live.url + path)
