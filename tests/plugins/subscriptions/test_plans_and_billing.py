"""Usage at a glance, the plan comparison table and validated billing details."""

from __future__ import annotations

import re

import pytest
from playhouse.migrate import SchemaMigrator, migrate
from werkzeug.datastructures import MultiDict

from core.config import ConfigError
from core.data.db import bind
from plugins.subscriptions import kontor_check_config, kontor_schema, services
from plugins.subscriptions.forms import BillingForm
from plugins.subscriptions.models import BillingInfo
from tests.conftest import CREDITOR_ID, upgrade
from tests.support.web import AUTH, invite, submit

BILLING_TABLE = "subscriptions_billing_info"
BILLING_DETAILS = ("vat_id", "billing_email", "mandate_reference", "mandate_signed_at")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _report(app, account_id, **amounts):
    response = app.test_client().put(
        f"/api/v1/accounts/{account_id}/usage", json=amounts, headers=AUTH
    )
    assert response.status_code == 200


# --- 7. Usage at a glance -------------------------------------------------------------


def _overview(app, account):
    with app.app_context(), bind(app).connection_context():
        return {row.resource.key: row for row in services.usage_overview(account)}


def test_usage_overview_levels_per_resource(app, owner):
    _report(app, owner.account_id, storage_bytes=800_000_000, receipt_scans=48, webshops=0)
    rows = _overview(app, owner.account)
    assert list(rows) == [
        "storage_bytes",
        "receipt_scans",
        "users",
        "cash_registers",
        "webshops",
        "shipping_providers",
    ]
    assert (rows["storage_bytes"].percent, rows["storage_bytes"].level) == (80, "warning")
    assert (rows["receipt_scans"].percent, rows["receipt_scans"].level) == (96, "critical")
    assert (rows["users"].percent, rows["users"].level) == (100, "full")  # 1 of 1
    assert rows["webshops"].level == "none"  # 0 of 0: not part of the plan
    assert (rows["shipping_providers"].level, rows["shipping_providers"].near_limit) == (
        "ok",
        False,
    )
    assert rows["users"].near_limit and not rows["webshops"].near_limit


def test_usage_over_the_limit_is_full_and_the_bar_stops_at_100(app, owner):
    _report(app, owner.account_id, receipt_scans=75)
    assert _overview(app, owner.account)["webshops"].level == "none"
    _report(app, owner.account_id, webshops=1)
    by_key = _overview(app, owner.account)
    assert by_key["webshops"].level == "full"  # used although the plan has none
    assert (by_key["receipt_scans"].percent, by_key["receipt_scans"].bar) == (150, 100)


def test_usage_page_shows_units_percent_state_in_words_and_plan_link(app, user_client, owner):
    _report(app, owner.account_id, storage_bytes=960_000_000, receipt_scans=10)
    html = user_client.get("/account/subscription").get_data(as_text=True)
    text = _text(html)
    assert "Speicherplatz : 960 MB von 1 GB (96 %) Fast erreicht" in text
    assert "Belegscans in diesem Zeitraum : 10 von 50 (20 %)" in text
    assert "Benutzer : 1 von 1 (100 %) Grenze erreicht" in text
    assert "Kassen : nicht enthalten" in text and "0 von 0" not in text
    assert 'class="usage usage-critical"' in html and 'class="usage usage-none"' in html
    assert 'value="96"' in html and "style=" not in html
    assert 'href="/account/subscription/change#plans"' in html


def test_no_plan_link_while_far_from_every_limit(app, user_client, owner):
    upgrade(app, owner.account, "standard")
    html = user_client.get("/account/subscription").get_data(as_text=True)
    assert "/account/subscription/change#plans" not in html


# --- 8. Plan comparison table ---------------------------------------------------------


def test_plan_table_lists_every_plan_with_limits_prices_and_choice(user_client):
    html = user_client.get("/account/subscription/change").get_data(as_text=True)
    text = _text(html)
    assert "Tarife im Vergleich" in text
    for name in ("Start", "Standard", "Premium"):
        assert name in text
    assert "9,90 €" in text and "99,00 €" in text and "Sie sparen 19,80 €" in text
    assert "34,90 €" in text and "Sie sparen 69,80 €" in text
    assert "1 GB" in text and "5 GB" in text and "20 GB" in text
    assert "Eigenes E-Mail-Konto" in text and "nicht enthalten" in text
    assert "Ihr Tarif" in text  # the current plan is marked
    assert 'href="/account/subscription/change?plan=premium#preview"' in html
    assert "/account/subscription/change?plan=start#preview" not in html  # current plan
    assert html.count("Diesen Tarif wählen</a>") == 2


def test_choosing_a_plan_shows_todays_preview_above_the_table(user_client):
    html = user_client.get("/account/subscription/change?plan=standard").get_data(as_text=True)
    text = _text(html)
    assert "Vorschau: Wechsel zu Standard" in text and 'value="Wechsel bestätigen"' in html
    assert text.index("Vorschau:") < text.index("Tarife im Vergleich")


def test_yearly_saving_is_twelve_months_minus_the_yearly_price(ctx):
    from plugins.subscriptions.catalog import catalog

    assert {p.key: p.yearly_saving for p in catalog().plans} == {
        "start": 1980,
        "standard": 3980,
        "premium": 6980,
    }


def test_seat_limit_error_links_to_the_plan_table(app, user_client, owner):
    response = invite(user_client, "x@example.com")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Ihr Tarif erlaubt höchstens 1 Benutzer." in html
    assert 'href="/account/subscription/change#plans"' in html


def test_at_the_seat_limit_the_users_page_offers_the_plans_not_the_form(app, user_client, owner):
    html = user_client.get("/account/users").get_data(as_text=True)
    assert "Ihr Tarif erlaubt höchstens 1 Benutzer." in html
    assert 'href="/account/subscription/change#plans"' in html
    assert 'name="first_name"' not in html and 'name="email"' not in html
    upgrade(app, owner.account, "standard")
    html = user_client.get("/account/users").get_data(as_text=True)
    assert 'name="email"' in html and "höchstens" not in html


def test_downgrade_blockers_link_to_where_they_can_be_fixed(app, user_client, roomy_owner):
    for i in range(2):
        assert invite(user_client, f"p{i}@example.com").status_code == 302
    _report(app, roomy_owner.account_id, webshops=2)
    html = user_client.get("/account/subscription/change?plan=start").get_data(as_text=True)
    text = _text(html)
    assert "Benutzer: 3 genutzt, erlaubt sind 1" in text
    assert "Webshops: 2 genutzt, im Tarif nicht enthalten" in text
    assert '<a href="/account/users">Benutzer verwalten</a>' in html
    with app.app_context(), bind(app).connection_context():
        [users, webshops] = services.preview(roomy_owner.account, "start").blockers
    assert (users.manage_endpoint, webshops.manage_endpoint) == ("core.users", None)


# --- 9. Billing details ---------------------------------------------------------------

VALID = {
    "name": "Muster GmbH",
    "street": "Hauptstr. 1",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
    "billing_email": "rechnung@muster.example",
    "vat_id": "",
    "payment_method": "invoice",
    "interval": "month",
}
SEPA = {
    **VALID,
    "payment_method": "sepa",
    "account_holder": "Muster GmbH",
    "iban": "DE89 3704 0044 0532 0130 00",
    "sepa_mandate": "y",
}
URL = "/account/subscription/billing"


def _info(app, account_id):
    with app.app_context(), bind(app).connection_context():
        return BillingInfo.get_or_none(BillingInfo.account == account_id)


@pytest.mark.parametrize(
    ("country", "postcode", "error"),
    [
        ("DE", "1011", "Eine Postleitzahl in Deutschland hat fünf Ziffern."),
        ("DE", "10115a", "Eine Postleitzahl in Deutschland hat fünf Ziffern."),
        ("AT", "10115", "Eine Postleitzahl in Österreich hat vier Ziffern."),
        ("CH", "80", "Eine Postleitzahl in der Schweiz hat vier Ziffern."),
    ],
)
def test_postcode_is_checked_per_country(app, user_client, owner, country, postcode, error):
    response = submit(user_client, URL, {**VALID, "country": country, "postal_code": postcode})
    assert response.status_code == 422
    assert error in response.get_data(as_text=True)
    assert _info(app, owner.account_id) is None


@pytest.mark.parametrize(("country", "postcode"), [("DE", "01067"), ("AT", "1010"), ("CH", "8001")])
def test_valid_postcodes_are_stored(app, user_client, owner, country, postcode):
    response = submit(user_client, URL, {**VALID, "country": country, "postal_code": postcode})
    assert response.status_code == 302
    assert _info(app, owner.account_id).postal_code == postcode


def test_vat_id_is_checked_with_its_check_digit_and_stored_compact(app, user_client, owner):
    bad = submit(user_client, URL, {**VALID, "vat_id": "DE136695975"})  # wrong check digit
    assert bad.status_code == 422
    assert "Diese USt-IdNr. ist ungültig." in bad.get_data(as_text=True)
    assert submit(user_client, URL, {**VALID, "vat_id": "de 136 695 976"}).status_code == 302
    assert _info(app, owner.account_id).vat_id == "DE136695976"
    assert submit(user_client, URL, {**VALID, "vat_id": "ATU13585627"}).status_code == 302
    assert submit(user_client, URL, {**VALID, "vat_id": "CHE-107.787.577 MWST"}).status_code == 302


def test_billing_email_is_required_and_prefilled(app, user_client, owner):
    page = user_client.get(URL).get_data(as_text=True)
    assert f'value="{owner.email}"' in page
    response = submit(user_client, URL, {**VALID, "billing_email": "kein-at"})
    assert response.status_code == 422
    assert _info(app, owner.account_id) is None
    assert submit(user_client, URL, VALID).status_code == 302
    assert _info(app, owner.account_id).billing_email == "rechnung@muster.example"


def test_sepa_needs_the_account_holder_and_the_mandate(app, user_client, owner):
    response = submit(user_client, URL, {**SEPA, "account_holder": "", "sepa_mandate": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Für die SEPA-Lastschrift wird der Kontoinhaber benötigt." in html
    assert "Bitte erteilen Sie das SEPA-Lastschriftmandat" in html
    assert "0532" not in html  # the IBAN is not echoed
    assert _info(app, owner.account_id) is None


def test_mandate_text_with_creditor_id_and_reference_is_shown_before_confirming(
    app, user_client, owner
):
    text = _text(user_client.get(URL).get_data(as_text=True))
    reference = f"KONTOR-{owner.account_id:010d}"
    assert f"Gläubiger-Identifikationsnummer: {CREDITOR_ID}" in text
    assert f"Mandatsreferenz: {reference}" in text
    assert "Ich ermächtige den Zahlungsempfänger" in text
    assert submit(user_client, URL, SEPA).status_code == 302
    info = _info(app, owner.account_id)
    assert info.mandate_reference == reference and info.mandate_signed_at is not None
    # The stored IBAN with its mandate: saving again needs no new consent.
    again = {**SEPA, "iban": "", "sepa_mandate": ""}
    assert submit(user_client, URL, again).status_code == 302
    # A new IBAN is a new mandate.
    new_iban = {**SEPA, "iban": "DE02 1203 0000 0000 2020 51", "sepa_mandate": ""}
    assert submit(user_client, URL, new_iban).status_code == 422


def test_sepa_without_a_configured_creditor_is_refused(make_app):
    app = make_app({"KONTOR_SUBSCRIPTIONS_CREDITOR_ID": ""})
    with app.test_request_context():
        form = BillingForm(formdata=MultiDict(SEPA), meta={"csrf": False})
        assert not form.validate()
        assert "nicht verfügbar" in str(form.payment_method.errors[0])


def test_creditor_id_is_validated_at_start():
    kontor_check_config(
        {"KONTOR_PLANS_FILE": None, "KONTOR_SUBSCRIPTIONS_CREDITOR_ID": CREDITOR_ID}
    )
    kontor_check_config({"KONTOR_PLANS_FILE": None, "KONTOR_SUBSCRIPTIONS_CREDITOR_ID": None})
    with pytest.raises(ConfigError, match=r"^KONTOR_SUBSCRIPTIONS_CREDITOR_ID:"):
        kontor_check_config(
            {"KONTOR_PLANS_FILE": None, "KONTOR_SUBSCRIPTIONS_CREDITOR_ID": "DE99ZZZ09999999999"}
        )


def test_service_refuses_sepa_without_iban_and_changes_nothing(app, ctx, owner):
    services.save_billing(owner.account, {**VALID, "name": "Alt"})
    with pytest.raises(ValueError, match="IBAN"):
        services.save_billing(owner.account, {**VALID, "name": "Neu", "payment_method": "sepa"})
    info = BillingInfo.get(BillingInfo.account == owner.account)
    assert (info.name, info.payment_method, info.mandate_signed_at) == ("Alt", "invoice", None)


def test_billing_history_names_the_plan(app, user_client, owner):
    upgrade(app, owner.account, "premium")
    text = _text(user_client.get("/account/subscription").get_data(as_text=True))
    assert "Premium" in text.split("Abrechnungen")[-1]
    assert " premium " not in text


def test_migration_adds_the_billing_detail_columns_to_an_old_table(app, ctx):
    db = bind(app)
    migrator = SchemaMigrator.from_database(db)
    migrate(*(migrator.drop_column(BILLING_TABLE, name) for name in BILLING_DETAILS))
    assert not set(BILLING_DETAILS) & {c.name for c in db.get_columns(BILLING_TABLE)}
    step = next(m for m in kontor_schema().migrations if m.id == "0002_billing_details")
    step.apply(db)
    assert set(BILLING_DETAILS) <= {c.name for c in db.get_columns(BILLING_TABLE)}
    step.apply(db)  # nothing left to add: a no-op
