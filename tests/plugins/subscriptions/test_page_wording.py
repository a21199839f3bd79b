"""What the Abonnement pages say: net prices with the invoices' VAT rate, the
service period as on the invoice, percentages, and for viewers who may not
change anything no controls that lead nowhere."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from core.data.accounts import invite_user
from core.data.db import bind
from core.data.models import Account
from plugins.subscriptions import invoices, services
from plugins.subscriptions.models import BillingInfo, BillingRecord
from tests.conftest import PASSWORD, upgrade
from tests.plugins.remote_support.conftest import grant_access, start_session
from tests.support.web import AUTH, login

NBSP = "\u00a0"


def _text(html: str) -> str:
    """Visible text, whitespace collapsed; no-break spaces kept (they are the point)."""
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", "", html))


def _plain(html: str) -> str:
    return _text(html).replace(NBSP, " ")


def _get(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_prices_are_net_with_the_invoices_vat_rate(app, user_client, owner, monkeypatch):
    table = _plain(_get(user_client, "/account/subscription/change"))
    assert "Preis monatlich (netto)" in table and "Preis jährlich (netto)" in table
    assert "Alle Preise zzgl. 19 % USt." in table
    preview = _plain(_get(user_client, "/account/subscription/change?plan=premium"))
    assert "Neuer Preis: 34,90 € pro Monat zzgl. 19 % USt." in preview
    assert "Differenz: 25,00 € pro Monat zzgl. 19 % USt." in preview
    assert re.search(r"Anteilig für den Rest des Zeitraums: [\d,]+ € zzgl\. 19 % USt\.", preview)
    overview = _plain(_get(user_client, "/account/subscription"))
    assert "monatlich, 9,90 € zzgl. 19 % USt." in overview
    # One rate: the note follows the invoices' rate, not a copy of it.
    monkeypatch.setattr(invoices, "VAT_RATE", 7)
    assert "zzgl. 7 % USt." in _plain(_get(user_client, "/account/subscription/change"))


def test_vat_rate_never_breaks_from_its_sign(user_client):
    assert f"zzgl. 19{NBSP}% USt." in _get(user_client, "/account/subscription/change")


def test_billing_records_are_net_and_end_on_the_invoices_last_day(app, user_client, owner):
    """A period stored as 20.11. 08:00 – 20.12. 08:00 (UTC) is 20.11. – 19.12., as invoiced."""
    start = dt.datetime(2026, 11, 20, 8)
    with app.app_context(), bind(app).connection_context():
        BillingRecord.create(
            account=owner.account_id,
            kind="renewal",
            plan="start",
            interval="month",
            period_start=start,
            period_end=services.add_interval(start, "month"),
            amount_cents=990,
        )
        assert invoices.last_day(start, services.add_interval(start, "month")) == dt.date(
            2026, 12, 19
        )
    page = _plain(_get(user_client, "/account/subscription"))
    assert "Betrag (netto)" in page
    assert "20.11.2026 – 19.12.2026" in page and "20.12.2026" not in page
    assert "Beträge ohne Umsatzsteuer; die Rechnungen weisen sie aus." in page


@pytest.mark.parametrize(
    ("used", "cap", "percent", "level"),
    [
        (2, 3, 67, "ok"),  # 66.7 rounds to nearest
        (1, 3, 33, "ok"),
        (199, 200, 99, "critical"),  # 99.5 would round to 100: not until the limit is reached
        (3, 3, 100, "full"),
        (4, 3, 133, "full"),
        (0, 3, 0, "ok"),
        (0, 0, 0, "none"),
        (379, 400, 95, "warning"),  # 94.75 shows 95, the level stays exact like the events
    ],
)
def test_percent_rounds_to_nearest_but_100_only_at_the_limit(used, cap, percent, level):
    assert services._level(used, cap) == (percent, level)


def test_usage_percent_is_rounded_and_kept_together(app, user_client, owner):
    upgrade(app, owner.account, "standard")
    with app.app_context(), bind(app).connection_context():
        invite_user(owner.account, "A", "B", "zwei@example.com", "member")
    html = _get(user_client, "/account/subscription")
    assert f"2 von 3 (67{NBSP}%)" in _text(html)
    assert f">67{NBSP}%</meter>" in html


def _sepa(app, account_id):
    with app.app_context(), bind(app).connection_context():
        BillingInfo.create(
            account=account_id,
            name="Muster GmbH",
            street="Hauptstraße 1",
            postal_code="10115",
            city="Berlin",
            payment_method="sepa",
            account_holder="Erika Mustermann",
            iban_masked="DE89 •••• •••• 3000",
            mandate_reference="KONTOR-0000000001",
        )


def test_read_only_billing_shows_sepa_only_for_a_direct_debit(app, owner, member_client):
    owner_client = app.test_client()
    assert login(owner_client, owner.email, PASSWORD).status_code == 302
    # Rechnung (nothing stored yet): the member sees no empty SEPA block ...
    html = _get(member_client, "/account/subscription/billing")
    assert 'id="sepa"' not in html and 'name="iban"' not in html
    # ... while the owner's form carries it for the script (and for no script).
    html = _get(owner_client, "/account/subscription/billing")
    assert 'id="sepa" data-shown-when="payment_method=sepa"' in html
    _sepa(app, owner.account_id)
    html = _get(member_client, "/account/subscription/billing")
    assert 'id="sepa"' in html and "Erika Mustermann" in html


def test_support_sees_no_sepa_block_for_an_invoice_customer(app, owner, user_client, staff_client):
    assert grant_access(user_client, scope="read").status_code == 302
    assert start_session(staff_client, owner.account_id).status_code == 302
    html = _get(staff_client, "/account/subscription/billing")
    assert 'id="sepa"' not in html and "SEPA-Lastschriftmandat" not in html


def test_plan_choice_only_for_who_may_change_it(app, owner, member_client):
    html = _get(member_client, "/account/subscription/change")
    assert "Diesen Tarif wählen" not in html
    assert "Nur Inhaber und Administratoren können das Abonnement ändern." in html
    owner_client = app.test_client()
    assert login(owner_client, owner.email, PASSWORD).status_code == 302
    assert "Diesen Tarif wählen" in _get(owner_client, "/account/subscription/change")


def _card(client) -> str:
    html = _get(client, "/account/")
    start = html.index("card-subscriptions")
    return _plain(html[html.rindex("<section", 0, start) : html.index("</section>", start)])


def test_overview_card_warns_when_a_limit_needs_a_look(app, user_client, owner):
    # Start includes one user: the owner alone uses it up, which is how the
    # plan is used; the page says so, the card stays calm.
    card = _card(user_client)
    assert "In Ordnung" in card and "Grenze erreicht" not in card
    assert "Grenze erreicht" in _plain(_get(user_client, "/account/subscription"))
    client = app.test_client()
    client.put(f"/api/v1/accounts/{owner.account_id}/usage", json={"webshops": 1}, headers=AUTH)
    card = _card(user_client)  # Start has no webshop: over the limit
    assert "Grenze erreicht: Webshops" in card and "Bitte prüfen" in card
    upgrade(app, owner.account, "premium")
    assert "In Ordnung" in _card(user_client)
    client.put(
        f"/api/v1/accounts/{owner.account_id}/usage",
        json={"storage_bytes": 19_500_000_000},
        headers=AUTH,
    )
    card = _card(user_client)
    assert "Fast erreicht: Speicherplatz" in card and "Bitte prüfen" in card


def test_blocker_for_a_resource_the_plan_lacks_reads_like_the_table(app, user_client, owner):
    upgrade(app, owner.account, "premium")
    app.test_client().put(
        f"/api/v1/accounts/{owner.account_id}/usage", json={"webshops": 1}, headers=AUTH
    )
    with app.app_context(), bind(app).connection_context():
        assert services.preview(Account.get_by_id(owner.account_id), "start").blockers
    text = _plain(_get(user_client, "/account/subscription/change?plan=start"))
    assert "Webshops: 1 genutzt, im Tarif nicht enthalten" in text
    assert "erlaubt sind 0" not in text
    assert "Differenz: −25,00 € pro Monat zzgl. 19 % USt." in text
