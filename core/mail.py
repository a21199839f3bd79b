"""Mail from Kontor itself: building messages safely and handing them over.

Without ``KONTOR_MAIL_SERVER`` mails land in a Maildir in the instance folder,
so a demo never needs a server. Customer mails go through the
``kontor_mail_transport`` provider hook; core's default is the operator's
server with the account's display name.
"""

from __future__ import annotations

import mailbox
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email import charset, policy
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any, Protocol

import idna
from flask import current_app

from core import smtp
from core.hookspecs import hookimpl
from core.models import Account
from core.types import PermanentFailure
from core.validation import has_control_chars


def address(display_name: str, addr: str) -> Address:
    """A header-safe address: the name can never alter the address part."""
    name = " ".join(display_name.split()) if display_name else ""
    if has_control_chars(name) or has_control_chars(addr):
        raise PermanentFailure("Ungültige Zeichen in Name oder Adresse.")
    username, _, domain = addr.rpartition("@")
    if not username or not domain:
        raise PermanentFailure("Ungültige E-Mail-Adresse.")
    return Address(display_name=name, username=username, domain=domain)


#: UTF-8 bodies as quoted-printable: 7-bit safe on every server, readable raw.
_UTF8 = charset.Charset("utf-8")
_UTF8.body_encoding = charset.QP


def _ascii_domain(domain: str) -> str:
    """The domain as it travels in headers and the envelope (IDNA 2008, UTS 46)."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise PermanentFailure("Ungültige E-Mail-Adresse.") from None


def format_addresses(addresses: Iterable[Address]) -> str:
    """An address header value; names are quoted or RFC 2047 encoded as needed.

    A non-ASCII local part stays UTF-8 (such a mail goes out with SMTPUTF8).
    """
    parts = []
    for a in addresses:
        ascii_address = Address(a.display_name, a.username, _ascii_domain(a.domain))
        if ascii_address.username.isascii():
            parts.append(formataddr((a.display_name, ascii_address.addr_spec), charset="utf-8"))
        else:
            parts.append(str(ascii_address))
    return ", ".join(parts)


def build_message(
    *,
    sender: Address,
    to: str | Iterable[str],
    subject: str,
    text: str,
    html: str | None = None,
    reply_to: Address | None = None,
    headers: Mapping[str, str] | None = None,
) -> Message:
    """Compose a plain-text (optionally HTML alternative) message.

    Built on the stdlib's MIME classes with each header formatted once from
    checked parts: no value can carry a line break into the header block, and
    it costs a fraction of the ``email.policy.default`` header parsing.
    Domains go out in IDNA form; only a local part with non-ASCII letters
    needs the SMTPUTF8 policy (and a server that offers SMTPUTF8).
    """
    if has_control_chars(subject):
        raise PermanentFailure("Ungültige Zeichen im Betreff.")
    recipients = [address("", r) for r in ([to] if isinstance(to, str) else to)]
    everyone = [sender, *recipients, *([reply_to] if reply_to else [])]
    international = not all(a.username.isascii() for a in everyone)
    mime_policy = policy.SMTPUTF8 if international else policy.compat32

    def header(value: str) -> str | Header:
        if has_control_chars(value):
            raise PermanentFailure("Ungültige Zeichen in einer Kopfzeile.")
        return value if value.isascii() or international else Header(value, "utf-8")

    body = MIMEText(text, "plain", _UTF8, policy=mime_policy)
    if html is None:
        msg: Message = body
    else:
        # "=_" never occurs in quoted-printable text, so the boundary needs no
        # search through the parts (the generator's default does one per mail).
        msg = MIMEMultipart(
            "alternative",
            boundary=f"=_{secrets.token_hex(16)}",
            _subparts=[body, MIMEText(html, "html", _UTF8, policy=mime_policy)],
            policy=mime_policy,
        )
    msg["From"] = format_addresses([sender])
    msg["To"] = format_addresses(recipients)
    if reply_to is not None:
        msg["Reply-To"] = format_addresses([reply_to])
    msg["Subject"] = header(subject)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=_ascii_domain(sender.domain))
    for key, value in (headers or {}).items():
        if not key.isascii() or not key.replace("-", "").isalnum():
            raise PermanentFailure("Ungültiger Name einer Kopfzeile.")
        msg[key] = header(value)
    return msg


def operator_endpoint(config: Mapping[str, Any]) -> smtp.SmtpEndpoint | None:
    """The operator's SMTP server from ``KONTOR_MAIL_*``, if configured."""
    if not config["KONTOR_MAIL_SERVER"]:
        return None
    security = (
        "ssl"
        if config["KONTOR_MAIL_USE_SSL"]
        else "starttls"
        if config["KONTOR_MAIL_USE_TLS"]
        else "none"
    )
    return smtp.SmtpEndpoint(
        host=config["KONTOR_MAIL_SERVER"],
        port=config["KONTOR_MAIL_PORT"],
        security=security,
        username=config["KONTOR_MAIL_USERNAME"],
        password=config["KONTOR_MAIL_PASSWORD"],
        ca_file=config["KONTOR_MAIL_CA_FILE"],
        timeout=config["KONTOR_MAIL_TIMEOUT"],
    )


def maildir_path(config: Mapping[str, Any]) -> Path:
    return Path(config["KONTOR_INSTANCE_PATH"]) / "mail"


def send_via_operator(message: Message) -> dict[str, tuple[int, str]]:
    """Deliver through the operator's server, or into the instance Maildir."""
    config = current_app.config
    endpoint = operator_endpoint(config)
    if endpoint is None:
        box = mailbox.Maildir(maildir_path(config), create=True)
        box.add(message)
        return {}
    return smtp.send(endpoint, message)


def system_sender(name: str = "Kontor") -> Address:
    return address(name, current_app.config["KONTOR_MAIL_DEFAULT_SENDER"])


@dataclass(frozen=True)
class SentMail:
    """What a transport reports back for one message."""

    message_id: str
    refused: Mapping[str, tuple[int, str]]
    note: str = ""  # e.g. a failed copy to the Sent folder


class MailTransport(Protocol):
    """Sends an account's customer mails (see ``kontor_mail_transport``).

    ``name`` identifies the way ("service", "own"); a mail queued for one name
    is never sent through another. ``keep_history`` says whether mails are
    recorded per customer reference.
    """

    name: str
    keep_history: bool

    def sender(self, account: Account) -> tuple[Address, Address | None]:
        """From and Reply-To for this account's customer mails."""

    def send(self, account: Account, message: Message) -> SentMail:
        """Deliver; raise TemporaryFailure or PermanentFailure."""


class OperatorTransport:
    """Customer mails from the operator's address with the company's name."""

    name = "service"
    keep_history = False

    def sender(self, account: Account) -> tuple[Address, Address | None]:
        reply = account.notification_email
        return system_sender(account.company_name), address("", reply) if reply else None

    def send(self, account: Account, message: Message) -> SentMail:
        refused = send_via_operator(message)
        return SentMail(message_id=message["Message-ID"], refused=refused)


@hookimpl(trylast=True)
def kontor_mail_transport() -> MailTransport:
    return OperatorTransport()
