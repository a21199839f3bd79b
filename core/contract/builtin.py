"""Core's own hook implementations: its tables, pages, sections and usage."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.contract.hookspecs import hookimpl
from core.contract.values import (
    Card,
    EventType,
    ExportPart,
    Job,
    PeriodicJob,
    PlanResource,
    Schema,
    Section,
    SensitiveAction,
    SlotContent,
)
from core.data import accounts, lifecycle
from core.data.migrations import steps
from core.data.models import (
    CORE_MODELS,
    Account,
    EmailLink,
    Passkey,
    PasskeyChallenge,
    SignIn,
    User,
)
from core.delivery import customer_mail, outbox
from core.security import sign_ins, twofactor, twofactor_views
from core.web import api, openapi, permissions, views
from core.web.forms import UndoCloseForm


@hookimpl
def kontor_schema() -> Schema:
    return Schema(
        name="core",
        models=(
            *CORE_MODELS,
            EmailLink,
            Passkey,
            PasskeyChallenge,
            SignIn,
            outbox.MailOutbox,
            *customer_mail.MODELS,
            *lifecycle.MODELS,
            *twofactor.MODELS,
        ),
        migrations=steps("core.data", "history"),
    )


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [views.bp, api.bp, customer_mail.bp, openapi.bp, twofactor_views.bp, twofactor_views.api]


@hookimpl
def kontor_jobs() -> Sequence[Job]:
    return [
        Job(outbox.SYSTEM_MAIL_JOB, outbox.send_system_mail),
        Job(customer_mail.JOB, customer_mail.send_customer_mail),
        Job(lifecycle.EXPORT_JOB, lifecycle.build_export, retries=2, retry_delay=60),
        Job(views.RESET_MAIL_JOB, views.mail_password_reset),
        Job(views.SIGN_UP_AGAIN_JOB, views.mail_sign_up_again),
    ]


@hookimpl
def kontor_periodic_jobs() -> Sequence[PeriodicJob]:
    return [
        PeriodicJob("core.sweep_mail", outbox.sweep_system_mail, minute="*"),
        PeriodicJob("core.sweep_customer_mail", customer_mail.sweep, minute="*"),
        PeriodicJob("core.sweep_exports", lifecycle.sweep_exports, minute="7"),
        PeriodicJob("core.erase_closed_accounts", lifecycle.erase_due, minute="17"),
        PeriodicJob("core.clean_up", sign_ins.clean_up, minute="17"),
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
    factors = twofactor_views.own_status()  # loaded with the session: no query
    two_factor = _l("an (%(method)s)", method=factors.method) if factors.on else _l("aus")
    return [
        Card(
            key="profile",
            title=_l("Nutzerdaten"),
            lines=[
                user.full_name,
                user.email,
                _l("Zwei-Faktor-Anmeldung: %(state)s", state=two_factor),
            ],
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
def kontor_event_types() -> Sequence[EventType]:
    """Core's own events: customer mail is core's, so is its failure."""
    return [
        EventType(customer_mail.DELIVERY_FAILED, _l("E-Mail an Kunden nicht zustellbar"), order=80)
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
        SensitiveAction("core.end_user_session"),
        SensitiveAction("core.resend_email_change"),
        SensitiveAction("core.cancel_email_change"),
        SensitiveAction("core.confirm_email"),
        SensitiveAction("core.passkey_options"),
        SensitiveAction("core.add_passkey"),
        SensitiveAction("core.rename_passkey"),
        SensitiveAction("core.remove_passkey"),
        SensitiveAction("two_factor.enable"),
        SensitiveAction("two_factor.regenerate"),
        SensitiveAction("two_factor.disable"),
        SensitiveAction("two_factor.policy"),
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
        # the account's data and its existence
        SensitiveAction("core.request_export"),
        SensitiveAction("core.close_account"),
        SensitiveAction("core.undo_close_account"),
        SensitiveAction("core.passkey_login_options"),
        SensitiveAction("core.passkey_login"),
        SensitiveAction("two_factor.login"),
        SensitiveAction("core.two_factor_passkey_options"),
        SensitiveAction("core.two_factor_passkey"),
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


@hookimpl
def kontor_erase_account(account: Account) -> None:
    lifecycle.erase_core(account)


@hookimpl
def kontor_template_slot(slot: str, account: Account | None) -> Sequence[SlotContent] | None:
    """The banner of a closing account, with the undo for its owner."""
    if slot != "banner" or account is None or not account.is_closing:
        return None
    owner = permissions.can("core.undo_close_account")
    form = UndoCloseForm(prefix="undo") if owner else None
    html = render_template("core/closing_banner.html", account=account, form=form)
    return [SlotContent(Markup(html), priority=10)]  # noqa: S704 - autoescaped template output


@hookimpl
def kontor_rotate_secrets(rotate: Callable[[str, str], str]) -> int:
    return twofactor.rotate_secrets(rotate)
