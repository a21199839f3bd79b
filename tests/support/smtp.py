"""A real SMTP server (aiosmtpd) with STARTTLS or implicit TLS and AUTH."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERNAME = "kontor"
PASSWORD = "smtp-geheim"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Inbox:
    """What the server accepted, and how it should answer next."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    reject_rcpt: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    data_reply: str | None = None  # e.g. "451 try later" for the next DATA
    auth_attempts: int = 0  # AUTH commands answered, successful or not
    quits: int = 0  # sessions the client closed with QUIT
    #: Called with "MAIL" when MAIL FROM arrives and "DATA" once the content is stored.
    on_command: Callable[[str], None] | None = None

    def notify(self, command: str) -> None:
        if self.on_command is not None:
            self.on_command(command)

    def bodies(self) -> list[str]:
        return [m.get_body(("plain",)).get_content() for m in self.messages]


class Handler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.inbox.notify("MAIL")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.inbox.reject_rcpt.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.inbox.data_reply:
            reply, self.inbox.data_reply = self.inbox.data_reply, None
            return reply
        self.inbox.envelopes.append(envelope)
        self.inbox.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.inbox.notify("DATA")
        return "250 Message accepted"

    async def handle_QUIT(self, server, session, envelope):
        self.inbox.quits += 1
        return "221 Bye"


def _authenticator(inbox: Inbox, user: str, password: str):
    def check(server, session, envelope, mechanism, auth_data):
        inbox.auth_attempts += 1
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    return check


@dataclass
class SmtpServer:
    host: str
    port: int
    ca_file: str
    inbox: Inbox
    controller: Controller

    def config(self) -> dict[str, str]:
        """Settings that make this server the operator's mail server."""
        return {
            "KONTOR_MAIL_SERVER": "localhost",
            "KONTOR_MAIL_PORT": str(self.port),
            "KONTOR_MAIL_USE_TLS": "true",
            "KONTOR_MAIL_USERNAME": USERNAME,
            "KONTOR_MAIL_PASSWORD": PASSWORD,
            "KONTOR_MAIL_CA_FILE": self.ca_file,
            "KONTOR_MAIL_DEFAULT_SENDER": "noreply@kontor.example",
        }

    def stop(self) -> None:
        if self.controller._thread is not None:
            self.controller.stop()


def certificate_authority(tmp: Path) -> tuple[trustme.CA, str]:
    ca = trustme.CA()
    ca_file = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca, str(ca_file)


def server_context(ca: trustme.CA, hostnames: tuple[str, ...] = ("localhost",)) -> ssl.SSLContext:
    cert = ca.issue_cert(*hostnames)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


def start_smtp(
    tmp: Path,
    implicit_tls: bool = False,
    port: int | None = None,
    ca: trustme.CA | None = None,
    credentials: tuple[str, str] = (USERNAME, PASSWORD),
    starttls: bool = True,
    smtputf8: bool = True,
    auth_login: bool = False,
) -> SmtpServer:
    """Start aiosmtpd on 127.0.0.1 with TLS (STARTTLS or implicit) and AUTH.

    ``starttls=False`` gives a server that offers no encryption at all;
    ``smtputf8=False`` one that does not take UTF-8 addresses;
    ``auth_login=True`` one that offers AUTH LOGIN next to PLAIN.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    if ca is None:
        ca, ca_file = certificate_authority(tmp)
    else:
        ca_file = str(tmp / "ca.pem")
        ca.cert_pem.write_to_path(ca_file)
    ctx = server_context(ca)
    port = port or free_port()
    inbox = Inbox()
    kwargs: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": port,
        "authenticator": _authenticator(inbox, *credentials),
        # With implicit TLS aiosmtpd does not see the session as secured and would
        # hide AUTH; the connection is encrypted from the first byte anyway.
        "auth_require_tls": starttls and not implicit_tls,
        "auth_exclude_mechanism": [] if auth_login else ["LOGIN"],
        "enable_SMTPUTF8": smtputf8,
    }
    if implicit_tls:
        kwargs["ssl_context"] = ctx
        kwargs["server_hostname"] = "localhost"
    elif starttls:
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = True
    controller = Controller(Handler(inbox), **kwargs)
    controller.start()
    return SmtpServer("127.0.0.1", port, ca_file, inbox, controller)
