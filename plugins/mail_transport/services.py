"""Mail settings, the step-by-step connection check and the two transports."""

from __future__ import annotations

import contextlib
import imaplib
import json
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import Message
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from core import (
    Account,
    DecryptionError,
    OperatorTransport,
    PermanentFailure,
    SentMail,
    address,
    database,
    decrypt,
    encrypt,
    enqueue,
    per_request,
    smtp_client,
    utcnow,
)
from plugins.mail_transport import guard, imap
from plugins.mail_transport.models import ConnectionCheck, MailSettings

CHECK_JOB = "mail_transport.check"
PASSWORD_CONTEXT = "mail_transport:account:{}"  # noqa: S105 - AEAD context, not a secret
CREDENTIAL_FIELDS = (
    "own_email",
    "imap_user",
    "imap_host",
    "imap_port",
    "imap_security",
    "smtp_user",
    "smtp_host",
    "smtp_port",
    "smtp_security",
)


class SettingsError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def settings(account: Account) -> MailSettings:
    """The account's settings (defaults, unsaved, when there are none yet)."""
    row = per_request(
        ("mail_settings", account.id),
        lambda: MailSettings.get_or_none(MailSettings.account == account.id),
    )
    return row or MailSettings(account=account)


def _config() -> Mapping[str, Any]:
    return current_app.config


def _allowed() -> frozenset[tuple[str, int]]:
    return _config()["KONTOR_MAIL_ALLOWED_HOSTS"]


def password_of(row: MailSettings) -> str:
    return decrypt(row.password_encrypted, PASSWORD_CONTEXT.format(row.account_id))


def save(account: Account, values: Mapping[str, Any], password: str) -> MailSettings:
    """Store the settings; credentials may only change together with the password."""
    row = settings(account)
    own = values["mode"] == "own"
    changed = [f for f in CREDENTIAL_FIELDS if values.get(f) != getattr(row, f)]
    if own:
        for host_field, port_field, ports in (
            ("smtp_host", "smtp_port", guard.SMTP_PORTS),
            ("imap_host", "imap_port", guard.IMAP_PORTS),
        ):
            try:
                host = guard.normalise_host(values[host_field])
                guard.check_port(values[port_field], ports, host, _allowed())
                guard.resolve(host, values[port_field], ports, _allowed())
            except guard.GuardError as exc:
                field = port_field if "Port" in str(exc) else host_field
                raise SettingsError(str(exc), field) from None
            values = {**values, host_field: host}
        changed = [f for f in CREDENTIAL_FIELDS if values.get(f) != getattr(row, f)]
        if changed and row.password_encrypted and not password:
            raise SettingsError(
                _(
                    "Bitte geben Sie das Passwort erneut ein, wenn Sie Server, Port, Benutzer "
                    "oder Verschlüsselung ändern."
                ),
                "password",
            )
        if not row.password_encrypted and not password:
            raise SettingsError(
                _("Bitte geben Sie das Passwort des E-Mail-Kontos ein."), "password"
            )
    with database.atomic():
        row.mode = values["mode"]
        row.keep_history = bool(values["keep_history"])
        row.sender_name = values["sender_name"] or ""
        row.reply_to = values["reply_to"] or ""
        if own:
            for name in CREDENTIAL_FIELDS:
                setattr(row, name, values[name])
            if changed or password:
                row.own_active, row.verified_at, row.sent_folder = False, None, ""
        row.save()
        if own and password:
            row.password_encrypted = encrypt(password, PASSWORD_CONTEXT.format(account.id))
            row.save(only=[MailSettings.password_encrypted])
    return row


# --- "Verbinden": the step-by-step check ------------------------------------------


@dataclass
class Step:
    key: str
    label: str
    status: str = "pending"  # pending, ok, failed, skipped
    message: str = ""


def _steps() -> list[Step]:
    return [
        Step("smtp_reach", _("SMTP-Server erreichbar")),
        Step("smtp_tls", _("SMTP: Verschlüsselung mit gültigem Zertifikat")),
        Step("smtp_login", _("SMTP: Anmeldung")),
        Step("imap_reach", _("IMAP-Server erreichbar")),
        Step("imap_tls", _("IMAP: Verschlüsselung mit gültigem Zertifikat")),
        Step("imap_login", _("IMAP: Anmeldung")),
        Step("imap_sent", _("Ordner für gesendete E-Mails gefunden")),
    ]


def start_check(account: Account) -> ConnectionCheck:
    with database.atomic():
        row = ConnectionCheck.create(
            account=account, steps_json=json.dumps([s.__dict__ for s in _steps()])
        )
        enqueue(CHECK_JOB, check_id=row.id)
    return row


def steps_of(check: ConnectionCheck) -> list[Step]:
    return [Step(**s) for s in json.loads(check.steps_json)]


def _explain(exc: BaseException, timeout: int) -> str:
    """A plain German reason; server texts are never shown."""
    if isinstance(exc, guard.GuardError):
        return str(exc)
    if smtp_client.timed_out(exc):
        return _("Der Server antwortet nicht (Zeitüberschreitung nach %(s)d Sekunden).", s=timeout)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _(
            "Das Zertifikat des Servers ist nicht vertrauenswürdig oder passt nicht zum "
            "Servernamen."
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError) or (
        isinstance(exc, imaplib.IMAP4.error) and "STARTTLS" in str(exc).upper()
    ):
        return _("Der Server bietet keine verschlüsselte Verbindung (STARTTLS) an.")
    if isinstance(exc, ssl.SSLError):
        return _("Die verschlüsselte Verbindung konnte nicht aufgebaut werden.")
    if isinstance(exc, smtplib.SMTPAuthenticationError | imaplib.IMAP4.error):
        return _("Anmeldung fehlgeschlagen: Benutzername oder Passwort ist falsch.")
    if isinstance(exc, ConnectionRefusedError):
        return _("Der Server ist unter dieser Adresse und diesem Port nicht erreichbar.")
    return _("Die Verbindung zum Server ist fehlgeschlagen.")


def _probe(address: str, port: int, timeout: int) -> None:
    socket.create_connection((address, port), timeout).close()


def _smtp_endpoint(row: MailSettings, password: str, address: str) -> smtp_client.SmtpEndpoint:
    return smtp_client.SmtpEndpoint(
        host=row.smtp_host,
        port=row.smtp_port,
        security=row.smtp_security,
        username=row.smtp_user or row.own_email,
        password=password,
        connect_address=address,
        ca_file=_config()["KONTOR_MAIL_CA_FILE"],
        timeout=_config()["KONTOR_MAIL_TIMEOUT"],
    )


def _imap_open(row: MailSettings, address: str) -> imaplib.IMAP4:
    ctx = smtp_client.tls_context(_config()["KONTOR_MAIL_CA_FILE"])
    conn = imap.connect(
        row.imap_host,
        row.imap_port,
        address,
        row.imap_security,
        _config()["KONTOR_MAIL_TIMEOUT"],
        ctx,
    )
    try:
        imap.secure(conn, row.imap_security, ctx)
    except BaseException:
        conn.shutdown()
        raise
    return conn


def run_check(check_id: int) -> None:
    """Worker job: every step in order; the first failure skips the rest."""
    check = ConnectionCheck.get_or_none(ConnectionCheck.id == check_id)
    if check is None or check.status != "running":
        return
    row = settings(check.account)
    timeout = _config()["KONTOR_MAIL_TIMEOUT"]
    steps = {s.key: s for s in _steps()}
    state: dict[str, Any] = {}

    def save_progress() -> None:
        check.steps_json = json.dumps([s.__dict__ for s in steps.values()])
        check.save(only=[ConnectionCheck.steps_json])

    def smtp_reach() -> None:
        state["password"] = password_of(row)
        state["smtp_addr"] = guard.resolve(
            row.smtp_host, row.smtp_port, guard.SMTP_PORTS, _allowed()
        )
        _probe(state["smtp_addr"], row.smtp_port, timeout)

    def smtp_tls() -> None:
        endpoint = _smtp_endpoint(row, state["password"], state["smtp_addr"])
        state["smtp"] = smtp_client.connect(endpoint)
        smtp_client.secure(state["smtp"], endpoint)

    def smtp_login() -> None:
        endpoint = _smtp_endpoint(row, state["password"], state["smtp_addr"])
        try:
            smtp_client.login(state["smtp"], endpoint)
        finally:
            smtp_client.end(state.pop("smtp"))

    def imap_reach() -> None:
        state["imap_addr"] = guard.resolve(
            row.imap_host, row.imap_port, guard.IMAP_PORTS, _allowed()
        )
        _probe(state["imap_addr"], row.imap_port, timeout)

    def imap_tls() -> None:
        state["imap"] = _imap_open(row, state["imap_addr"])

    def imap_login() -> None:
        state["imap"].login(row.imap_user or row.own_email, state["password"])

    def imap_sent() -> None:
        folder = imap.find_sent(state["imap"])
        if folder is None:
            raise LookupError
        state["sent"] = folder

    actions: dict[str, Callable[[], None]] = {
        "smtp_reach": smtp_reach,
        "smtp_tls": smtp_tls,
        "smtp_login": smtp_login,
        "imap_reach": imap_reach,
        "imap_tls": imap_tls,
        "imap_login": imap_login,
        "imap_sent": imap_sent,
    }
    failed = False
    try:
        for key, action in actions.items():
            step = steps[key]
            if failed:
                step.status = "skipped"
                continue
            try:
                action()
            except LookupError:
                step.status, step.message = (
                    "failed",
                    _(
                        "Kein Ordner für gesendete E-Mails gefunden. Legen Sie im Postfach einen "
                        "Ordner „Gesendet“ an."
                    ),
                )
                failed = True
            except (
                OSError,
                smtplib.SMTPException,
                imaplib.IMAP4.error,
                guard.GuardError,
                DecryptionError,
            ) as exc:
                step.status, step.message, failed = "failed", _explain(exc, timeout), True
            else:
                step.status = "ok"
            save_progress()
    finally:
        if "imap" in state:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                state["imap"].logout()
        if "smtp" in state:
            smtp_client.end(state["smtp"])
    with database.atomic():
        check.status, check.finished_at = ("failed" if failed else "passed"), utcnow()
        save_progress()
        check.save(only=[ConnectionCheck.status, ConnectionCheck.finished_at])
        if not failed:
            MailSettings.update(
                own_active=True, verified_at=utcnow(), sent_folder=state["sent"]
            ).where(MailSettings.id == row.id).execute()


def latest_check(account: Account) -> ConnectionCheck | None:
    return (
        ConnectionCheck.select()
        .where(ConnectionCheck.account == account.id)
        .order_by(ConnectionCheck.id.desc())
        .first()
    )


# --- transports --------------------------------------------------------------------


class OwnAccountTransport:
    """The account's own SMTP server, with a copy into its IMAP Sent folder."""

    name = "own"
    own_account = True
    tracks_progress = True  # see core.delivery.messages.MailTransport

    def __init__(self, row: MailSettings) -> None:
        self.row = row
        self.keep_history = row.keep_history

    def sender(self, account: Account) -> tuple[Address, Address | None]:
        reply = self.row.reply_to
        return (
            address(self.row.sender_name or account.company_name, self.row.own_email),
            address("", reply) if reply else None,
        )

    def send(self, account: Account, message: Message) -> SentMail:
        row = self.row
        try:
            password = password_of(row)
            addr = guard.resolve(row.smtp_host, row.smtp_port, guard.SMTP_PORTS, _allowed())
        except (guard.GuardError, DecryptionError) as exc:
            raise PermanentFailure(
                str(exc)
                if isinstance(exc, guard.GuardError)
                else "Zugangsdaten nicht lesbar; bitte neu verbinden."
            ) from None
        refused = smtp_client.send(_smtp_endpoint(row, password, addr), message)
        return SentMail(message["Message-ID"], refused, self._copy_to_sent(message, password))

    def _copy_to_sent(self, message: Message, password: str) -> str:
        """APPEND to the Sent folder; a failure is noted, the mail is sent anyway."""
        row = self.row
        try:
            addr = guard.resolve(row.imap_host, row.imap_port, guard.IMAP_PORTS, _allowed())
            conn = _imap_open(row, addr)
            try:
                conn.login(row.imap_user or row.own_email, password)
                status, _data = conn.append(
                    imap.quote(row.sent_folder),
                    r"(\Seen)",
                    imaplib.Time2Internaldate(time.time()),
                    message.as_bytes(),
                )
            finally:
                with contextlib.suppress(OSError, imaplib.IMAP4.error):
                    conn.logout()
        except (OSError, imaplib.IMAP4.error, guard.GuardError):
            return "Kopie im Ordner „Gesendet“ fehlgeschlagen"
        return "" if status == "OK" else "Kopie im Ordner „Gesendet“ fehlgeschlagen"


def transport(account: Account) -> OperatorTransport | OwnAccountTransport:
    """The account's way: its own mail account once connected, else core's
    operator transport with the account's sender name, reply-to and history choice."""
    row = settings(account)
    if row.mode == "own" and row.own_active:
        return OwnAccountTransport(row)
    return OperatorTransport(row.sender_name, row.reply_to, row.keep_history)


def own_in_use(account: Account) -> bool:
    return transport(account).own_account


def erase(account: Account) -> None:
    """Closing the account: its mail settings (with the password) and checks go."""
    ConnectionCheck.delete().where(ConnectionCheck.account == account.id).execute()
    MailSettings.delete().where(MailSettings.account == account.id).execute()
