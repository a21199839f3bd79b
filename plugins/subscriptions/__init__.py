"""Abonnement: plans, usage against limits, plan changes, cancellation, renewals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click
from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from stdnum.eu import at_02 as sepa_creditor_id

from core import (
    Account,
    Card,
    ConfigError,
    ExportPart,
    Job,
    PeriodicJob,
    PlanInfo,
    PlanResource,
    Schema,
    Section,
    SensitiveAction,
    SlotContent,
    User,
    format_when,
    hookimpl,
    openapi,
    steps,
)
from plugins.subscriptions import (
    api,
    catalog,
    contract_mail,
    demo,
    invoice_api,
    invoice_views,
    invoices,
    services,
    views,
)
from plugins.subscriptions.cli import renewals_command
from plugins.subscriptions.models import MODELS, BillingInfo


@hookimpl
def kontor_check_config(config: Mapping[str, Any]) -> None:
    catalog.load(config["KONTOR_PLANS_FILE"])
    creditor_id = config.get("KONTOR_SUBSCRIPTIONS_CREDITOR_ID")
    if creditor_id and not sepa_creditor_id.is_valid(creditor_id):
        raise ConfigError(
            "KONTOR_SUBSCRIPTIONS_CREDITOR_ID: not a valid SEPA creditor identifier "
            "(e.g. DE98ZZZ09999999999)"
        )
    invoices.check_seller_config(config)


@hookimpl
def kontor_schema() -> Schema:
    return Schema(
        "subscriptions",
        (*MODELS, *invoices.INVOICE_MODELS),
        steps(__name__),
    )


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [views.bp, api.bp, invoice_views.bp, invoice_api.bp]


@hookimpl
def kontor_cli_commands() -> Sequence[click.Command]:
    return [renewals_command]


@hookimpl
def kontor_jobs() -> Sequence[Job]:
    return [Job(invoices.RENDER_JOB, invoices.render_pdf)]


@hookimpl
def kontor_periodic_jobs() -> Sequence[PeriodicJob]:
    return [
        PeriodicJob("subscriptions.renewals", services.renew_due, minute="7"),
        PeriodicJob("subscriptions.render_invoices", invoices.render_missing, minute="*/10"),
        PeriodicJob(
            "subscriptions.renewal_reminders", contract_mail.remind_renewals, minute="17", hour="6"
        ),
    ]


@hookimpl
def kontor_template_slot(slot: str) -> Sequence[SlotContent] | None:
    """The § 312k button "Verträge hier kündigen" in the footer of the
    customer's pages; a visitor who is not logged in is asked to log in and
    then lands on it. Support staff in a customer's account cannot cancel for
    the customer, so their sessions get no button."""
    if slot != "footer_links" or (current_user.is_authenticated and current_user.is_support):
        return None
    link = Markup('<li><a class="button secondary" href="{}">{}</a></li>').format(
        url_for("subscriptions.cancel"), _l("Verträge hier kündigen")
    )
    return [SlotContent(link, priority=50)]


@hookimpl
def kontor_settings_sections() -> Sequence[Section]:
    return [
        Section(
            "subscriptions", _l("Abonnement"), "subscriptions.index", order=50, icon="subscription"
        )
    ]


@hookimpl
def kontor_plan_resources() -> Sequence[PlanResource]:
    return [
        PlanResource("storage_bytes", _l("Speicherplatz"), "bytes", order=10),
        PlanResource("receipt_scans", _l("Belegscans in diesem Zeitraum"), order=20),
        PlanResource("cash_registers", _l("Kassen"), order=40),
        PlanResource("webshops", _l("Webshops"), order=50),
        PlanResource("shipping_providers", _l("Versanddienstleister"), order=60),
    ]


@hookimpl
def kontor_usage(account: Account) -> Mapping[str, int]:
    return services.reported_usage(account)


@hookimpl
def kontor_plan(account: Account) -> PlanInfo:
    return services.plan_info(account)


@hookimpl
def kontor_plans_url() -> str:
    return url_for("subscriptions.change", _anchor="plans")


@hookimpl
def kontor_usage_changed(account: Account) -> None:
    services.check_thresholds(account)


@hookimpl
def kontor_sensitive_actions() -> Sequence[SensitiveAction]:
    return [
        SensitiveAction("subscriptions.confirm_change"),
        SensitiveAction("subscriptions.withdraw"),
        SensitiveAction("subscriptions.cancel"),
        SensitiveAction("subscriptions.undo_cancel"),
        SensitiveAction("subscriptions.billing"),
    ]


@hookimpl
def kontor_overview_cards(account: Account) -> Sequence[Card]:
    """The plan, the next date and the limits worth a look (``services.card_alert``):
    those make the card a warning, whatever the contract."""
    sub = services.subscription(account)
    plan = services.plan_of(sub)
    if sub.status == "expired":
        line = _l("Abgelaufen seit %(date)s", date=format_when(sub.period_end, False))
    elif sub.cancel_at_period_end:
        line = _l("Gekündigt zum %(date)s", date=format_when(sub.cancel_ends_at, False))
    else:
        line = _l("Nächste Erneuerung: %(date)s", date=format_when(sub.period_end, False))
    lines = [plan.name, line]
    rows = [r for r in services.usage_overview(account) if services.card_alert(r)]
    if full := [str(r.resource.label) for r in rows if r.level == "full"]:
        lines.append(_l("Grenze erreicht: %(resources)s", resources=", ".join(full)))
    if near := [str(r.resource.label) for r in rows if r.level == "critical"]:
        lines.append(_l("Fast erreicht: %(resources)s", resources=", ".join(near)))
    if sub.status != "active" or full or near:
        state = "warning"
    else:
        # A cancelled contract is neither a problem nor "in Ordnung": no badge.
        state = "neutral" if sub.cancel_at_period_end else "ok"
    return [
        Card("subscriptions", _l("Abonnement"), lines, "subscriptions.index", order=50, state=state)
    ]


@hookimpl
def kontor_account_export(account: Account) -> ExportPart:
    sub = services.subscription(account)
    return ExportPart(
        "subscriptions",
        {
            "plan": sub.plan,
            "interval": sub.interval,
            "status": sub.status,
            "period_start": sub.period_start.isoformat(),
            "period_end": sub.period_end.isoformat(),
            "billing_records": [
                {
                    "kind": r.kind,
                    "plan": r.plan,
                    "amount_cents": r.amount_cents,
                    "period_start": r.period_start.isoformat(),
                    "period_end": r.period_end.isoformat(),
                }
                for r in services.billing_records(account)
            ],
            "billing": _billing_export(account),
            "invoices": [
                {
                    "number": inv.number,
                    "issued_on": inv.issued_on.isoformat(),
                    "period_start": inv.period_start.isoformat(),
                    "period_end": inv.period_end.isoformat(),
                    "gross_cents": inv.gross_cents,
                }
                for inv in invoices.invoices(account)
            ],
        },
        files=invoices.invoice_files(account),
    )


def _billing_export(account: Account) -> dict[str, Any] | None:
    """The billing details as the page shows them: the IBAN only masked."""
    info = BillingInfo.get_or_none(BillingInfo.account == account.id)
    if info is None:
        return None
    fields = ("name", "street", "postal_code", "city", "country", "payment_method")
    more = ("account_holder", "vat_id", "billing_email", "mandate_reference")
    return {
        **{name: getattr(info, name) for name in (*fields, *more)},
        "iban": info.iban_masked,
        "mandate_signed_at": info.mandate_signed_at.isoformat() if info.mandate_signed_at else None,
    }


@hookimpl
def kontor_rotate_secrets(rotate: Callable[[str, str], str]) -> int:
    changed = 0
    for info in BillingInfo.select().where(BillingInfo.iban_encrypted != ""):
        new = rotate(info.iban_encrypted, services.IBAN_CONTEXT.format(info.account_id))
        if new != info.iban_encrypted:
            BillingInfo.update(iban_encrypted=new).where(BillingInfo.id == info.id).execute()
            changed += 1
    return changed


_STATE = {
    "type": "object",
    "required": ["plan", "interval", "limits", "usage", "status", "own_mail_account"],
    "properties": {
        "limits": {"type": "object"},
        "usage": {"type": "object"},
        "own_mail_account": {"type": "boolean"},
    },
}


@hookimpl
def kontor_openapi_paths() -> Mapping[str, Any]:
    amounts = {"type": "integer", "minimum": 0, "maximum": catalog.MAX_AMOUNT}
    return {
        "/accounts/{account_id}/usage": {
            "put": {
                "summary": "Report usage measured by another service",
                "parameters": [openapi.ACCOUNT_ID],
                "requestBody": openapi.request_body(
                    {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": False,
                        "properties": {key: amounts for key in services.REPORTED},
                    }
                ),
                "responses": {**openapi.ok(_STATE), **openapi.errors(400, 404, 413, 415, 422)},
            }
        },
        "/accounts/{account_id}/subscription": {
            "get": {
                "summary": "Plan, interval, renewal, limits, usage",
                "parameters": [openapi.ACCOUNT_ID],
                "responses": {**openapi.ok(_STATE), **openapi.errors(404)},
            }
        },
        **invoice_api.openapi_paths(),
    }


@hookimpl
def kontor_demo_data(account: Account, owner: User) -> None:
    demo.fill(account, owner)


@hookimpl
def kontor_account_closing(account: Account, immediately: bool) -> dt.datetime:
    return services.end_for_closing(account, immediately)


@hookimpl
def kontor_account_reopened(account: Account) -> None:
    services.reopen_after_closing(account)


@hookimpl
def kontor_erase_account(account: Account) -> None:
    services.erase(account)
