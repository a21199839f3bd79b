"""Benachrichtigungen: which events reach the account by e-mail or SMS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import (
    Account,
    Card,
    Channel,
    Event,
    EventType,
    ExportPart,
    Job,
    PeriodicJob,
    PlannedDelivery,
    Schema,
    Section,
    hookimpl,
    openapi,
    steps,
)
from plugins.notifications import api, demo, services, views
from plugins.notifications.channels import EmailChannel, SmsChannel
from plugins.notifications.models import MODELS


@hookimpl
def kontor_schema() -> Schema:
    return Schema(
        "notifications",
        MODELS,
        steps(__name__),
    )


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [views.bp, api.bp]


@hookimpl
def kontor_settings_sections() -> Sequence[Section]:
    return [
        Section(
            "notifications",
            _l("Benachrichtigungen"),
            "notifications.index",
            order=30,
            icon="notifications",
        )
    ]


# The invoicing events this plugin notifies about, in the order of the
# preference matrix: key, label (plural, as in the matrix), subject for one
# event with its reference, subject for one event without it.
EVENT_TYPES = (
    (
        "quote.accepted",
        _l("Angenommene Angebote"),
        _l("Angebot angenommen: %(Angebot)s"),
        _l("Angebot angenommen"),
    ),
    (
        "subscription_invoice.sent",
        _l("Verschickte Abo-Rechnungen"),
        _l("Abo-Rechnung verschickt: %(Rechnung)s"),
        _l("Abo-Rechnung verschickt"),
    ),
    (
        "dunning.overdue",
        _l("Ganz oder teilweise überfällige Mahnungen"),
        _l("Mahnung überfällig: %(Rechnung)s"),
        _l("Mahnung überfällig"),
    ),
    (
        "dunning.sent",
        _l("Gesendete Mahnungen"),
        _l("Mahnung gesendet: %(Rechnung)s"),
        _l("Mahnung gesendet"),
    ),
    (
        "tan.due",
        _l("Fällige TAN-Abfragen"),
        _l("TAN-Abfrage fällig: %(Konto)s"),
        _l("TAN-Abfrage fällig"),
    ),
    (
        "plan.limit_approaching",
        _l("Bevorstehendes Erreichen von Tariflimits"),
        _l("Tariflimit für %(Ressource)s: %(Stand)s"),
        _l("Tariflimit fast erreicht"),
    ),
)


@hookimpl
def kontor_event_types() -> Sequence[EventType]:
    return [
        EventType(key, label, order=10 * n, subjects=(with_reference, plain))
        for n, (key, label, with_reference, plain) in enumerate(EVENT_TYPES, start=1)
    ]


@hookimpl
def kontor_notification_channels() -> Sequence[Channel]:
    return [EmailChannel(), SmsChannel()]


@hookimpl
def kontor_event_emitted(event: Event) -> Sequence[PlannedDelivery]:
    return services.dispatch(event)


@hookimpl
def kontor_event_wanted(account: Account, type: str) -> bool:
    return bool(services.chosen_channels(account, type))


@hookimpl
def kontor_jobs() -> Sequence[Job]:
    return [Job(services.DELIVER_JOB, services.deliver)]


@hookimpl
def kontor_periodic_jobs() -> Sequence[PeriodicJob]:
    return [PeriodicJob("notifications.sweep", services.sweep, minute="*")]


@hookimpl
def kontor_overview_cards(account: Account) -> Sequence[Card]:
    enabled = sum(services.preferences(account).values())
    return [
        Card(
            "notifications",
            _l("Benachrichtigungen"),
            [_l("%(count)d Benachrichtigungen aktiv", count=enabled)],
            "notifications.index",
            order=30,
        )
    ]


@hookimpl
def kontor_account_export(account: Account) -> ExportPart:
    matrix = services.preferences(account)
    return ExportPart(
        "notifications",
        {"preferences": [{"event": e, "channel": c, "enabled": v} for (e, c), v in matrix.items()]},
    )


@hookimpl
def kontor_openapi_paths() -> Mapping[str, Any]:
    return {
        "/accounts/{account_id}/notifications": {
            "get": {
                "summary": "Delivery log of the account's notifications",
                "parameters": [
                    openapi.ACCOUNT_ID,
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {
                        "name": "per_page",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                ],
                "responses": {
                    **openapi.ok(
                        {
                            "type": "object",
                            "required": ["deliveries", "page", "more"],
                            "properties": {"deliveries": {"type": "array"}},
                        }
                    ),
                    **openapi.errors(404, 422),
                },
            }
        }
    }


@hookimpl
def kontor_demo_data(account: Account) -> None:
    demo.fill(account)


@hookimpl
def kontor_erase_account(account: Account) -> None:
    services.erase(account)
