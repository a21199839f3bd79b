"""E-Mail-Versand: the Kontor mail server or the account's own SMTP/IMAP account."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import (
    Account,
    Card,
    ExportPart,
    Job,
    MailTransport,
    Schema,
    Section,
    SensitiveAction,
    hookimpl,
    steps,
)
from plugins.mail_transport import demo, services, views
from plugins.mail_transport.models import MODELS, MailSettings


@hookimpl
def kontor_schema() -> Schema:
    return Schema("mail_transport", MODELS, steps(__name__))


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [views.bp]


@hookimpl
def kontor_settings_sections() -> Sequence[Section]:
    return [
        Section(
            "mail_transport", _l("E-Mail-Versand"), "mail_transport.index", order=60, icon="mail"
        )
    ]


@hookimpl
def kontor_jobs() -> Sequence[Job]:
    return [Job(services.CHECK_JOB, services.run_check)]


@hookimpl
def kontor_mail_transport(account: Account) -> MailTransport:
    return services.transport(account)


@hookimpl
def kontor_sensitive_actions() -> Sequence[SensitiveAction]:
    return [SensitiveAction("mail_transport.save"), SensitiveAction("mail_transport.connect")]


@hookimpl
def kontor_overview_cards(account: Account) -> Sequence[Card]:
    own = services.own_in_use(account)
    line = (
        _l("Eigenes E-Mail-Konto: %(email)s", email=services.settings(account).own_email)
        if own
        else _l("Versand über den Kontor-Mailserver")
    )
    return [Card("mail_transport", _l("E-Mail-Versand"), [line], "mail_transport.index", order=60)]


@hookimpl
def kontor_account_export(account: Account) -> ExportPart:
    row = services.settings(account)
    return ExportPart(
        "mail_transport",
        {
            "mode": row.mode,
            "own_active": row.own_active,
            "keep_history": row.keep_history,
            "sender_name": row.sender_name,
            "reply_to": row.reply_to,
            "own_email": row.own_email,
            "imap_host": row.imap_host,
            "smtp_host": row.smtp_host,
        },
    )


@hookimpl
def kontor_rotate_secrets(rotate: Callable[[str, str], str]) -> int:
    changed = 0
    for row in MailSettings.select().where(MailSettings.password_encrypted != ""):
        new = rotate(row.password_encrypted, services.PASSWORD_CONTEXT.format(row.account_id))
        if new != row.password_encrypted:
            MailSettings.update(password_encrypted=new).where(MailSettings.id == row.id).execute()
            changed += 1
    return changed


@hookimpl
def kontor_demo_data(account: Account) -> None:
    demo.fill(account)


@hookimpl
def kontor_erase_account(account: Account) -> None:
    services.erase(account)
