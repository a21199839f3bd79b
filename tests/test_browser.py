"""A new user walks through Kontor in Debian's Chromium, by visible labels.

Set KONTOR_UPDATE_SCREENSHOTS=1 to refresh the screenshot of a connected own
mail account in docs/screenshots/ (tests/test_layout.py takes all others).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import zipfile

import requests

from tests.support.browser import WIDTHS, confirm_sign_up, screenshot, set_width, sign_up
from tests.support.process import body_text, wait_until
from tests.support.web import AUTH


def _nav(page, label):
    page.get_by_role("navigation", name="Mein Konto").get_by_role("link", name=label).click()


def test_new_user_walks_every_section(live, page, smtp_server):
    from playwright.sync_api import expect

    page.goto(f"{live.url}/register")
    page.get_by_label("Firmenname").fill("Bäckerei Sonnenschein")
    page.get_by_label("Vorname").fill("Jana")
    page.get_by_label("Nachname").fill("Sonne")
    page.get_by_label("E-Mail-Adresse").fill("jana@example.com")
    page.get_by_label("Passwort").fill("sonnenschein-42")
    page.get_by_role("button", name="Registrieren").click()
    expect(
        page.get_by_role("heading", name="Bitte bestätigen Sie Ihre E-Mail-Adresse")
    ).to_be_visible()
    expect(
        page.get_by_text("Wir haben Ihnen eine E-Mail an jana@example.com geschickt.")
    ).to_be_visible()
    confirm_sign_up(page, live, "jana@example.com")
    expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()

    _nav(page, "Nutzerdaten")
    page.get_by_label("Nachname").fill("Sonnenberg")
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_text("Ihre Nutzerdaten wurden gespeichert.")).to_be_visible()

    _nav(page, "Meine Firma")
    page.get_by_label("Mobilfunknummer").fill("0171 1234567")
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_label("Mobilfunknummer")).to_have_value("+491711234567")

    _nav(page, "Benachrichtigungen")
    page.get_by_label("Angenommene Angebote: Per Smartphone").check()
    page.get_by_label("Gesendete Mahnungen: Per E-Mail").uncheck()
    page.get_by_role("button", name="Einstellungen speichern").click()
    expect(page.get_by_label("Angenommene Angebote: Per Smartphone")).to_be_checked()
    expect(page.get_by_label("Gesendete Mahnungen: Per E-Mail")).not_to_be_checked()

    account = requests.get(
        f"{live.url}/api/v1/accounts",
        params={"email": "jana@example.com"},
        headers=AUTH,
        timeout=10,
    ).json()["accounts"][0]
    response = requests.post(
        f"{live.url}/api/v1/accounts/{account['id']}/events",
        headers=AUTH,
        json={"type": "quote.accepted", "data": {"Angebot": "AN-7"}},
        timeout=10,
    )
    assert response.status_code == 202
    # The welcome mail, then the notification.
    assert wait_until(lambda: len(smtp_server.inbox.messages) == 2, seconds=20)
    page.reload()
    log = page.get_by_role("region", name="Benachrichtigungsverlauf")
    expect(log).to_contain_text("Angebot angenommen: AN-7")
    expect(log).to_contain_text("gesendet")

    _nav(page, "Support")
    page.get_by_label("Dauer").select_option(label="30 Tage")
    page.get_by_label("Nur lesen").check()
    page.get_by_role("button", name="Genehmigung erteilen").click()
    expect(page.get_by_text("Erteilt von: Jana Sonnenberg")).to_be_visible()

    _nav(page, "Abonnement")
    page.get_by_role("link", name="Tarif wechseln").click()
    page.get_by_role("link", name="Diesen Tarif wählen: Premium").click()
    expect(page.get_by_text("Anteilig für den Rest des Zeitraums")).to_be_visible()
    page.get_by_role("button", name="Wechsel bestätigen").click()
    expect(page.get_by_role("heading", name="Ihr Tarif: Premium")).to_be_visible()
    page.get_by_role("main").get_by_role("link", name="Verträge hier kündigen").click()
    page.get_by_role("button", name="jetzt kündigen").click()
    expect(page.get_by_text("Ihre Kündigung ist eingegangen")).to_be_visible()
    page.get_by_role("button", name="Kündigung zurücknehmen").click()
    expect(page.get_by_text("Nächste Erneuerung:")).to_be_visible()

    _nav(page, "E-Mail-Versand")
    expect(page.get_by_label("Versand über den Kontor-Mailserver")).to_be_checked()


def test_granting_support_by_keyboard_only(live, page):
    from playwright.sync_api import expect

    page.goto(f"{live.url}/register")
    for label, value in (
        ("Firmenname", "Tastatur GmbH"),
        ("Vorname", "Kim"),
        ("Nachname", "Taste"),
        ("E-Mail-Adresse", "kim@example.com"),
        ("Passwort", "tastatur-passwort"),
    ):
        page.get_by_label(label).fill(value)
    page.get_by_label("Passwort").press("Enter")
    confirm_sign_up(page, live, "kim@example.com")
    expect(page.get_by_role("heading", name="Mein Konto")).to_be_visible()
    page.goto(f"{live.url}/account/support")
    page.get_by_label("Dauer").focus()
    page.keyboard.press("Tab")  # Umfang: Vollzugriff
    page.keyboard.press("Tab")  # Genehmigung erteilen (radios are one tab stop)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Die Genehmigung zur Fernwartung wurde erteilt.")).to_be_visible()
    page.get_by_role("button", name="Genehmigung widerrufen").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Derzeit ist keine Genehmigung erteilt.")).to_be_visible()


def test_support_session_banner_and_revocation(live, page):
    import re

    from playwright.sync_api import expect

    totp = live.create_staff("susi@kontor.example", "Susi Support", "support-passwort-123")

    sign_up(page, live, "kai@example.com", "kunden-passwort-1", "Kunde AG", ("Kai", "Kunde"))
    _nav(page, "Support")
    page.get_by_role("button", name="Genehmigung erteilen").click()

    staff = page.context.browser.new_context().new_page()
    staff.goto(f"{live.url}/staff/login")
    staff.get_by_label("E-Mail-Adresse").fill("susi@kontor.example")
    staff.get_by_label("Passwort").fill("support-passwort-123")
    staff.get_by_label("Einmalcode").fill(totp.now())
    staff.get_by_role("button", name="Anmelden").click()
    expect(staff.get_by_role("heading", name="Support-Konsole")).to_be_visible()
    staff.get_by_label("Grund oder Ticketnummer: Kunde AG").fill("Ticket 4711")
    staff.get_by_role("button", name=re.compile(r"^Sitzung starten\W+Kunde AG$")).click()
    banner = staff.get_by_text("Support-Sitzung: Susi Support im Auftrag von Kunde AG")
    expect(banner).to_be_visible()
    _nav(staff, "Meine Firma")
    expect(banner).to_be_visible()

    page.reload()
    expect(page.get_by_text("Ticket 4711")).to_be_visible()  # in the access log
    page.get_by_role("button", name="Genehmigung widerrufen").click()
    staff.reload()
    expect(staff.get_by_role("heading", name="Anmelden")).to_be_visible()
    expect(staff.get_by_text("Support-Sitzung:")).to_have_count(0)


def _register(page, live, company, email):
    sign_up(page, live, email, "plan-passwort-123", company)


def test_blocked_downgrade_lists_blockers(live, page):
    from playwright.sync_api import expect

    _register(page, live, "Wachstum GmbH", "pia@example.com")
    _nav(page, "Abonnement")
    page.get_by_role("link", name="Tarif wechseln").click()
    page.get_by_role("link", name="Diesen Tarif wählen: Premium").click()
    page.get_by_role("button", name="Wechsel bestätigen").click()
    account = requests.get(
        f"{live.url}/api/v1/accounts", params={"email": "pia@example.com"}, headers=AUTH, timeout=10
    ).json()["accounts"][0]
    requests.put(
        f"{live.url}/api/v1/accounts/{account['id']}/usage",
        headers=AUTH,
        json={"storage_bytes": 3_000_000_000, "webshops": 2},
        timeout=10,
    )
    page.get_by_role("link", name="Tarif wechseln").click()
    page.get_by_role("link", name="Diesen Tarif wählen: Start").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Speicherplatz: 3 GB genutzt, erlaubt sind 1 GB")
    expect(alert).to_contain_text("Webshops: 2 genutzt, im Tarif nicht enthalten")
    expect(page.get_by_role("button", name="Wechsel bestätigen")).to_have_count(0)


def test_billing_shows_direct_debit_fields_only_when_chosen(live, page):
    from playwright.sync_api import expect

    _register(page, live, "Lastschrift GmbH", "ls@example.com")
    page.goto(f"{live.url}/account/subscription/billing")
    expect(page.get_by_role("radio", name="Rechnung")).to_be_checked()
    expect(page.get_by_label("IBAN")).to_be_hidden()
    expect(page.get_by_text("Gläubiger-Identifikationsnummer")).to_be_hidden()
    page.get_by_role("radio", name="SEPA-Lastschrift").check()
    expect(page.get_by_label("IBAN")).to_be_visible()
    expect(page.get_by_text("Gläubiger-Identifikationsnummer: DE98ZZZ09999999999")).to_be_visible()


def test_cancelling_by_keyboard_only(live, page):
    from playwright.sync_api import expect

    _register(page, live, "Taste Kündigt GmbH", "tk@example.com")
    page.goto(f"{live.url}/account/subscription")
    page.get_by_role("main").get_by_role("link", name="Verträge hier kündigen").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Verträge hier kündigen")).to_be_visible()
    page.get_by_label("Außerordentliche Kündigung aus wichtigem Grund").focus()
    page.keyboard.press("Space")
    page.get_by_label("Grund der außerordentlichen Kündigung").focus()
    page.keyboard.type("Zu wenig Zeit")
    page.get_by_label("Bestätigung senden an").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "jetzt kündigen"
    expect(page.get_by_text("Ihre Kündigung ist eingegangen")).to_be_visible()
    page.get_by_role("button", name="Kündigung zurücknehmen").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Die Kündigung wurde zurückgenommen.")).to_be_visible()


def test_cancelling_from_the_footer_mails_receipt_and_end(live, page):
    """§ 312k BGB: "Verträge hier kündigen" in the footer, "jetzt kündigen", and
    the confirmation in text form with the time of receipt and the end."""
    from playwright.sync_api import expect

    _register(page, live, "Fußzeile GmbH", "fuss@example.com")
    _nav(page, "Nutzerdaten")
    page.get_by_role("contentinfo").get_by_role("link", name="Verträge hier kündigen").click()
    expect(page.get_by_label("Ihr Name")).to_have_value("Pia Plan")
    expect(page.get_by_label("E-Mail-Adresse des Kontos")).to_have_value("fuss@example.com")
    end = dt.date.today() + dt.timedelta(days=45)
    page.get_by_label("folgenden Datum").check()
    page.get_by_label("Datum des Vertragsendes").fill(end.isoformat())
    page.get_by_label("Bestätigung senden an").fill("buchhaltung@example.com")
    page.get_by_role("button", name="jetzt kündigen").click()
    expect(page.get_by_role("heading", name="Ihre Kündigung ist eingegangen")).to_be_visible()
    receipt = page.get_by_text("Eingang der Kündigung:").inner_text().split(": ", 1)[1].strip()
    ends = end.strftime("%d.%m.%Y")
    expect(page.get_by_text(f"Der Vertrag endet am: {ends}")).to_be_visible()

    def confirmation():
        return [
            body_text(m).replace("\r\n", "\n")
            for m in live.mails()
            if m["To"] == "buchhaltung@example.com"
        ]

    assert wait_until(confirmation, seconds=20)
    [body] = confirmation()
    assert f"Eingang der Kündigung: {receipt}" in body
    assert f"Der Vertrag endet am: {ends}" in body


def test_own_mail_account_connects_step_by_step(live_mail, page):
    from playwright.sync_api import expect

    from tests.support.mailservers import OWN_EMAIL, OWN_PASSWORD

    _register(page, live_mail, "Eigenpost GmbH", "post@example.com")
    _nav(page, "E-Mail-Versand")
    smtp_port = live_mail.env["KONTOR_MAIL_ALLOWED_HOSTS"].split(",")[0].split(":")[1]
    imap_port = live_mail.env["KONTOR_MAIL_ALLOWED_HOSTS"].split(",")[1].split(":")[1]

    # The own-account fields appear only once that way is chosen (shipped script).
    page.get_by_label("Versand über den Kontor-Mailserver").check()
    expect(page.get_by_label("IMAP-Server")).to_be_hidden()

    def fill(password):
        page.get_by_label("Versand über eigenes E-Mail-Konto").check()
        expect(page.get_by_label("IMAP-Server")).to_be_visible()
        page.get_by_label("E-Mail-Adresse", exact=True).fill(OWN_EMAIL)
        page.get_by_label("Passwort").fill(password)
        for label, value in (
            ("IMAP-Benutzer", OWN_EMAIL),
            ("IMAP-Server", "localhost"),
            ("IMAP-Port", imap_port),
            ("SMTP-Benutzer", OWN_EMAIL),
            ("SMTP-Server", "localhost"),
            ("SMTP-Port", smtp_port),
        ):
            page.get_by_label(label).fill(value)
        page.get_by_label("IMAP-Verschlüsselung").select_option(label="SSL/TLS")
        page.get_by_label("SMTP-Verschlüsselung").select_option(label="STARTTLS")
        page.get_by_role("button", name="Verbinden", exact=True).click()  # saves and connects
        expect(page.get_by_text("Die Einstellungen wurden gespeichert.")).to_be_visible()

    fill("falsches-passwort")
    expect(
        page.get_by_text(
            "SMTP: Anmeldung: fehlgeschlagen – Anmeldung fehlgeschlagen: "
            "Benutzername oder Passwort ist falsch."
        )
    ).to_be_visible(timeout=20000)
    fill(OWN_PASSWORD)
    steps = page.locator("#verbinden ol")
    expect(steps).to_contain_text(
        "Ordner für gesendete E-Mails gefunden: erfolgreich", timeout=20000
    )
    expect(steps).not_to_contain_text("fehlgeschlagen")
    expect(page.get_by_text("Aktiver Versandweg: Eigenes E-Mail-Konto")).to_be_visible()
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        screenshot(page, f"mail-connected-{width_name}")


def test_notification_labels_follow_each_visitors_language(live, page):
    from playwright.sync_api import expect

    _register(page, live, "English Ltd", "en@example.com")
    page.get_by_role("link", name="English").click()
    german = page.context.browser.new_context(locale="de-DE").new_page()
    _register(german, live, "Deutsch GmbH", "de@example.com")
    for _ in range(3):  # each load may reach either gunicorn worker
        page.goto(f"{live.url}/account/notifications")
        expect(page.get_by_label("Accepted quotes: By e-mail")).to_be_checked()
        german.goto(f"{live.url}/account/notifications")
        expect(german.get_by_label("Angenommene Angebote: Per E-Mail")).to_be_checked()
        expect(german.get_by_text("Accepted quotes")).to_have_count(0)


def test_owner_exports_the_data_and_downloads_the_zip_from_the_mail(live, page, tmp_path):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    page.goto(f"{live.url}/register")
    page.get_by_label("Firmenname").fill("Export GmbH")
    page.get_by_label("Vorname").fill("Ella")
    page.get_by_label("Nachname").fill("Export")
    page.get_by_label("E-Mail-Adresse").fill("ella@example.com")
    page.get_by_label("Passwort").fill("export-passwort-42")
    page.get_by_role("button", name="Registrieren").click()
    confirm_sign_up(page, live, "ella@example.com")
    _nav(page, "Nutzerdaten")
    page.get_by_role("button", name="Daten exportieren").click()
    expect(page.get_by_text("Wir stellen Ihre Daten zusammen.")).to_be_visible()

    link = live.link("ella@example.com", "account/export")
    # a download aborts the navigation: goto raises, the download goes on
    with page.expect_download() as download_info, contextlib.suppress(PlaywrightError):
        page.goto(link)
    target = tmp_path / "export.zip"
    download_info.value.save_as(target)
    names = set(zipfile.ZipFile(target).namelist())
    assert {"core.json", "email_history.json", "subscriptions.json"} <= names
    core = json.loads(zipfile.ZipFile(target).read("core.json"))
    assert core["company"]["company_name"] == "Export GmbH"

    page.goto(link)  # the second time: a German page, and it fits a phone
    set_width(page, WIDTHS["phone"])
    expect(
        page.get_by_role("heading", name="Dieser Download-Link ist ungültig oder abgelaufen")
    ).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
