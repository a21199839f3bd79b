"""§ 312k BGB cancellation, contract confirmation mails and renewal reminders.

Mails go through the outbox to a real SMTP server (aiosmtpd); the memory
queue sends them within the request.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask_babel import force_locale

from core.cli import apply_migrations
from core.data.accounts import invite_user
from core.data.db import bind, utcnow
from core.data.models import Account, User
from core.security.auth import hash_password
from core.web.formatting import format_when
from plugins.subscriptions import cancellation, contract_mail, services
from plugins.subscriptions.models import BillingInfo, BillingRecord, Subscription
from tests.conftest import PASSWORD
from tests.support.web import csrf_token, login, section_urls, submit

URL = "/account/subscription/cancel"
FIELDS = {
    "name": "Erika Mustermann",
    "email": "erika@example.com",
    "kind": "ordinary",
    "reason": "",
    "end": "next",
    "end_date": "",
    "confirm_to": "erika@example.com",
}


@pytest.fixture
def mailing(make_app, smtp_server, owner):
    """An app whose mails reach the SMTP server, and the owner logged in."""
    app = make_app(smtp_server.config())
    client = app.test_client()
    assert login(client, owner.email, PASSWORD).status_code == 302
    return app, client


def _sub(app, account_id):
    """The account's subscription as stored now (created on first use)."""
    with app.test_request_context(), bind(app).connection_context():
        return services.subscription(Account.get_by_id(account_id))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def _cancel(client, **fields):
    return submit(client, URL, {**FIELDS, **fields, "submit": "1"})


def _de(app, value, with_time=True):
    with app.test_request_context(), force_locale("de"):
        return format_when(value, with_time)


def _bodies(smtp_server, to):
    """The plain-text bodies that arrived for ``to`` (line ends and spaces normalised)."""
    return [
        m.get_body(("plain",)).get_content().replace("\r\n", "\n").replace("\xa0", " ")
        for m in smtp_server.inbox.messages
        if m["To"] == to
    ]


def test_page_asks_what_the_law_lists_prefilled_from_the_account(mailing, owner):
    _app, client = mailing
    page = client.get(URL)
    assert page.status_code == 200
    text = _text(page.get_data(as_text=True))
    assert "Kontor-Abonnement, Tarif Start (Muster GmbH, Kundennummer" in text
    html = page.get_data(as_text=True)
    assert 'value="Erika Mustermann"' in html and 'value="erika@example.com"' in html
    for label in ("Ordentliche Kündigung", "Außerordentliche Kündigung", "nächstmöglichen"):
        assert label in text
    assert "Bestätigung senden an" in text and "jetzt kündigen" in html


def test_ordinary_cancellation_at_the_next_possible_time(mailing, owner, smtp_server):
    app, client = mailing
    end = _sub(app, owner.account_id).period_end
    response = _cancel(client)
    assert response.status_code == 302 and response.headers["Location"].endswith(URL)
    sub = _sub(app, owner.account_id)
    assert sub.cancel_at_period_end and sub.cancel_kind == "ordinary"
    assert sub.cancel_ends_at == end and sub.cancel_reason == ""
    received, ends = _de(app, sub.cancelled_at), _de(app, end, False)
    text = _text(client.get(URL).get_data(as_text=True))
    assert "Ihre Kündigung ist eingegangen" in text
    assert f"Eingang der Kündigung: {received}" in text
    assert f"Der Vertrag endet am: {ends}" in text
    assert "Kündigung zurücknehmen" in text
    [body] = _bodies(smtp_server, "erika@example.com")
    assert f"Eingang der Kündigung: {received}" in body
    assert f"Der Vertrag endet am: {ends}" in body
    assert "Art der Kündigung: ordentliche Kündigung" in body
    assert "Tarif Start" in body and "http://localhost/account/subscription/cancel" in body


def test_cancellation_to_a_later_date_ends_the_contract_that_day(mailing, owner, smtp_server):
    app, client = mailing
    period_end = _sub(app, owner.account_id).period_end
    day = cancellation.local_day(period_end) + dt.timedelta(days=10)
    response = _cancel(client, end="date", end_date=day.isoformat(), confirm_to="buero@example.com")
    assert response.status_code == 302
    sub = _sub(app, owner.account_id)
    assert sub.cancel_ends_at == cancellation.end_of_day(day)
    [body] = _bodies(smtp_server, "buero@example.com")
    assert f"Der Vertrag endet am: {_de(app, sub.cancel_ends_at, False)}" in body
    with app.app_context(), bind(app).connection_context():
        # The last period runs to the chosen day, charged pro rata, then the contract ends.
        assert services.renew_due(now=period_end + dt.timedelta(hours=1)) == 1
        sub = services.subscription(Account.get_by_id(owner.account_id))
        assert sub.status == "active" and sub.period_end == cancellation.end_of_day(day)
        [record] = BillingRecord.select().where(BillingRecord.kind == "renewal")
        assert 0 < record.amount_cents < 990
        assert services.renew_due(now=sub.period_end + dt.timedelta(seconds=1)) == 1
        assert services.subscription(Account.get_by_id(owner.account_id)).status == "expired"


def test_extraordinary_cancellation_needs_a_reason_and_ends_today(mailing, owner, smtp_server):
    app, client = mailing
    response = _cancel(client, kind="extraordinary")
    assert response.status_code == 422
    assert "Bitte nennen Sie den wichtigen Grund" in response.get_data(as_text=True)
    assert not _sub(app, owner.account_id).cancel_at_period_end
    assert not smtp_server.inbox.messages

    response = _cancel(client, kind="extraordinary", reason="Leistung dauerhaft ausgefallen")
    assert response.status_code == 302
    sub = _sub(app, owner.account_id)
    assert sub.cancel_kind == "extraordinary"
    assert sub.cancel_reason == "Leistung dauerhaft ausgefallen"
    assert sub.cancel_ends_at == cancellation.end_of_day(cancellation.local_day(utcnow()))
    [body] = _bodies(smtp_server, "erika@example.com")
    assert "außerordentliche Kündigung" in body and "Grund: Leistung dauerhaft" in body


def test_a_reason_is_kept_only_for_an_extraordinary_cancellation(mailing, owner):
    app, client = mailing
    assert _cancel(client, reason="Zu teuer").status_code == 302
    assert _sub(app, owner.account_id).cancel_reason == ""


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"end": "date"}, "end_date", "Bitte geben Sie das Datum an"),
        ({"end": "date", "end_date": "morgen"}, "end_date", "Bitte geben Sie ein Datum an"),
        ({"end": "date", "end_date": "2020-01-01"}, "end_date", "Frühestens zum"),
        ({"name": ""}, "name", "Dieses Feld ist erforderlich."),
        ({"confirm_to": "kein-at-zeichen"}, "confirm_to", "E-Mail-Adresse"),
        ({"kind": "fristlos"}, "kind", "Keine gültige Auswahl."),
    ],
)
def test_bad_input_is_refused_in_german_and_nothing_is_stored(
    mailing, owner, smtp_server, fields, field, message
):
    app, client = mailing
    response = _cancel(client, **fields)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(
        rf'id="{field}-error"[^>]*>([^<]+)<|<legend>[^<]*</legend>.*?class="error"[^>]*>([^<]+)<',
        html,
        re.S,
    )
    assert error and message in (error.group(1) or error.group(2)), html
    assert not _sub(app, owner.account_id).cancel_at_period_end
    assert not smtp_server.inbox.messages


def test_a_date_before_the_earliest_end_names_that_end(mailing, owner):
    app, client = mailing
    end = _sub(app, owner.account_id).period_end
    day_before = cancellation.local_day(end) - dt.timedelta(days=1)
    response = _cancel(client, end="date", end_date=day_before.isoformat())
    assert response.status_code == 422
    assert f"Frühestens zum {_de(app, end, False)} möglich" in response.get_data(as_text=True)
    # An extraordinary cancellation may end on that day.
    response = _cancel(
        client, end="date", end_date=day_before.isoformat(), kind="extraordinary", reason="Grund"
    )
    assert response.status_code == 302


def test_double_submit_is_confirmed_once(mailing, owner, smtp_server):
    _app, client = mailing
    token = csrf_token(client, URL)
    for _ in range(2):
        client.post(URL, data={**FIELDS, "csrf_token": token, "submit": "1"})
    assert len(_bodies(smtp_server, "erika@example.com")) == 1


def test_undo_until_the_end_is_confirmed_by_mail(mailing, owner, smtp_server):
    app, client = mailing
    assert _cancel(client).status_code == 302
    token = csrf_token(client, URL)
    response = client.post(f"{URL}/undo", data={"csrf_token": token})
    assert response.status_code == 302
    sub = _sub(app, owner.account_id)
    assert not sub.cancel_at_period_end and sub.cancel_ends_at is None
    _confirmation, undo = _bodies(smtp_server, "erika@example.com")
    assert "Ihre Kündigung ist zurückgenommen" in undo
    assert f"Das Vertragsende zum {_de(app, sub.period_end, False)} entfällt" in undo
    assert "Verträge hier kündigen" in client.get("/account/subscription").get_data(as_text=True)


def test_undo_is_impossible_once_the_contract_ended(app, owner):
    with app.test_request_context(), bind(app).connection_context():
        declaration = cancellation.Declaration("ordinary", "Erika", owner.email, owner.email)
        sub = cancellation.cancel(owner.account, declaration)
        assert not cancellation.undo(owner.account, now=sub.cancel_ends_at)
        assert services.subscription(owner.account).cancel_at_period_end


def test_member_learns_who_can_cancel_and_is_refused(app, member_client, owner):
    """§ 312k: the page stays reachable and names who can cancel, but a member
    gets no greyed-out form, only the way back."""
    page = member_client.get(URL)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Nur der Inhaber des Kontos kann den Vertrag kündigen." in html
    assert f"Inhaber des Kontos: {owner.full_name}" in html
    assert 'href="/account/subscription">Zurück zu Abonnement</a>' in html
    assert "Kontor-Abonnement, Tarif" in html
    assert "<fieldset" not in html and "jetzt kündigen" not in html
    assert 'name="reason"' not in html
    token = csrf_token(member_client, "/account/subscription")
    response = member_client.post(URL, data={**FIELDS, "csrf_token": token, "submit": "1"})
    assert response.status_code == 403
    assert not _sub(app, owner.account_id).cancel_at_period_end


def test_logged_out_visitor_logs_in_and_lands_on_the_page(app, client, owner):
    footer = client.get("/login").get_data(as_text=True)
    assert f'href="{URL}">Verträge hier kündigen</a>' in footer
    response = client.get(URL)
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/login?next=")
    token = csrf_token(client, login_url)
    response = client.post(
        login_url, data={"csrf_token": token, "email": owner.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == URL
    assert "jetzt kündigen" in client.get(URL).get_data(as_text=True)


def test_every_settings_page_has_the_button_in_its_footer(app, user_client):
    for url in section_urls(app):
        html = user_client.get(url).get_data(as_text=True)
        footer = html[html.index('<footer class="footer">') :]
        assert f'href="{URL}">Verträge hier kündigen</a>' in footer, url
    page = user_client.get("/account/subscription").get_data(as_text=True)
    main = page[: page.index('<footer class="footer">')]
    assert f'href="{URL}">Verträge hier kündigen</a>' in main


def test_the_button_is_for_customers_not_for_support_staff(app, client, make_support_client):
    """Staff have no contract here, and a support session may not cancel: the
    staff login, the console and the footer of the customer's pages in a
    support session show no button; the public login page keeps it for the
    customer."""
    button = f'href="{URL}">Verträge hier kündigen</a>'
    assert button in client.get("/login").get_data(as_text=True)
    assert button in client.get("/register").get_data(as_text=True)
    assert button not in client.get("/staff/login").get_data(as_text=True)
    support = make_support_client("full")
    for page in ("/account/", "/account/profile", "/account/subscription"):
        response = support.get(page)
        assert response.status_code == 200, page
        html = response.get_data(as_text=True)
        assert "Support-Sitzung: Susi Support" in html
        assert button not in html[html.index('<footer class="footer">') :], page
    token = csrf_token(support, "/account/")
    assert support.post("/support/end", data={"csrf_token": token}).status_code == 302
    console = support.get("/staff/")
    assert console.status_code == 200 and "Support-Konsole" in console.get_data(as_text=True)
    assert button not in console.get_data(as_text=True)


def test_plan_changes_are_confirmed_with_the_price_difference(mailing, owner, smtp_server):
    app, client = mailing
    response = submit(
        client,
        "/account/subscription/change",
        {"plan": "premium"},
        page="/account/subscription/change?plan=premium",
    )
    assert response.status_code == 302
    [upgrade] = _bodies(smtp_server, "erika@example.com")
    assert "Neuer Tarif: Premium" in upgrade and "Bisheriger Tarif: Start" in upgrade
    assert "Preisdifferenz: +25,00 € pro Monat, +250,00 € pro Jahr" in upgrade
    assert "Anteilig für den Rest des laufenden Zeitraums berechnet:" in upgrade

    with app.app_context(), bind(app).connection_context():
        BillingInfo.create(
            account=owner.account_id,
            name="Muster GmbH",
            street="Weg 1",
            postal_code="10115",
            city="Berlin",
            payment_method="invoice",
            billing_email="rechnung@example.com",
        )
    response = submit(
        client,
        "/account/subscription/change",
        {"plan": "standard"},
        page="/account/subscription/change?plan=standard",
    )
    assert response.status_code == 302
    [message] = [m for m in smtp_server.inbox.messages if m["To"] == "rechnung@example.com"]
    assert message["Subject"] == "Tarifwechsel zu Standard vorgemerkt"
    [downgrade] = _bodies(smtp_server, "rechnung@example.com")
    end = _de(app, _sub(app, owner.account_id).period_end, False)
    assert f"Wirksam ab: {end}" in downgrade
    assert "Preisdifferenz: −15,00 € pro Monat, −150,00 € pro Jahr" in downgrade


def test_renewal_reminder_goes_out_once_30_days_before_a_yearly_renewal(
    mailing, owner, smtp_server, make_owner
):
    app, _client = mailing
    monthly = make_owner("monat@example.com", company="Monat GmbH")
    renewal = dt.datetime(2027, 3, 1, 9, 0)
    with app.test_request_context(), bind(app).connection_context():
        services.subscription(monthly.account)
        services.subscription(owner.account)
        Subscription.update(period_end=renewal).execute()
        Subscription.update(interval="year").where(
            Subscription.account == owner.account_id
        ).execute()
        assert contract_mail.remind_renewals(now=renewal - dt.timedelta(days=31)) == 0
        assert contract_mail.remind_renewals(now=renewal - dt.timedelta(days=30)) == 1
        assert contract_mail.remind_renewals(now=renewal - dt.timedelta(days=29)) == 0
        assert contract_mail.remind_renewals(now=renewal - dt.timedelta(days=1)) == 0
        # The next yearly renewal gets its own reminder, once.
        services.renew_due(now=renewal + dt.timedelta(hours=1))
        following = services.subscription(owner.account).period_end
        assert contract_mail.remind_renewals(now=following - dt.timedelta(days=30)) == 1
        assert contract_mail.remind_renewals(now=following - dt.timedelta(days=30)) == 0
    first, second = _bodies(smtp_server, "erika@example.com")
    assert f"verlängert sich am {_de(app, renewal, False)} automatisch um ein Jahr" in first
    assert "Preis für das nächste Jahr: 99,00 €" in first
    assert "http://localhost/account/subscription/cancel" in first
    assert f"verlängert sich am {_de(app, following, False)}" in second
    assert not _bodies(smtp_server, "monat@example.com")


def test_a_cancelled_contract_gets_no_renewal_reminder(app, owner):
    with app.test_request_context(), bind(app).connection_context():
        sub = services.subscription(owner.account)
        Subscription.update(interval="year").execute()
        declaration = cancellation.Declaration("ordinary", "Erika", owner.email, owner.email)
        cancellation.cancel(owner.account, declaration)
        assert contract_mail.remind_renewals(now=sub.period_end - dt.timedelta(days=10)) == 0


def test_existing_install_gets_the_cancellation_columns(app, owner):
    """A database from before 0003: the columns arrive; standing cancellations
    end with their period."""
    db = bind(app)
    with app.app_context(), db.connection_context():
        sub = services.subscription(owner.account)
        Subscription.update(cancel_at_period_end=True).execute()
        for column in (
            "cancel_kind",
            "cancel_ends_at",
            "cancel_name",
            "cancel_email",
            "cancel_confirm_to",
            "reminded_for",
        ):
            db.execute_sql(f'ALTER TABLE subscriptions_subscription DROP COLUMN "{column}"')
        db.execute_sql("DELETE FROM subscriptions_migrations WHERE id = '0003_cancellation'")
    apply_migrations(app)
    with app.app_context(), db.connection_context():
        migrated = Subscription.get_by_id(sub.id)
        assert migrated.cancel_ends_at == sub.period_end and migrated.cancel_kind == "ordinary"
        assert migrated.reminded_for is None and migrated.cancel_confirm_to == ""


def test_an_admin_may_not_cancel_either(app, roomy_owner):
    with app.app_context(), bind(app).connection_context():
        admin, _ = invite_user(roomy_owner.account, "Ada", "Admin", "ada@example.com", "admin")
        User.update(password_hash=hash_password(PASSWORD)).where(User.id == admin.id).execute()
    client = app.test_client()
    assert login(client, "ada@example.com", PASSWORD).status_code == 302
    assert "Nur der Inhaber des Kontos" in client.get(URL).get_data(as_text=True)
    assert _cancel(client).status_code == 403
    assert not _sub(app, roomy_owner.account_id).cancel_at_period_end


def test_cancelling_is_rate_limited(mailing, owner):
    _app, client = mailing
    token = csrf_token(client, URL)
    codes = [
        client.post(URL, data={**FIELDS, "name": "", "csrf_token": token}).status_code
        for _ in range(11)
    ]
    assert codes == [422] * 10 + [429]


def test_overview_card_of_a_cancelled_contract_is_not_marked_in_order(mailing, owner):
    """After a cancellation the card says "Gekündigt zum …" without the green
    "In Ordnung" badge; taking it back brings the badge back."""
    app, client = mailing
    with app.test_request_context(), bind(app).connection_context():
        # Start includes one user, the owner: a reached limit, which is no "In Ordnung".
        services.change_plan(Account.get_by_id(owner.account_id), "standard")

    def card() -> str:
        html = client.get("/account/").get_data(as_text=True)
        start = html.index("card-subscriptions")
        return _text(html[html.rindex("<section", 0, start) : html.index("</section>", start)])

    assert "In Ordnung" in card() and "Nächste Erneuerung" in card()
    assert _cancel(client).status_code == 302
    assert "Gekündigt zum" in card() and "In Ordnung" not in card()
    client.post(f"{URL}/undo", data={"csrf_token": csrf_token(client, URL)})
    assert "In Ordnung" in card() and "Nächste Erneuerung" in card()


def test_cancel_and_undo_are_limited_per_account_from_any_ip(mailing, owner, smtp_server):
    """Each cancellation and each undo mails the address the owner typed in;
    new IPs must not let an owner turn that into a flood to someone else."""
    app, client = mailing
    statuses = []
    for i in range(11):
        client.environ_base["REMOTE_ADDR"] = f"10.3.0.{i}"
        statuses.append(_cancel(client, confirm_to="opfer@example.com").status_code)
        if statuses[-1] == 302:
            client.post(f"{URL}/undo", data={"csrf_token": csrf_token(client, URL)})
    assert statuses == [302] * 10 + [429]
    assert len(_bodies(smtp_server, "opfer@example.com")) == 20
    assert not _sub(app, owner.account_id).cancel_at_period_end
