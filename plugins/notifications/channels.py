"""The built-in channels: "Per E-Mail" and "Per Smartphone" (SMS)."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from core import Account, Notification, address, build_message, send_via_operator, system_sender


class EmailChannel:
    """Mail to the company's notification address, via the operator's server."""

    key = "email"
    label = _l("Per E-Mail")
    order = 10
    missing_target = _l("Keine E-Mail-Adresse für Benachrichtigungen hinterlegt")
    tracks_progress = True  # send_via_operator reports when the content goes out

    def target(self, account: Account) -> str | None:
        return account.notification_email or None

    def send(self, account: Account, target: str, notification: Notification) -> None:
        message = build_message(
            sender=system_sender(),
            to=address("", target).addr_spec,
            subject=notification.subject,
            text=notification.text,
            html=notification.html,
            headers={"Auto-Submitted": "auto-generated"},
        )
        send_via_operator(message)  # one recipient: refusal raises PermanentFailure


class SmsChannel:
    """SMS to the company's mobile number through the SMS gateway hook."""

    key = "sms"
    label = _l("Per Smartphone")
    order = 20
    missing_target = _l("Keine Mobilfunknummer hinterlegt")

    def target(self, account: Account) -> str | None:
        return account.mobile_number or None

    def send(self, account: Account, target: str, notification: Notification) -> None:
        pm = current_app.extensions["kontor"].pm
        gateway = pm.hook.kontor_sms_gateway(config=current_app.config)
        gateway.send(target, notification.short_text)
