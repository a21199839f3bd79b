"""Core's own hook implementations: its tables, pages, sections and usage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import accounts, api, customer_mail, openapi, outbox, views
from core.hookspecs import hookimpl
from core.migrations import steps
from core.models import CORE_MODELS, Account, EmailLink, User
from core.types import (
    Card,
    ExportPart,
    Job,
    PeriodicJob,
    PlanResource,
    Schema,
    Section,
    SensitiveAction,
)


@hookimpl
def kontor_schema() -> Schema:
    return Schema(
        name="core",
        models=(*CORE_MODELS, EmailLink, outbox.MailOutbox, *customer_mail.MODELS),
        migrations=steps("core", "history"),
    )


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [views.bp, api.bp, customer_mail.bp, openapi.bp]


@hookimpl
def kontor_jobs() -> Sequence[Job]:
    return [
        Job(outbox.SYSTEM_MAIL_JOB, outbox.send_system_mail),
        Job(customer_mail.JOB, customer_mail.send_customer_mail),
    ]


@hookimpl
def kontor_periodic_jobs() -> Sequence[PeriodicJob]:
    return [
        PeriodicJob("core.sweep_mail", outbox.sweep_system_mail, minute="*"),
        PeriodicJob("core.sweep_customer_mail", customer_mail.sweep, minute="*"),
    ]


@hookimpl
def kontor_settings_sections() -> Sequence[Section]:
    return [
        Section("overview", _l("Übersicht"), "core.overview", order=0, icon="overview"),
        Section("profile", _l("Nutzerdaten"), "core.profile", order=10, icon="profile"),
        Section("company", _l("Meine Firma"), "core.company", order=20, icon="company"),
        Section(
            "users", _l("Benutzer"), "core.users", order=25, required_role="admin", icon="users"
        ),
    ]


@hookimpl
def kontor_overview_cards(account: Account, user: User) -> Sequence[Card]:
    missing = _l("nicht hinterlegt")
    return [
        Card(
            key="profile",
            title=_l("Nutzerdaten"),
            lines=[user.full_name, user.email],
            endpoint="core.profile",
            order=10,
        ),
        Card(
            key="company",
            title=_l("Meine Firma"),
            lines=[
                account.company_name,
                _l(
                    "Benachrichtigungen an: %(target)s",
                    target=account.notification_email or missing,
                ),
                _l("Mobilfunknummer: %(target)s", target=account.mobile_number or missing),
            ],
            endpoint="core.company",
            order=20,
            state="ok" if account.notification_email else "warning",
        ),
    ]


@hookimpl
def kontor_plan_resources() -> Sequence[PlanResource]:
    return [PlanResource("users", _l("Benutzer"), "count", order=30, manage_endpoint="core.users")]


@hookimpl
def kontor_usage(account: Account) -> Mapping[str, int]:
    return {"users": len(accounts.members(account))}


@hookimpl
def kontor_sensitive_actions() -> Sequence[SensitiveAction]:
    return [
        # credentials and sessions of users
        SensitiveAction("core.change_email"),
        SensitiveAction("core.change_password"),
        SensitiveAction("core.logout_others"),
        SensitiveAction("core.resend_email_change"),
        SensitiveAction("core.cancel_email_change"),
        SensitiveAction("core.confirm_email"),
        # who belongs to the account (an invitation is a credential)
        SensitiveAction("core.users"),
        SensitiveAction("core.remove_user"),
        # the notification e-mail and mobile number
        SensitiveAction("core.company"),
        # entry pages would swap the support login for a customer login
        SensitiveAction("core.login"),
        SensitiveAction("core.register"),
        SensitiveAction("core.accept_invitation"),
        SensitiveAction("core.forgot_password"),
        SensitiveAction("core.reset_password"),
        SensitiveAction("core.resend_sign_up"),
        SensitiveAction("core.confirm_sign_up"),
    ]


@hookimpl
def kontor_account_export(account: Account) -> ExportPart:
    return ExportPart(
        key="core",
        data={
            "company": {
                "company_name": account.company_name,
                "notification_email": account.notification_email,
                "mobile_number": account.mobile_number,
                "created_at": account.created_at.isoformat(),
            },
            "users": [
                {
                    "email": u.email,
                    "first_name": u.first_name,
                    "last_name": u.last_name,
                    "role": u.role,
                    "created_at": u.created_at.isoformat(),
                }
                for u in accounts.members(account)
            ],
        },
    )
