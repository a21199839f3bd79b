"""Mail from Kontor itself: building messages safely and handing them over.

Without ``KONTOR_MAIL_SERVER`` mails land in a Maildir in the instance folder,
so a demo never needs a server. Customer mails go through the
``kontor_mail_transport`` provider hook; core's default is the operator's
server with the account's display name.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.policy import Policy
from email.utils import format_datetime, localtime, make_msgid
from pathlib import Path
from typing import Any, Protocol

import idna
from flask import current_app

from core.contract.hookspecs import hookimpl
from core.contract.values import PermanentFailure
from core.data.models import Account
from core.delivery import operator_server, smtp_client
from core.web.validation import has_control_chars


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, making each header's class once.

    ``HeaderRegistry`` builds a new class with ``type()`` on every lookup, and
    the email package looks one up twice for every header it sets and once for
    every header it parses: about a third of the CPU that building, storing,
    reading back and flattening a notification costs. The classes depend only
    on the header name, so the first one made for a name is reused.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


_HEADERS = _HeaderClasses()
#: ``policy.SMTP`` and ``policy.SMTPUTF8`` with that registry: what every mail
#: of Kontor is built, stored and read back with.
SMTP = policy.SMTP.clone(header_factory=_HEADERS)
SMTPUTF8 = policy.SMTPUTF8.clone(header_factory=_HEADERS)


def address(display_name: str, addr: str) -> Address:
    """A header-safe address: the name can never alter the address part."""
    name = " ".join(display_name.split()) if display_name else ""
    if has_control_chars(name) or has_control_chars(addr):
        raise PermanentFailure("Ungültige Zeichen in Name oder Adresse.")
    username, _, domain = addr.rpartition("@")
    if not username or not domain:
        raise PermanentFailure("Ungültige E-Mail-Adresse.")
    try:
        return Address(display_name=name, username=username, domain=domain)
    except ValueError:
        raise PermanentFailure("Ungültige E-Mail-Adresse.") from None


def _ascii_domain(domain: str) -> str:
    """The domain as it travels in headers and the envelope (IDNA 2008, UTS 46)."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise PermanentFailure("Ungültige E-Mail-Adresse.") from None


def _on_the_wire(a: Address) -> tuple[str, str, str]:
    return a.display_name, a.username, _ascii_domain(a.domain)


def _address_header(
    mime_policy: Policy, name: str, addresses: tuple[tuple[str, str, str], ...]
) -> BaseHeader:
    """An address header built from ``Address`` objects, never from a joined
    string, so a display name can never add or change an address."""
    return mime_policy.header_factory(name, [Address(*a) for a in addresses])


def _header(mime_policy: Policy, name: str, value: str) -> BaseHeader:
    """A header parsed by the policy's own header registry."""
    return mime_policy.header_factory(name, value)


def build_message(
    *,
    sender: Address,
    to: str | Iterable[str],
    subject: str,
    text: str,
    html: str | None = None,
    reply_to: Address | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """Compose a plain-text (optionally HTML alternative) message.

    Both transports send what this builds: an ``EmailMessage`` with
    ``policy.SMTP``, address headers from ``headerregistry.Address`` (a
    display name is quoted or encoded and can never alter the address), a
    Date with a numeric zone. Domains go out in IDNA form; only a local part
    with non-ASCII letters needs ``policy.SMTPUTF8`` (and a server that offers
    SMTPUTF8). Anything the email package refuses is a PermanentFailure: a
    mail that cannot be built now never can.
    """
    if has_control_chars(subject):
        raise PermanentFailure("Ungültige Zeichen im Betreff.")
    recipients = [address("", r) for r in ([to] if isinstance(to, str) else to)]
    everyone = [sender, *recipients, *([reply_to] if reply_to else [])]
    international = not all(a.username.isascii() for a in everyone)
    msg = EmailMessage(policy=SMTPUTF8 if international else SMTP)
    try:
        msg["From"] = _address_header(msg.policy, "From", (_on_the_wire(sender),))
        msg["To"] = _address_header(msg.policy, "To", tuple(map(_on_the_wire, recipients)))
        if reply_to is not None:
            msg["Reply-To"] = _address_header(msg.policy, "Reply-To", (_on_the_wire(reply_to),))
        msg["Subject"] = _header(msg.policy, "Subject", subject)
        msg["Date"] = format_datetime(localtime())
        msg["Message-ID"] = make_msgid(domain=_ascii_domain(sender.domain))
        for key, value in (headers or {}).items():
            if not key.isascii() or not key.replace("-", "").isalnum():
                raise PermanentFailure("Ungültiger Name einer Kopfzeile.")
            if has_control_chars(value):
                raise PermanentFailure("Ungültige Zeichen in einer Kopfzeile.")
            msg[key] = _header(msg.policy, key, value)
        # Quoted-printable keeps UTF-8 text 7-bit safe on every server, readable raw.
        msg.set_content(text, cte="quoted-printable")
        if html is not None:
            msg.add_alternative(html, subtype="html", cte="quoted-printable")
    except ValueError:  # the email package's header errors and defects
        raise PermanentFailure("Die E-Mail konnte nicht erstellt werden.") from None
    return msg


def maildir_path(config: Mapping[str, Any]) -> Path:
    return Path(config["KONTOR_INSTANCE_PATH"]) / "mail"


def send_via_operator(message: Message) -> dict[str, tuple[int, str]]:
    """Deliver through the operator's server (Flask-Mail), or into the instance Maildir."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        box = mailbox.Maildir(maildir_path(config), create=True)
        smtp_client.reaching_data()
        box.add(message)
        return {}
    return operator_server.send(message)


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
    is never sent through another. ``own_account`` is true when the mails
    leave through the account's own mail account (the subscription page and
    API show it). ``keep_history`` says whether mails are
    recorded per customer reference. A transport that delivers only through
    :func:`send_via_operator` or :func:`core.delivery.smtp_client.send` may set
    ``tracks_progress = True``: they record when the content goes out, so a
    mail whose worker died before that is sent again instead of being
    failed as "nicht bestätigt".
    """

    name: str
    own_account: bool
    keep_history: bool

    def sender(self, account: Account) -> tuple[Address, Address | None]:
        """From and Reply-To for this account's customer mails."""

    def send(self, account: Account, message: Message) -> SentMail:
        """Deliver; raise TemporaryFailure or PermanentFailure."""


class OperatorTransport:
    """Customer mails from the operator's address, in the company's name.

    Core's default transport, and the one the mail transport plugin uses for
    its "Kontor-Mailserver" mode with the account's sender name, reply-to
    address and history choice: there is one way through the operator's server.
    """

    name = "service"
    own_account = False
    tracks_progress = True

    def __init__(self, sender_name: str = "", reply_to: str = "", keep_history: bool = False):
        self.sender_name = sender_name
        self.reply_to = reply_to
        self.keep_history = keep_history

    def sender(self, account: Account) -> tuple[Address, Address | None]:
        reply = self.reply_to or account.notification_email
        return (
            system_sender(self.sender_name or account.company_name),
            address("", reply) if reply else None,
        )

    def send(self, account: Account, message: Message) -> SentMail:
        refused = send_via_operator(message)
        return SentMail(message_id=message["Message-ID"], refused=refused)


@hookimpl(trylast=True)
def kontor_mail_transport() -> MailTransport:
    return OperatorTransport()
