"""axe-core on every section and the entry pages: no serious or critical findings.

axe-core comes from the npm registry (``.ci/run`` installs it into build/axe).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.support.browser import log_in
from tests.support.web import section_urls

AXE = Path(__file__).resolve().parent.parent / "build/axe/node_modules/axe-core/axe.min.js"
EXTRA_PAGES = [
    "/account/subscription/change?plan=premium",
    "/account/subscription/cancel",
    "/account/subscription/billing",
]


def _violations(page) -> list[str]:
    page.evaluate(AXE.read_text())
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
    }""")
    return result


@pytest.fixture
def axe_page(page):
    require_binary(str(AXE))
    return page


def test_entry_pages_and_every_section_pass_axe(app, live, axe_page):
    page = axe_page
    for path in ("/login", "/register", "/staff/login"):
        page.goto(live.url + path)
        assert _violations(page) == [], path
    page.goto(f"{live.url}/register")
    for label, value in (
        ("Firmenname", "Axe GmbH"),
        ("Vorname", "A"),
        ("Nachname", "X"),
        ("E-Mail-Adresse", "axe@example.com"),
        ("Passwort", "axe-passwort-123"),
    ):
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Registrieren").click()
    log_in(page, "axe@example.com", "axe-passwort-123")
    for path in [*section_urls(app), *EXTRA_PAGES]:
        page.goto(live.url + path)
        assert _violations(page) == [], path
