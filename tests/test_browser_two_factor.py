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


def test_new_codes_and_lifting_the_rule_ask_for_a_code(live, page):
    """With the app on: the overview says so; new recovery codes and lifting
    the account's rule take the password and a code, and a wrong code is
    shown next to its field."""
    from playwright.sync_api import expect

    _sign_up(page, live)
    page.goto(f"{live.url}/account/profile/two-factor")
    totp = pyotp.TOTP(page.locator("code.secret").inner_text().replace(" ", ""))
    page.get_by_label("Code aus der App").fill(totp.at(_fresh_step()))
    page.get_by_label("Aktuelles Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Zwei-Faktor-Anmeldung einschalten").click()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    page.goto(f"{live.url}/account/")
    card = page.get_by_role("region", name="Nutzerdaten")
    expect(card).to_contain_text("Zwei-Faktor-Anmeldung: an (Authenticator-App)")

    page.goto(f"{live.url}/account/profile/two-factor")
    recovery = page.get_by_role("region", name="Wiederherstellungscodes")
    recovery.get_by_label("Code aus der App oder Wiederherstellungscode").fill("000000")
    recovery.get_by_label("Aktuelles Passwort").fill(PASSWORD)
    recovery.get_by_role("button", name="Neue Wiederherstellungscodes erstellen").click()
    recovery = page.get_by_role("region", name="Wiederherstellungscodes")
    expect(recovery.get_by_role("alert")).to_have_text(
        "Der Code stimmt nicht oder wurde schon verwendet."
    )
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        screenshot(page, f"two-factor-on-{width_name}")
    set_width(page, WIDTHS["desktop"])
    recovery.get_by_label("Code aus der App oder Wiederherstellungscode").fill(codes[0])
    recovery.get_by_label("Aktuelles Passwort").fill(PASSWORD)
    recovery.get_by_role("button", name="Neue Wiederherstellungscodes erstellen").click()
    expect(page.get_by_role("heading", name="Ihre Wiederherstellungscodes")).to_be_visible()
    codes = page.locator(".recovery-codes code").all_inner_texts()

    page.goto(f"{live.url}/account/users/two-factor")
    page.get_by_label("Zwei-Faktor-Anmeldung für alle Benutzer verlangen").check()
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_text("Alle Benutzer müssen sich jetzt")).to_be_visible()
    page.get_by_label("Zwei-Faktor-Anmeldung für alle Benutzer verlangen").uncheck()
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_text("Dieses Feld ist erforderlich.")).to_be_visible()
    # the input is kept for the second try; the rule itself stays on
    expect(page.get_by_text("Zurzeit verlangt", exact=True)).to_be_visible()
    expect(page.get_by_label("Aktuelles Passwort")).to_be_visible()
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        screenshot(page, f"two-factor-policy-on-{width_name}")
    set_width(page, WIDTHS["desktop"])
    page.get_by_label("Zwei-Faktor-Anmeldung für alle Benutzer verlangen").uncheck()
    page.get_by_label("Code aus der App oder Wiederherstellungscode").fill(codes[0])
    page.get_by_label("Aktuelles Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Speichern").click()
    expect(
        page.get_by_text("Die Zwei-Faktor-Anmeldung ist für Benutzer jetzt freiwillig.")
    ).to_be_visible()
