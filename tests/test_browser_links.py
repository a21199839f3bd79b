"""In Chromium, with mails read from the local SMTP server (aiosmtpd):
registration confirmed by link, "Passwort vergessen?" to a new password, and
an e-mail change confirmed by link."""

from __future__ import annotations

from tests.support.browser import WIDTHS, log_in, screenshot, set_width, sign_up
from tests.support.process import wait_until

PASSWORD = "altes-passwort-123"
NEW_PASSWORD = "neues-passwort-456"


def _sign_up(page, live, email: str) -> None:
    sign_up(page, live, email, PASSWORD, "Link GmbH", ("Lina", "Link"))


def _subjects(live, to: str) -> list[str]:
    return [str(m["Subject"]) for m in live.mails() if m["To"] == to]


def test_forgot_password_to_new_password(live, page):
    from playwright.sync_api import expect

    _sign_up(page, live, "lina@example.com")
    expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()
    page.get_by_role("button", name="Abmelden").click()

    page.get_by_role("link", name="Passwort vergessen?").click()
    screenshot(page, "forgot-password-desktop")
    page.get_by_label("E-Mail-Adresse").fill("lina@example.com")
    page.get_by_role("button", name="Link zum Zurücksetzen senden").click()
    expect(page.get_by_text("Wenn zu lina@example.com ein Konto besteht")).to_be_visible()

    link = live.link("lina@example.com", "password/reset")
    page.goto(link)
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        screenshot(page, f"reset-password-{width_name}")
    page.get_by_label("Neues Passwort", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Neues Passwort wiederholen").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Passwort speichern").click()
    expect(page.get_by_text("Ihr Passwort wurde geändert.")).to_be_visible()

    log_in(page, "lina@example.com", PASSWORD)
    expect(page.get_by_text("E-Mail-Adresse oder Passwort ist falsch.")).to_be_visible()
    log_in(page, "lina@example.com", NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()
    assert "Ihr Passwort wurde geändert" in _subjects(live, "lina@example.com")

    page.goto(link)  # a second use
    expect(
        page.get_by_role("heading", name="Dieser Link ist ungültig oder abgelaufen")
    ).to_be_visible()


def test_email_change_confirmed_by_link(live, page):
    from playwright.sync_api import expect

    _sign_up(page, live, "alt@example.com")
    page.goto(f"{live.url}/account/profile")
    page.get_by_label("Neue E-Mail-Adresse").fill("neu@example.com")
    page.get_by_label("Aktuelles Passwort").first.fill(PASSWORD)
    page.get_by_role("button", name="E-Mail-Adresse ändern").click()
    expect(page.get_by_role("heading", name="Bestätigung ausstehend")).to_be_visible()
    expect(page.get_by_role("button", name="erneut senden")).to_be_visible()
    expect(page.get_by_role("button", name="abbrechen")).to_be_visible()
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        screenshot(page, f"profile-pending-{width_name}")
    set_width(page, WIDTHS["desktop"])

    page.goto(live.link("neu@example.com", "email/confirm"))
    page.get_by_role("button", name="E-Mail-Adresse bestätigen").click()
    expect(
        page.get_by_text("Ihre neue E-Mail-Adresse neu@example.com ist bestätigt.")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Bestätigung ausstehend")).to_have_count(0)
    expect(page.get_by_text("neu@example.com").first).to_be_visible()
    # The notice to the old address is sent by the worker, after the page answered.
    assert wait_until(
        lambda: "Ihre E-Mail-Adresse wurde geändert" in _subjects(live, "alt@example.com")
    )
