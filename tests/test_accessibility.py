"""axe-core on every section and the entry pages: no serious or critical findings.

axe-core is the copy shipped inside the ``axe-playwright-python`` test
dependency (pinned in constraints.txt), so no npm step is needed.
"""

from __future__ import annotations

import re

import pyotp
from axe_playwright_python.sync_playwright import Axe

from tests.support.browser import WIDTHS, log_in, set_width, sign_up
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


def _check(page, url: str | None) -> None:
    """axe at desktop and at phone width (the section menu replaces the sidebar);
    ``url`` None checks the page as it is, without loading it again (a state
    shown once, such as the recovery codes)."""
    for width in WIDTHS.values():
        set_width(page, width)
        if url is not None:
            page.goto(url)
        assert _violations(page) == [], (url or page.url, width)
    set_width(page, WIDTHS["desktop"])


def test_entry_pages_and_every_section_pass_axe(app, live, page):
    for path in ("/login", "/register", "/staff/login"):
        _check(page, live.url + path)
    sign_up(page, live, "axe@example.com", "axe-passwort-123", "Axe GmbH", ("A", "X"))
    for path in [*section_urls(app), *EXTRA_PAGES]:
        _check(page, live.url + path)


def test_member_and_read_only_support_pages_pass_axe(app, live, page, smtp_server):
    """The same pages as a member and in a read-only support session, where
    forms turn into text and locked fields."""
    from tests.test_layout import _accept_invitation, _live_in, _register, _support_session

    account_id = _register(page, live)
    _live_in(page, live.url, account_id, smtp_server)
    browser = page.context.browser
    member = _accept_invitation(browser, live.url, smtp_server)
    staff = _support_session(browser, live, page, shots=False)
    manager_only = "/account/users/two-factor"
    for path in [*section_urls(app), *EXTRA_PAGES]:
        if path != manager_only:
            _check(member, live.url + path)
        _check(staff, live.url + path)


def test_two_factor_states_pass_axe(live, page):
    """Set-up with the QR code, the recovery codes shown once, the second step
    of the login."""
    from playwright.sync_api import expect

    password = "axe-passwort-123"
    sign_up(page, live, "zwei@example.com", password, "Zwei GmbH", ("Z", "F"))
    _check(page, f"{live.url}/account/profile/two-factor")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.get_by_label("Code aus der App").fill(pyotp.TOTP(secret).now())
    page.get_by_label("Aktuelles Passwort").fill(password)
    page.get_by_role("button", name="Zwei-Faktor-Anmeldung einschalten").click()
    expect(page.get_by_role("heading", name="Ihre Wiederherstellungscodes")).to_be_visible()
    _check(page, None)
    page.get_by_role("button", name="Abmelden").click()
    log_in(page, "zwei@example.com", password)
    expect(page).to_have_url(re.compile("/login/two-factor"))
    _check(page, None)
