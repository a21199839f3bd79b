"""Support: consent to remote maintenance, staff sessions and the access log."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click
from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from core import (
    Account,
    Card,
    EventType,
    ExportPart,
    PeriodicJob,
    Schema,
    Section,
    SensitiveAction,
    SlotContent,
    User,
    can,
    format_when,
    hookimpl,
    openapi,
    steps,
)
from plugins.remote_support import api, demo, services, views
from plugins.remote_support.cli import staff_group
from plugins.remote_support.models import MODELS, Staff


@hookimpl
def kontor_schema() -> Schema:
    return Schema("remote_support", MODELS, steps(__name__))


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [views.bp, api.bp]


@hookimpl
def kontor_cli_commands() -> Sequence[click.Command]:
    return [staff_group]


@hookimpl
def kontor_settings_sections() -> Sequence[Section]:
    return [
        Section("remote_support", _l("Support"), "remote_support.index", order=40, icon="support")
    ]


@hookimpl
def kontor_event_types() -> Sequence[EventType]:
    return [EventType("support.session_started", _l("Support hat sich angemeldet"), order=70)]


@hookimpl
def kontor_load_actor(kind: str, token: str) -> services.SupportActor | None:
    return services.load_support(token, views.staff_token()) if kind == "support" else None


@hookimpl
def kontor_sensitive_actions() -> Sequence[SensitiveAction]:
    return [
        SensitiveAction("remote_support.save"),
        SensitiveAction("remote_support.revoke"),
        SensitiveAction("remote_support.staff_login"),
    ]


@hookimpl
def kontor_write_refusal(endpoint: str) -> str | None:
    return views.write_refusal(endpoint)


@hookimpl
def kontor_template_slot(slot: str) -> Sequence[SlotContent] | None:
    if slot != "banner" or not (current_user.is_authenticated and current_user.is_support):
        return None
    html = render_template(
        "remote_support/banner.html", actor=current_user, form=views.EndSessionForm()
    )
    return [SlotContent(Markup(html), priority=0)]  # noqa: S704 - autoescaped template output


@hookimpl
def kontor_periodic_jobs() -> Sequence[PeriodicJob]:
    return [PeriodicJob("remote_support.expire", services.expire_grants, minute="*")]


@hookimpl
def kontor_overview_cards(account: Account) -> Sequence[Card]:
    grant = services.active_grant(account)
    if grant is None:
        lines = [_l("Keine Genehmigung zur Fernwartung")]
    else:
        until = format_when(grant.expires_at) if grant.expires_at else _l("bis auf Widerruf")
        lines = [
            _l("Genehmigung erteilt bis %(until)s", until=until),
            services.SCOPE_LABELS[grant.scope],
        ]
    return [
        Card(
            "remote_support",
            _l("Support"),
            lines,
            "remote_support.index",
            order=40,
            # A running grant asks for attention only from those who can end it.
            state="warning" if grant and can("remote_support.revoke") else "neutral",
        )
    ]


@hookimpl
def kontor_account_export(account: Account) -> ExportPart:
    return ExportPart(
        "remote_support",
        {
            "access_log": [
                {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail}
                for e in services.access_log(account, limit=10_000)
            ]
        },
    )


@hookimpl
def kontor_rotate_secrets(rotate: Callable[[str, str], str]) -> int:
    changed = 0
    for staff in Staff.select():
        new = rotate(staff.totp_secret, services.TOTP_CONTEXT.format(staff.id))
        if new != staff.totp_secret:
            Staff.update(totp_secret=new).where(Staff.id == staff.id).execute()
            changed += 1
    return changed


@hookimpl
def kontor_openapi_paths() -> Mapping[str, Any]:
    return {
        "/accounts/{account_id}/support-access": {
            "get": {
                "summary": "Remote support consent and access log",
                "parameters": [openapi.ACCOUNT_ID],
                "responses": {
                    **openapi.ok(
                        {
                            "type": "object",
                            "required": ["granted", "grant", "log"],
                            "properties": {
                                "granted": {"type": "boolean"},
                                "log": {"type": "array"},
                            },
                        }
                    ),
                    **openapi.errors(404),
                },
            }
        }
    }


@hookimpl
def kontor_demo_data(account: Account, owner: User) -> None:
    demo.fill(account, owner)


@hookimpl
def kontor_erase_account(account: Account) -> None:
    services.erase(account)
