"""In Chromium: two browsers signed in to one login; the first signs the other
out from "Sitzungen und Anmeldeverlauf", and the new device got its notice
(read from aiosmtpd)."""

from __future__ import annotations

from tests.support.browser import WIDTHS, confirm_sign_up, log_in, screenshot, set_width
from tests.support.process import body_text, wait_until

PASSWORD = "sitzungen-passwort-1"
EMAIL = "sina@example.com"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def test_signing_out_another_browser_from_the_list(live, page):
    from playwright.sync_api import expect

    page.goto(f"{live.url}/register")
    for label, value in (
        ("Firmenname", "Sitzung GmbH"),
        ("Vorname", "Sina"),
        ("Nachname", "Sitz"),
        ("E-Mail-Adresse", EMAIL),
        ("Passwort", PASSWORD),
    ):
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Registrieren").click()
    confirm_sign_up(page, live, EMAIL)
    expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()

    other = page.context.browser.new_context(locale="de-DE", user_agent=FIREFOX).new_page()
    other.goto(f"{live.url}/login")
    log_in(other, EMAIL, PASSWORD)
    expect(other.get_by_role("heading", name="Mein Konto")).to_be_visible()

    page.goto(f"{live.url}/account/profile")
    page.get_by_role("link", name="Sitzungen und Anmeldeverlauf").click()
    expect(
        page.get_by_role("heading", name="Sitzungen und Anmeldeverlauf", level=1)
    ).to_be_visible()
    expect(page.locator('.sidenav [aria-current="page"]')).to_have_text("Nutzerdaten")
    cards = page.locator("ul.sessions > li")
    expect(cards).to_have_count(2)
    mine = cards.filter(has_text="Diese Sitzung")
    expect(mine).to_have_count(1)
    firefox = cards.filter(has_text="Firefox auf Linux")
    expect(firefox).to_contain_text("127.0.0.x")
    expect(page.get_by_role("region", name="Anmeldeverlauf")).to_contain_text("erfolgreich")
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        screenshot(page, f"sessions-two-browsers-{width_name}")
    set_width(page, WIDTHS["desktop"])

    firefox.get_by_role("button", name="Abmelden").click()
    expect(page.get_by_text("Die Sitzung wurde abgemeldet.")).to_be_visible()
    expect(cards).to_have_count(1)
    other.reload()
    expect(other.get_by_role("button", name="Anmelden", exact=True)).to_be_visible()
    assert other.url.startswith(f"{live.url}/login")

    def notices():
        return [m for m in live.mails() if "neuen Gerät" in str(m["Subject"])]

    assert wait_until(notices, seconds=20)
    (notice,) = notices()
    assert notice["To"] == EMAIL and "Firefox auf Linux" in body_text(notice)
