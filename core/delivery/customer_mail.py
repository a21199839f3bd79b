"""Mails to the account's customers: outbox, worker job, history and API.

The transport comes from the ``kontor_mail_transport`` provider hook at send
time (core's default: the operator's server). A mail queued for one transport
is never sent through another: a failure is recorded, not rerouted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import peewee
from flask import Response, current_app, jsonify

from core.contract.values import PermanentFailure
from core.data.db import BaseModel, database
from core.data.models import Account
from core.delivery import outbox
from core.delivery.events import emit
from core.delivery.job_queue import enqueue
from core.delivery.messages import build_message
from core.web.api import fail, get_account, json_body, service_blueprint, utc_iso
from core.web.validation import has_control_chars, normalise_email

JOB = "core.send_customer_mail"
#: Core's event for a customer mail that did not reach (some of) its recipients.
DELIVERY_FAILED = "mail.delivery_failed"
MAX_RECIPIENTS = 20
MAX_TEXT = 100_000


class CustomerMail(outbox.OutboxRow):
    """One mail to customers; also the history entry when history is on."""

    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    transport = peewee.CharField(max_length=20)
    customer_ref = peewee.CharField(max_length=100, null=True, index=True)
    customer_name = peewee.CharField(max_length=200, default="")
    subject = peewee.CharField(max_length=250)
    text = peewee.TextField()
    message_id = peewee.CharField(max_length=250, default="")
    note = peewee.CharField(max_length=300, default="")

    class Meta:
        table_name = "core_customer_mail"


class CustomerMailRecipient(BaseModel):
    """Per-recipient outcome: servers may refuse some addresses of a mail."""

    mail = peewee.ForeignKeyField(CustomerMail, backref="recipients", on_delete="CASCADE")
    address = peewee.CharField(max_length=254)
    status = peewee.CharField(max_length=10, default="pending")
    error = peewee.CharField(max_length=300, default="")

    class Meta:
        table_name = "core_customer_mail_recipient"


MODELS = (CustomerMail, CustomerMailRecipient)


def transport_for(account: Account) -> Any:
    return current_app.extensions["kontor"].pm.hook.kontor_mail_transport(account=account)


def queue_customer_mail(
    account: Account,
    to: Sequence[str],
    subject: str,
    text: str,
    customer_ref: str | None,
    customer_name: str = "",
) -> CustomerMail:
    """Validate, store and queue a customer mail; raises ValueError on bad input.

    The customer's number and name are kept only when the account keeps a history.
    """
    recipients = [normalise_email(a) for a in to]
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValueError("to")
    if not subject or len(subject) > 250 or has_control_chars(subject):
        raise ValueError("subject")
    transport = transport_for(account)
    with database.atomic():
        row = CustomerMail.create(
            account=account,
            transport=transport.name,
            subject=subject,
            text=text,
            customer_ref=customer_ref if transport.keep_history else None,
            customer_name=customer_name.strip() if transport.keep_history else "",
        )
        CustomerMailRecipient.insert_many(
            [{"mail": row, "address": a} for a in dict.fromkeys(recipients)]
        ).execute()
        enqueue(JOB, mail_id=row.id)
    return row


def send_customer_mail(mail_id: int) -> None:
    """Worker job: deliver through the account's transport, never another."""
    if not outbox.claim(CustomerMail, mail_id):
        return
    row = (
        CustomerMail.select(CustomerMail, Account)
        .join(Account)
        .where(CustomerMail.id == mail_id)
        .get()
    )
    transport = transport_for(row.account)
    recipients = list(row.recipients)

    def send() -> None:
        if transport.name != row.transport:
            raise PermanentFailure(
                "Der Versandweg wurde geändert; die E-Mail wurde nicht "
                "über einen anderen Weg verschickt."
            )
        sender, reply_to = transport.sender(row.account)
        message = build_message(
            sender=sender,
            to=[r.address for r in recipients],
            subject=row.subject,
            text=row.text,
            reply_to=reply_to,
        )
        result = transport.send(row.account, message)
        with database.atomic():
            row.message_id, row.note = result.message_id, result.note
            row.save(only=[CustomerMail.message_id, CustomerMail.note])
            for r in recipients:
                refused = result.refused.get(r.address)
                r.status = "failed" if refused else "sent"
                r.error = f"Empfänger abgelehnt (SMTP {refused[0]})" if refused else ""
                r.save()

    status = outbox.attempt(row, send, JOB, "mail_id")
    if status == "failed":
        CustomerMailRecipient.update(status="failed", error=row.error[:300]).where(
            CustomerMailRecipient.mail == row, CustomerMailRecipient.status == "pending"
        ).execute()
        _report_failure(row, recipients, row.error)
    elif status == "sent":
        refused = [r for r in recipients if r.status == "failed"]
        if refused:
            _report_failure(row, refused, "; ".join(dict.fromkeys(r.error for r in refused)))


def _report_failure(
    row: CustomerMail, recipients: Sequence[CustomerMailRecipient], error: str
) -> None:
    """Raise :data:`DELIVERY_FAILED` for the recipients the mail did not reach."""
    data = {
        "Betreff": row.subject,
        "Empfänger": ", ".join(r.address for r in recipients),
        "Fehler": error,
    }
    if row.customer_ref:
        data["Kunde"] = " ".join(filter(None, (row.customer_ref, row.customer_name)))
    emit(row.account, DELIVERY_FAILED, data)


def delivery_state(row: CustomerMail) -> str:
    """The mail's state for people: "partial" when some recipients were refused."""
    if row.status == "sent" and any(r.status == "failed" for r in row.recipients):
        return "partial"
    return row.status


def sweep() -> int:
    return outbox.sweep(CustomerMail, JOB, "mail_id")


def mails_to_customer(account: Account, customer_ref: str, limit: int = 200) -> list[CustomerMail]:
    return list(
        CustomerMail.select()
        .where(CustomerMail.account == account, CustomerMail.customer_ref == customer_ref)
        .order_by(CustomerMail.created_at.desc(), CustomerMail.id.desc())
        .limit(limit)
    )


def as_json(row: CustomerMail) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "transport": row.transport,
        "customer_ref": row.customer_ref,
        "customer_name": row.customer_name or None,
        "subject": row.subject,
        "message_id": row.message_id or None,
        "error": row.error or None,
        "note": row.note or None,
        "created_at": utc_iso(row.created_at),
        "sent_at": utc_iso(row.sent_at),
        "recipients": [
            {"address": r.address, "status": r.status, "error": r.error or None}
            for r in row.recipients
        ],
    }


# --- service API -----------------------------------------------------------------

bp = service_blueprint("customer_mail", __name__)


@bp.post("/accounts/<int:account_id>/mails")
def post_mail(account_id: int) -> tuple[Response, int]:
    account = get_account(account_id)
    body = json_body()
    to = [body["to"]] if isinstance(body["to"], str) else body["to"]
    try:
        row = queue_customer_mail(
            account,
            to,
            body["subject"].strip(),
            body["text"],
            body.get("customer_ref"),
            body.get("customer_name", ""),
        )
    except ValueError as exc:
        field = str(exc) if str(exc) in ("to", "subject") else "to"
        fail(422, "Invalid mail.", {field: "invalid"})
    return jsonify(id=row.id, status=row.status), 202


@bp.get("/accounts/<int:account_id>/mails/<int:mail_id>")
def get_mail(account_id: int, mail_id: int) -> Response:
    account = get_account(account_id)
    row = CustomerMail.get_or_none(CustomerMail.id == mail_id, CustomerMail.account == account)
    if row is None:
        fail(404, "No such mail.")
    return jsonify(as_json(row))


@bp.get("/accounts/<int:account_id>/customers/<ref>/emails")
def customer_emails(account_id: int, ref: str) -> Response:
    account = get_account(account_id)
    return jsonify(
        customer_ref=ref, emails=[as_json(r) for r in mails_to_customer(account, ref[:100])]
    )
