"""In Chromium: two-factor login set up from the QR code page's key, then a
sign-in with a code from the app and one with a recovery code; the notice
arrives at the local SMTP server (aiosmtpd)."""

from __future__ import annotations

import time

import pyotp

from tests.support.browser import WIDTHS, confirm_sign_up, log_in, screenshot, set_width
from tests.support.process import wait_until

EMAIL = "tara@example.com"
PASSWORD = "zwei-faktor-123"


def _sign_up(page, live) -> None:
    page.goto(f"{live.url}/register")
    for label, value in (
        ("Firmenname", "Faktor GmbH"),
        ("Vorname", "Tara"),
        ("Nachname", "Totp"),
        ("E-Mail-Adresse", EMAIL),
        ("Passwort", PASSWORD),
    ):
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Registrieren").click()
    confirm_sign_up(page, live, EMAIL)


def _fresh_step() -> float:
    """Now, or the start of the next 30-second step if this one is nearly over,
    so that the codes for this step and the next stay valid for the test."""
    left = 30 - time.time() % 30
    if left < 15:
        time.sleep(left + 0.1)
    return time.time()


def _sign_out(page) -> None:
    page.get_by_role("button", name="Abmelden").click()


def test_two_factor_set_up_and_sign_in_with_a_code_and_a_recovery_code(live, page):
    from playwright.sync_api import expect

    _sign_up(page, live)
    page.goto(f"{live.url}/account/profile")
    security = page.get_by_role("region", name="Anmeldung und Sicherheit")
    expect(security.get_by_text("aus", exact=True)).to_be_visible()
    security.get_by_role("link", name="Zwei-Faktor-Anmeldung").click()

    expect(page.get_by_role("heading", name="1. QR-Code scannen")).to_be_visible()
    expect(page.locator("figure.qr-code svg")).to_be_visible()
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        screenshot(page, f"two-factor-set-up-{width_name}")
    set_width(page, WIDTHS["desktop"])
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    now = _fresh_step()
    page.get_by_label("Code aus der App").fill(totp.at(now))
    page.get_by_label("Aktuelles Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Zwei-Faktor-Anmeldung einschalten").click()

    expect(page.get_by_role("heading", name="Ihre Wiederherstellungscodes")).to_be_visible()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, "two-factor-codes-desktop")
    page.get_by_role("link", name="Ich habe die Codes gespeichert").click()
    expect(page.get_by_text("Eingeschaltet", exact=True)).to_be_visible()
    expect(page.get_by_text("Noch 10 von 10 Codes sind unbenutzt.")).to_be_visible()

    _sign_out(page)
    log_in(page, EMAIL, PASSWORD)
    expect(page.get_by_role("heading", name="Zwei-Faktor-Anmeldung")).to_be_visible()
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        screenshot(page, f"two-factor-login-{width_name}")
    set_width(page, WIDTHS["desktop"])
    page.get_by_label("Code", exact=True).fill(totp.at(now))  # used for the set-up
    page.get_by_role("button", name="Bestätigen").click()
    expect(page.get_by_text("Der Code stimmt nicht oder wurde schon verwendet.")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(totp.at(now + 30))
    page.get_by_role("button", name="Bestätigen").click()
    expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()

    _sign_out(page)
    log_in(page, EMAIL, PASSWORD)
    page.get_by_label("Code", exact=True).fill(codes[0])
    page.get_by_role("button", name="Bestätigen").click()
    expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()
    expect(
        page.get_by_text("Sie haben einen Wiederherstellungscode verwendet; 9 sind übrig.")
    ).to_be_visible()

    _sign_out(page)
    log_in(page, EMAIL, PASSWORD)
    page.get_by_label("Code", exact=True).fill(codes[0])  # used up
    page.get_by_role("button", name="Bestätigen").click()
    expect(page.get_by_text("Der Code stimmt nicht oder wurde schon verwendet.")).to_be_visible()

    assert wait_until(
        lambda: any(
            m["To"] == EMAIL and m["Subject"] == "Zwei-Faktor-Anmeldung eingeschaltet"
            for m in live.mails()
        ),
        seconds=20,
    )
