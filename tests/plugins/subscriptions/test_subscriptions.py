"""Abonnement: usage at a glance, plan changes, cancellation, billing, renewals."""

from __future__ import annotations

import datetime as dt
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.config import ConfigError
from core.data.accounts import AccountError, invite_user
from core.data.db import bind, utcnow
from core.data.models import Account, User
from plugins.notifications.models import Delivery
from plugins.subscriptions import cancellation, services
from plugins.subscriptions.models import BillingInfo, BillingRecord, Subscription
from tests.conftest import upgrade
from tests.support.web import AUTH, csrf_token, invite, submit


def _sub(app, account_id):
    with app.app_context(), bind(app).connection_context():
        return Subscription.get(Subscription.account == account_id)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def _report(client, account_id, **amounts):
    return client.put(f"/api/v1/accounts/{account_id}/usage", json=amounts, headers=AUTH)


def test_overview_shows_plan_renewal_usage_users_and_own_mail(app, user_client, owner):
    _report(app.test_client(), owner.account_id, storage_bytes=1_200_000_000 // 5)
    upgrade(app, owner.account, "standard")
    _report(app.test_client(), owner.account_id, storage_bytes=1_200_000_000)
    text = _text(user_client.get("/account/subscription").get_data(as_text=True))
    assert "Ihr Tarif: Standard" in text
    assert "Nächste Erneuerung:" in text
    assert "Speicherplatz: 1,2 GB von 5 GB" in text
    assert "Benutzer: 1 von 3" in text
    assert "Aktiver Versandweg: Kontor-Mailserver" in text
    assert "monatlich, 19,90 €" in text


def test_upgrade_takes_effect_at_once_with_prorata(app, user_client, owner):
    page = user_client.get("/account/subscription/change?plan=premium").get_data(as_text=True)
    text = _text(page)
    assert "Neuer Preis: 34,90 €" in text and "Differenz: 25,00 €" in text
    assert "Anteilig für den Rest des Zeitraums" in text
    token = csrf_token(user_client, "/account/subscription/change?plan=premium")
    for _ in range(2):  # a double submit changes state once
        response = user_client.post(
            "/account/subscription/change", data={"csrf_token": token, "plan": "premium"}
        )
        assert response.status_code == 302
    assert _sub(app, owner.account_id).plan == "premium"
    with app.app_context(), bind(app).connection_context():
        [record] = BillingRecord.select()
        assert record.kind == "upgrade" and 0 < record.amount_cents <= 2500


def test_prorata_is_the_remaining_share_of_the_difference(ctx, owner):
    sub = services.subscription(owner.account)
    halfway = sub.period_start + (sub.period_end - sub.period_start) / 2
    preview = services.preview(owner.account, "premium", now=halfway)
    assert preview.kind == "upgrade"
    assert preview.prorata == 1250  # half of 25,00 €


def test_downgrade_is_scheduled_for_renewal_and_can_be_withdrawn(app, user_client, owner):
    upgrade(app, owner.account, "premium")
    response = submit(
        user_client, "/account/subscription/change?plan=standard", {"plan": "standard"}
    )
    assert response.status_code == 302
    sub = _sub(app, owner.account_id)
    assert sub.plan == "premium" and sub.scheduled_plan == "standard"
    text = _text(user_client.get("/account/subscription").get_data(as_text=True))
    assert "Vorgemerkt: Wechsel zu Standard" in text
    token = csrf_token(user_client, "/account/subscription")
    user_client.post("/account/subscription/change/withdraw", data={"csrf_token": token})
    assert _sub(app, owner.account_id).scheduled_plan is None


def test_downgrade_blocked_lists_every_blocker(app, user_client, owner):
    upgrade(app, owner.account, "premium")
    with app.app_context(), bind(app).connection_context():
        invite_user(owner.account, "A", "B", "zwei@example.com", "member")
    _report(app.test_client(), owner.account_id, storage_bytes=3_000_000_000, webshops=2)
    page = user_client.get("/account/subscription/change?plan=start").get_data(as_text=True)
    text = _text(page)
    assert "Speicherplatz: 3 GB genutzt, erlaubt sind 1 GB" in text
    assert "Benutzer: 2 genutzt, erlaubt sind 1" in text
    assert "Webshops: 2 genutzt, im Tarif nicht enthalten" in text
    assert "Wechsel bestätigen" not in page
    token = csrf_token(user_client, "/account/subscription")
    response = user_client.post(
        "/account/subscription/change", data={"csrf_token": token, "plan": "start"}
    )
    assert response.status_code == 409
    assert "Webshops: 2 genutzt" in _text(response.get_data(as_text=True))
    assert _sub(app, owner.account_id).scheduled_plan is None


def test_renewal_applies_scheduled_changes_and_cancellation(app, owner, make_owner):
    other = make_owner("b@example.com", company="B")
    upgrade(app, owner.account, "premium")
    with app.app_context(), bind(app).connection_context():
        services.change_plan(owner.account, "standard")
        services.schedule_interval(owner.account, "year")
        cancellation.cancel(
            other.account,
            cancellation.Declaration("ordinary", "B", other.email, other.email),
        )
        end = services.subscription(owner.account).period_end
        later = end + dt.timedelta(hours=1)  # the clock passes the renewal
        assert services.renew_due(now=later) == 2
        assert services.renew_due(now=later) == 0  # idempotent
        sub = services.subscription(owner.account)
        assert (sub.plan, sub.interval, sub.period_start) == ("standard", "year", end)
        assert sub.period_end == services.add_interval(end, "year")
        [renewal] = BillingRecord.select().where(BillingRecord.kind == "renewal")
        assert renewal.amount_cents == 19900 and renewal.account_id == owner.account_id
        assert services.subscription(other.account).status == "expired"


def test_renewals_command(app, runner, owner):
    from core.cli import cli

    with app.app_context(), bind(app).connection_context():
        services.subscription(owner.account)
        Subscription.update(period_end=utcnow() - dt.timedelta(days=1)).execute()
    result = runner.invoke(cli, ["renewals"])
    assert result.exit_code == 0 and "renewed or ended: 1" in result.output
    assert runner.invoke(cli, ["renewals"]).output.endswith("renewed or ended: 0\n")


def test_add_interval_clamps_to_month_end():
    assert services.add_interval(dt.datetime(2026, 1, 31), "month") == dt.datetime(2026, 2, 28)
    assert services.add_interval(dt.datetime(2026, 12, 15), "month") == dt.datetime(2027, 1, 15)
    assert services.add_interval(dt.datetime(2028, 2, 29), "year") == dt.datetime(2029, 2, 28)


def _limit_events(app, resource):
    """Deliveries of limit warnings about ``resource`` (German name), with their data."""
    from core.data.models import Event

    with app.app_context(), bind(app).connection_context():
        rows = Delivery.select().where(Delivery.event_type == "plan.limit_approaching")
        found = [(r, Event.get_by_id(r.event_id).data) for r in rows.order_by(Delivery.id)]
    return [(r, d) for r, d in found if d["Ressource"] == resource]


def test_thresholds_warn_once_per_crossing_with_the_highest_only(app, owner):
    client = app.test_client()
    _report(client, owner.account_id, receipt_scans=40)  # 80 % of 50
    _report(client, owner.account_id, receipt_scans=41)
    _report(client, owner.account_id, receipt_scans=50)  # 95 % and 100 % at once
    _report(client, owner.account_id, receipt_scans=50)
    data = [d for _, d in _limit_events(app, "Belegscans in diesem Zeitraum")]
    assert data == [
        {"Ressource": "Belegscans in diesem Zeitraum", "Stand": "80 % des Limits erreicht",
         "Nutzung": "40 von 50"},
        {"Ressource": "Belegscans in diesem Zeitraum", "Stand": "Limit erreicht",
         "Nutzung": "50 von 50"},
    ]  # fmt: skip


def test_one_report_crossing_every_threshold_writes_one_delivery(app, owner):
    _report(app.test_client(), owner.account_id, storage_bytes=10**12, receipt_scans=1)
    [(row, data)] = _limit_events(app, "Speicherplatz")
    assert row.channel == "email" and data["Stand"] == "Limit erreicht"
    assert data["Nutzung"] == "1 TB von 1 GB"
    with app.app_context():
        from plugins.notifications.services import render

        note = render("plan.limit_approaching", data, owner.account)
    assert note.subject == "Kontor: Tariflimit für Speicherplatz: Limit erreicht"
    assert "Ressource: Speicherplatz" in note.text and "users" not in note.text


def test_seat_limit_refuses_with_clear_message(app, user_client, owner):
    response = invite(user_client, "x@example.com")
    assert response.status_code == 422
    assert "Ihr Tarif erlaubt höchstens 1 Benutzer." in response.get_data(as_text=True)


def test_concurrent_seat_additions_never_exceed_the_limit(app, owner):
    upgrade(app, owner.account, "premium")  # 10 seats, 1 used
    with app.app_context(), bind(app).connection_context():
        for i in range(8):
            invite_user(owner.account, "A", "B", f"vorab{i}@example.com", "member")
    account_id = owner.account_id

    def add(i):
        with app.app_context(), bind(app).connection_context():
            try:
                invite_user(Account.get_by_id(account_id), "P", "Q", f"p{i}@example.com", "member")
                return True
            except AccountError:
                return False

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(add, range(20)))
    assert results.count(True) == 1
    with app.app_context(), bind(app).connection_context():
        assert User.select().where(User.account == account_id).count() == 10


def test_billing_info_with_iban_masked_and_encrypted(app, user_client, owner):
    data = {
        "name": "Muster GmbH",
        "street": "Hauptstr. 1",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
        "payment_method": "sepa",
        "account_holder": "Muster GmbH",
        "iban": "DE89 3704 0044 0532 0130 00",
        "sepa_mandate": "y",
        "billing_email": "rechnung@muster.example",
        "interval": "year",
    }
    assert submit(user_client, "/account/subscription/billing", data).status_code == 302
    page = user_client.get("/account/subscription/billing").get_data(as_text=True)
    assert "DE89 •••• •••• 3000" in page and "0532013000" not in page
    with app.app_context(), bind(app).connection_context():
        info = BillingInfo.get(BillingInfo.account == owner.account_id)
        assert "DE89" not in info.iban_encrypted
    assert _sub(app, owner.account_id).scheduled_interval == "year"
    # Leaving the IBAN empty keeps the stored one.
    assert (
        submit(user_client, "/account/subscription/billing", {**data, "iban": ""}).status_code
        == 302
    )


def test_invalid_iban_is_a_field_error_and_nothing_is_stored(app, user_client, owner):
    response = submit(
        user_client,
        "/account/subscription/billing",
        {
            "name": "M",
            "street": "S",
            "postal_code": "10115",
            "city": "B",
            "country": "DE",
            "payment_method": "sepa",
            "account_holder": "M",
            "iban": "DE00 1234",
            "sepa_mandate": "y",
            "billing_email": "m@example.com",
            "interval": "month",
        },
    )
    assert response.status_code == 422
    assert "Bitte geben Sie eine gültige IBAN ein." in response.get_data(as_text=True)
    with app.app_context(), bind(app).connection_context():
        assert BillingInfo.select().count() == 0


def test_iban_is_not_echoed_after_a_form_error(user_client):
    """A page re-shown with errors (here: no city) never carries the IBAN typed in."""
    response = submit(
        user_client,
        "/account/subscription/billing",
        {
            "name": "M",
            "street": "S",
            "postal_code": "10115",
            "city": "",
            "country": "DE",
            "payment_method": "sepa",
            "account_holder": "M",
            "iban": "DE89 3704 0044 0532 0130 00",
            "interval": "month",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "0532" not in page and 'name="iban"' in page


def test_member_is_refused(app, member_client, owner):
    assert member_client.get("/account/subscription").status_code == 200
    token = csrf_token(member_client, "/account/subscription")
    response = member_client.post(
        "/account/subscription/cancel", data={"csrf_token": token, "submit": "1"}
    )
    assert response.status_code == 403
    assert not _sub(app, owner.account_id).cancel_at_period_end


def test_usage_and_subscription_api(app, owner):
    client = app.test_client()
    response = _report(client, owner.account_id, storage_bytes=10, webshops=0)
    assert response.status_code == 200
    assert response.json["usage"]["storage_bytes"] == 10
    assert response.json["limits"]["users"] == 1 and response.json["plan"] == "start"
    bad = _report(client, owner.account_id, storage_bytes=-1, bananas=3)
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"storage_bytes", "bananas"}
    state = client.get(f"/api/v1/accounts/{owner.account_id}/subscription", headers=AUTH).json
    assert state["usage"]["storage_bytes"] == 10 and state["own_mail_account"] is False
    assert state["renews_at"].endswith("Z")


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        json.dumps({"plans": []}),
        json.dumps(
            {"plans": [{"key": "x", "name": "X", "price_month": -1, "price_year": 0, "limits": {}}]}
        ),
    ],
)
def test_invalid_plans_file_fails_start(make_app, tmp_path, document):
    path = tmp_path / "plans.json"
    path.write_text(document)
    with pytest.raises(ConfigError, match=r"^KONTOR_PLANS_FILE: "):
        make_app({"KONTOR_PLANS_FILE": str(path)})


def test_operator_plans_file_and_trial(make_app, tmp_path, make_owner):
    from plugins.subscriptions.catalog import SHIPPED

    data = json.loads(SHIPPED.read_text())
    data["default_plan"], data["trial_days"] = "standard", 14
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(data))
    app = make_app({"KONTOR_PLANS_FILE": str(path)})
    owner = make_owner("t@example.com")
    with app.app_context(), bind(app).connection_context():
        sub = services.subscription(Account.get_by_id(owner.account_id))
        assert sub.plan == "standard"
        assert (sub.period_end - sub.period_start) == dt.timedelta(days=14)
