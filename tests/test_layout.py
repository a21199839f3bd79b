"""Layout: every page fits 360 to 1440 px, for owner, member and read-only support.

The browser walk also refreshes docs/screenshots/ (desktop and phone) when
KONTOR_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import requests

from tests.support.browser import WIDTHS, screenshot, set_width, sign_up
from tests.support.process import wait_until
from tests.support.web import AUTH

PASSWORD = "layout-passwort-123"
STAFF_PASSWORD = "support-passwort-123"
CUSTOMER = "K-1001"
OWNER = "jana.sonnenberg@baeckerei-sonnenschein.example"
MEMBER = "max.meier@baeckerei-sonnenschein.example"

# Pages below a section: (screenshot name, path, section they belong to).
SUB_PAGES = [
    ("passkeys", "/account/profile/passkeys", "Nutzerdaten"),
    ("subscription-change", "/account/subscription/change", "Abonnement"),
    ("subscription-preview", "/account/subscription/change?plan=standard", "Abonnement"),
    ("subscription-billing", "/account/subscription/billing", "Abonnement"),
    ("subscription-cancel", "/account/subscription/cancel", "Abonnement"),
    ("subscription-invoices", "/account/subscription/invoices", "Abonnement"),
    ("mail-history", f"/account/mail/history/{CUSTOMER}", "E-Mail-Versand"),
    ("profile-sessions", "/account/profile/sessions", "Nutzerdaten"),
    ("two-factor", "/account/profile/two-factor", "Nutzerdaten"),
]
# Sub-pages only owners and admins (and support, with their view) open.
MANAGER_PAGES = [("two-factor-policy", "/account/users/two-factor", "Benutzer")]
SHOT_NAMES = {
    "/account/": "overview",
    "/account/profile": "profile",
    "/account/company": "company",
    "/account/users": "users",
    "/account/notifications": "notifications",
    "/account/support": "support",
    "/account/subscription": "subscription",
    "/account/mail": "mail",
}


# -- without a browser: which section the navigation marks, the footer links --


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/account/", "Übersicht"),
        ("/account/company", "Meine Firma"),
        ("/account/profile/passkeys", "Nutzerdaten"),
        ("/account/subscription/change", "Abonnement"),
        ("/account/subscription/billing", "Abonnement"),
        ("/account/subscription/cancel", "Abonnement"),
        ("/account/subscription/invoices", "Abonnement"),
        ("/account/mail/history/K-1", "E-Mail-Versand"),
        ("/account/profile/sessions", "Nutzerdaten"),
        ("/account/profile/two-factor", "Nutzerdaten"),
        ("/account/users/two-factor", "Benutzer"),
    ],
)
def test_navigation_marks_the_section_of_every_page(user_client, path, label):
    html = user_client.get(path).get_data(as_text=True)
    marked = re.findall(
        r'aria-current="page">\s*<svg[^>]*>.*?</svg>\s*<span>([^<]+)</span>', html, re.S
    )
    assert marked == [label]


def test_an_unknown_page_marks_no_section(user_client):
    response = user_client.get("/account/gibt-es-nicht")
    assert response.status_code == 404
    assert 'aria-current="page"' not in response.get_data(as_text=True)


def test_footer_links_appear_only_when_configured(make_app, client):
    html = client.get("/login").get_data(as_text=True)
    assert "Impressum" not in html and "Datenschutz" not in html and "AGB" not in html
    configured = make_app(
        {
            "KONTOR_IMPRINT_URL": "https://firma.example/impressum",
            "KONTOR_PRIVACY_URL": "/datenschutz",
            "KONTOR_TERMS_URL": "https://firma.example/agb",
        }
    ).test_client()
    html = configured.get("/login").get_data(as_text=True)
    assert '<a href="https://firma.example/impressum">Impressum</a>' in html
    assert '<a href="/datenschutz">Datenschutz</a>' in html
    assert '<a href="https://firma.example/agb">AGB</a>' in html


def test_icons_and_mark_are_shipped(client):
    sprite = client.get("/static/icons.svg").get_data(as_text=True)
    for icon in ("overview", "profile", "company", "users", "notifications", "support"):
        assert f'<symbol id="{icon}"' in sprite
    for icon in ("subscription", "mail", "section", "menu", "chevron", "logout"):
        assert f'<symbol id="{icon}"' in sprite
    assert client.get("/static/logo.svg").mimetype == "image/svg+xml"
    page = client.get("/login").get_data(as_text=True)
    assert 'rel="icon" type="image/svg+xml" href="/static/logo.svg"' in page


def test_security_card_reads_each_line_as_name_and_status(app, owner, user_client):
    """Zwei-Faktor-Anmeldung and Passkeys both read "name, status" with the
    status as text and colour (it once read "Passkeys: 2 Passkeys")."""
    from core.data.db import bind
    from core.data.models import Passkey

    def lines() -> list[tuple[str, str, str]]:
        html = user_client.get("/account/profile").get_data(as_text=True)
        card = html[html.index('id="security-title"') : html.index("</section>")]
        return re.findall(r'>([^<>]+)</a> <span class="badge (badge-\w+)">([^<]+)</span>', card)

    assert lines() == [
        ("Zwei-Faktor-Anmeldung", "badge-off", "aus"),
        ("Passkeys", "badge-off", "keine"),
    ]
    with app.app_context(), bind(app).connection_context():
        for n in (1, 2):
            Passkey.create(user=owner.id, credential_id=f"{n}" * 40, public_key="pk", name="G")
    assert lines()[1] == ("Passkeys", "badge-ok", "2 eingerichtet")


def test_phone_rows_of_invoices_and_sign_ins_carry_their_labels(user_client):
    """At phone width a table row becomes a small card: values that need their
    column's name carry it, and a sign-in's result is text plus colour."""
    sessions = user_client.get("/account/profile/sessions").get_data(as_text=True)
    assert re.search(r'<td class="status-ok">erfolgreich</td>', sessions)
    assert 'data-label="IP-Adresse"' in sessions
    policy = user_client.get("/account/users/two-factor").get_data(as_text=True)
    assert re.search(
        r'<td data-label="Zwei-Faktor-Anmeldung"><span class="badge badge-off">aus</span>', policy
    )
    template = (
        pathlib.Path(__file__).parents[1]
        / "plugins/subscriptions/templates/subscriptions/invoices.html"
    ).read_text()
    for label in ("Datum", "Leistungszeitraum", "Betrag"):
        assert f"data-label=\"{{{{ _('{label}') }}}}\"" in template


def test_back_links_of_sub_pages_close_the_page(user_client):
    """Every sub-page puts its way back at the same place: after the content."""
    for path, back in (
        ("/account/profile/passkeys", "Zurück zu Nutzerdaten"),
        ("/account/profile/sessions", "Zurück zu Nutzerdaten"),
        ("/account/profile/two-factor", "Zurück zu Nutzerdaten"),
        ("/account/users/two-factor", "Zurück zu Benutzer"),
        ("/account/subscription/invoices", "Zurück zu Abonnement"),
    ):
        html = user_client.get(path).get_data(as_text=True)
        main = html[html.index('<main id="main"') : html.index("</main>")]
        assert back in main, path
        assert main.index(back) > main.rindex("</h1>"), path
        after = main[main.index(back) :]
        assert "<h2" not in after and "<form" not in after and "<table" not in after, path


# -- in Chromium --


WIDER_THAN_VIEWPORT = """() => [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""))"""


def _fits(page, label: str) -> None:
    """The page is no wider than the viewport (names what sticks out if not)."""
    width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth, location.pathname]"
    )
    assert width[0] <= width[1], (
        f"{label}: {width[2]} is {width[0]} px wide in {width[1]} px",
        page.evaluate(WIDER_THAN_VIEWPORT),
    )


BROKEN_WORDS = """selector => {
    const broken = [];
    for (const cell of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const m of node.data.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, m.index);
                range.setEnd(node, m.index + m[0].length);
                const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                if (lines.size > 1) broken.push(m[0]);
            }
        }
    }
    return broken;
}"""


def _check(page, label: str, section: str | None) -> None:
    """No horizontal overflow, a skip link to the content, the right section marked."""
    from playwright.sync_api import expect

    _fits(page, label)
    skip = page.get_by_role("link", name="Zum Inhalt springen")
    expect(skip).to_have_attribute("href", "#main")
    expect(page.locator("main#main")).to_have_count(1)
    marked = page.locator('.sidenav [aria-current="page"]')
    if section is None:
        expect(marked).to_have_count(0)
    else:
        expect(marked).to_have_count(1)
        expect(marked).to_have_text(section)


def _walk(
    page, base: str, label: str, shots: bool = False, widths=WIDTHS, extra=MANAGER_PAGES
) -> None:
    """Every section in the navigation and every sub-page (``extra``: those of
    managers), at each width."""
    page.goto(f"{base}/account/")
    nav = page.locator(".sidenav a")
    sections = [
        (nav.nth(i).inner_text().strip(), nav.nth(i).get_attribute("href"))
        for i in range(nav.count())
    ]
    pages = [
        (SHOT_NAMES.get(href, href.strip("/").replace("/", "-")), href, name)
        for name, href in sections
    ]
    for width_name, width in widths.items():
        set_width(page, width)
        for name, path, section in [*pages, *SUB_PAGES, *extra]:
            page.goto(base + path)
            _check(page, f"{label} at {width} px", section)
            if shots:
                screenshot(page, f"{name}-{width_name}")
    set_width(page, WIDTHS["desktop"])


def _register(page, live) -> int:
    sign_up(
        page,
        live,
        OWNER,
        PASSWORD,
        "Bäckerei Sonnenschein GmbH & Co. KG",
        ("Jana", "Sonnenberg"),
    )
    return requests.get(
        f"{live.url}/api/v1/accounts",
        params={"email": OWNER},
        headers=AUTH,
        timeout=10,
    ).json()["accounts"][0]["id"]


def _live_in(page, base: str, account_id: int, smtp_server) -> None:
    """Premium plan, some usage, a notification, a customer mail and a member."""
    from playwright.sync_api import expect

    page.goto(f"{base}/account/subscription/change?plan=premium")
    page.get_by_role("button", name="Wechsel bestätigen").click()
    requests.put(
        f"{base}/api/v1/accounts/{account_id}/usage",
        headers=AUTH,
        json={"storage_bytes": 17_200_000_000, "receipt_scans": 412, "webshops": 3},
        timeout=10,
    )
    smtp_server.inbox.reject_rcpt["alt@kunde.example"] = "550 5.1.1 unknown"
    page.goto(f"{base}/account/mail")
    page.get_by_label("E-Mail-Verlauf in den Kundenstammdaten ablegen").check()
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_text("Die Einstellungen wurden gespeichert.")).to_be_visible()
    for path, body in (
        ("events", {"type": "quote.accepted", "data": {"Angebot": "AN-2026-0042"}}),
        (
            "mails",
            {
                "to": ["einkauf@kunde.example", "alt@kunde.example"],
                "subject": "Rechnung RE-2026-0815",
                "text": "Guten Tag, anbei Ihre Rechnung.",
                "customer_ref": CUSTOMER,
                "customer_name": "Bäckerei Sonnenschein GmbH",
            },
        ),
    ):
        response = requests.post(
            f"{base}/api/v1/accounts/{account_id}/{path}", headers=AUTH, json=body, timeout=10
        )
        assert response.status_code == 202, response.text
    assert wait_until(
        lambda: any("einkauf@kunde.example" in m["To"] for m in smtp_server.inbox.messages),
        seconds=20,
    )

    page.goto(f"{base}/account/users")
    page.get_by_label("Vorname").fill("Max")
    page.get_by_label("Nachname").fill("Meier")
    page.get_by_label("E-Mail-Adresse").fill(MEMBER)
    page.get_by_label("Rolle").select_option(label="Mitglied")
    page.get_by_role("button", name="Benutzer einladen").click()
    assert wait_until(lambda: _mail_to(smtp_server, MEMBER), seconds=20)


def _mail_to(smtp_server, address: str):
    """The last message to ``address`` in the test SMTP server's inbox, if any."""
    found = [m for m in smtp_server.inbox.messages if m["To"] == address]
    return found[-1] if found else None


def _accept_invitation(browser, base: str, smtp_server):
    invitation = _mail_to(smtp_server, MEMBER).get_body(("plain",)).get_content()
    link = re.search(r"(/invitation/[^\s\"<>]+)", invitation).group(1)
    member = browser.new_context(locale="de-DE").new_page()
    member.goto(base + link)
    member.get_by_label("Passwort").fill("mitglied-passwort-1")
    member.get_by_role("button", name="Passwort festlegen").click()
    return member


def _support_session(browser, live, page, shots: bool):
    """Grant read-only access as the owner; Susi Support starts a session."""
    from playwright.sync_api import expect

    page.goto(f"{live.url}/account/support")
    page.get_by_label("Nur lesen").check()
    page.get_by_role("button", name="Genehmigung erteilen").click()
    totp = live.create_staff("susi@kontor.example", "Susi Support", STAFF_PASSWORD)
    staff = browser.new_context(locale="de-DE").new_page()
    staff.goto(f"{live.url}/staff/login")
    for width_name, width in WIDTHS.items():
        set_width(staff, width)
        _check(staff, f"staff login at {width} px", None)
        if shots:
            screenshot(staff, f"staff-login-{width_name}")
    set_width(staff, WIDTHS["desktop"])
    staff.get_by_label("E-Mail-Adresse").fill("susi@kontor.example")
    staff.get_by_label("Passwort").fill(STAFF_PASSWORD)
    staff.get_by_label("Einmalcode").fill(totp.now())
    staff.get_by_role("button", name="Anmelden").click()
    expect(staff.get_by_role("heading", name="Support-Konsole")).to_be_visible()
    for width_name, width in WIDTHS.items():
        set_width(staff, width)
        _fits(staff, f"support console at {width} px")
        if shots:
            screenshot(staff, f"staff-console-{width_name}")
    set_width(staff, WIDTHS["desktop"])
    staff.get_by_label(re.compile("^Grund oder Ticketnummer")).fill("Ticket 4711")
    staff.get_by_role("button", name=re.compile(r"^Sitzung starten")).click()
    expect(staff.get_by_text("Support-Sitzung: Susi Support")).to_be_visible()
    return staff


def test_every_page_fits_phone_and_desktop_for_each_role(live, page, smtp_server):
    import os

    from playwright.sync_api import expect

    shots = os.environ.get("KONTOR_UPDATE_SCREENSHOTS") == "1"
    base = live.url
    for name, path in (("login", "/login"), ("register", "/register")):
        for width_name, width in WIDTHS.items():
            set_width(page, width)
            page.goto(base + path)
            _check(page, f"{path} at {width} px", None)
            if shots:
                screenshot(page, f"{name}-{width_name}")
    set_width(page, WIDTHS["desktop"])

    account_id = _register(page, live)
    _live_in(page, base, account_id, smtp_server)
    browser = page.context.browser
    member = _accept_invitation(browser, base, smtp_server)
    staff = _support_session(browser, live, page, shots)

    _walk(page, base, "owner", shots)
    _walk(page, base, "owner", widths={"smallest": 360, "largest": 1440})
    _walk(member, base, "member", extra=[])
    _walk(staff, base, "read-only support")
    if shots:
        for width_name, width in WIDTHS.items():
            set_width(staff, width)
            staff.goto(f"{base}/account/company")
            screenshot(staff, f"support-session-{width_name}")

    # The plan table breaks no word across lines, even at the narrowest width
    # ("Versanddienstleister" used to lose its last letters to the next line).
    for width in (360, WIDTHS["phone"]):
        set_width(page, width)
        page.goto(f"{base}/account/subscription/change")
        assert page.evaluate(BROKEN_WORDS, ".plan-table :is(th, td)") == [], width
    # The notification matrix fits a phone without scrolling inside its box,
    # its channel headings whole ("Per Smartphone" used to end in "Per Sma").
    set_width(page, WIDTHS["phone"])
    page.goto(f"{base}/account/notifications")
    box = page.locator(".table-scroll:has(input[type=checkbox])")
    assert box.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert page.evaluate(BROKEN_WORDS, ".table-scroll thead th") == []
    set_width(page, WIDTHS["desktop"])

    # The skip link is the first stop for the keyboard and leads to the content.
    page.goto(f"{base}/account/company")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Zum Inhalt springen")).to_be_focused()
    expect(page.get_by_role("link", name="Zum Inhalt springen")).to_be_in_viewport()

    # Desktop: the sections are a list beside the content.
    nav = page.get_by_role("navigation", name="Mein Konto")
    main = page.locator("main")
    expect(nav.get_by_role("link", name="Abonnement")).to_be_visible()
    assert nav.bounding_box()["x"] + nav.bounding_box()["width"] <= main.bounding_box()["x"]

    # Phone: a menu above the content, closed until opened, working without scripts.
    set_width(page, WIDTHS["phone"])
    page.goto(f"{base}/account/subscription/billing")
    expect(nav.get_by_role("link", name="Abonnement")).to_be_hidden()
    menu = nav.locator("summary")
    expect(menu).to_contain_text("Abonnement")
    assert nav.bounding_box()["y"] + nav.bounding_box()["height"] <= main.bounding_box()["y"]
    menu.click()
    expect(nav.get_by_role("link", name="Abonnement")).to_be_visible()
    _fits(page, "open menu")
    if shots:
        screenshot(page, "menu-phone")
    nav.get_by_role("link", name="Meine Firma").click()
    expect(page.get_by_role("heading", name="Meine Firma")).to_be_visible()

    # A page that does not exist: the error page in the same frame, no section marked.
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        page.goto(f"{base}/account/gibt-es-nicht")
        _check(page, f"404 at {width} px", None)
        if shots:
            screenshot(page, f"error-{width_name}")

    # States a walk through the sections does not reach: a cancellation
    # received (the receipt) and a closing requested (the banner on every page).
    set_width(page, WIDTHS["desktop"])
    page.goto(f"{base}/account/subscription/cancel")
    page.get_by_role("button", name="jetzt kündigen").click()
    expect(page.get_by_role("heading", name="Ihre Kündigung ist eingegangen")).to_be_visible()
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        _check(page, f"cancellation receipt at {width} px", "Abonnement")
        if shots:
            screenshot(page, f"subscription-cancelled-{width_name}")
    set_width(page, WIDTHS["desktop"])
    page.goto(f"{base}/account/profile")
    page.get_by_label("Aktuelles Passwort").last.fill(PASSWORD)
    page.get_by_role("button", name="Konto schließen").click()
    expect(page.get_by_text("Die Schließung wurde am").first).to_be_visible()
    for width_name, width in WIDTHS.items():
        set_width(page, width)
        for name, path, section in (
            ("closing-overview", "/account/", "Übersicht"),
            ("closing-profile", "/account/profile", "Nutzerdaten"),
        ):
            page.goto(base + path)
            _check(page, f"{path} while closing at {width} px", section)
            if shots:
                screenshot(page, f"{name}-{width_name}")
