"""The operator's mail server through Flask-Mail, with what Flask-Mail 0.10 lacks.

Flask-Mail is configured from ``KONTOR_MAIL_*`` (``core.config`` derives its
``MAIL_*`` names) and owns the connection: :class:`OperatorMail` is the app's
``Mail``, and every connection it opens, also through ``mail.send()``, is a
:class:`VerifiedConnection`. Four gaps of Flask-Mail 0.10 are closed here and
only here:

1. TLS: Flask-Mail calls ``starttls()`` and ``SMTP_SSL`` without an SSL
   context, so no certificate is verified. The connection is opened by
   :mod:`core.delivery.smtp_client` with a verifying context (``KONTOR_MAIL_CA_FILE`` adds a
   private CA) that checks the host name.
2. Timeout: Flask-Mail opens smtplib without one; here ``KONTOR_MAIL_TIMEOUT``
   bounds the connect and every reply.
3. Refused recipients: ``Connection.send()`` drops what ``sendmail()``
   returns. Messages are handed to the connection's smtplib session with
   ``send_message()``, whose result (the refused recipients) is returned.
4. The From address: ``Message(sender=(name, addr))`` joins name and address
   into one string that is parsed again, so a name with ``<evil@x>``, a comma
   or a line break can change the address. Messages are built by
   :func:`core.delivery.messages.build_message` from a ``headerregistry.Address`` (name and
   address never mixed), and the envelope sender is always the checked
   ``KONTOR_MAIL_DEFAULT_SENDER``.

Flask-Mail's documented API is ``Mail`` (``init_app``, ``connect``, ``send``)
and ``Connection`` as a context manager that closes with QUIT; it offers no
hook for TLS, timeouts or the send result. Beyond it this module relies on
three things of Flask-Mail 0.10 (pinned ``<0.11``), none with an underscore:
``Connection.configure_host()``, the method Flask-Mail calls to open its
smtplib session (on enter, and again after ``MAIL_MAX_EMAILS``), overridden
below; ``Connection.host``, that session; and the state ``init_app`` puts in
``app.extensions["mail"]``, handed to ``Connection`` unread as
``Mail.connect()`` does.
"""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Mapping
from email.message import Message
from typing import Any

import flask_mail
from flask import Flask, current_app

from core.delivery import smtp_client


def flask_mail_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Flask-Mail's settings for the ``KONTOR_MAIL_*`` values in ``config``."""
    return {
        "MAIL_SERVER": config["KONTOR_MAIL_SERVER"],
        "MAIL_PORT": config["KONTOR_MAIL_PORT"],
        "MAIL_USE_TLS": config["KONTOR_MAIL_USE_TLS"],
        "MAIL_USE_SSL": config["KONTOR_MAIL_USE_SSL"],
        "MAIL_USERNAME": config["KONTOR_MAIL_USERNAME"],
        "MAIL_PASSWORD": config["KONTOR_MAIL_PASSWORD"],
        "MAIL_DEFAULT_SENDER": config["KONTOR_MAIL_DEFAULT_SENDER"],
        # Flask-Mail would not send at all under TESTING; Kontor's tests talk to
        # real servers, and without KONTOR_MAIL_SERVER mail goes to a Maildir.
        "MAIL_SUPPRESS_SEND": False,
    }


def endpoint(config: Mapping[str, Any]) -> smtp_client.SmtpEndpoint:
    """The server as Flask-Mail is configured, plus Kontor's CA file and timeout."""
    security = "ssl" if config["MAIL_USE_SSL"] else "starttls" if config["MAIL_USE_TLS"] else "none"
    return smtp_client.SmtpEndpoint(
        host=config["MAIL_SERVER"],
        port=config["MAIL_PORT"],
        security=security,
        username=config["MAIL_USERNAME"],
        password=config["MAIL_PASSWORD"],
        ca_file=config["KONTOR_MAIL_CA_FILE"],
        timeout=config["KONTOR_MAIL_TIMEOUT"],
    )


class VerifiedConnection(flask_mail.Connection):
    """Flask-Mail's connection, opened with verified TLS, a timeout and one AUTH try."""

    def configure_host(self) -> smtplib.SMTP:
        return smtp_client.open_connection(endpoint(current_app.config))


class OperatorMail(flask_mail.Mail):
    """The app's ``Mail``: every connection it opens is a :class:`VerifiedConnection`."""

    def connect(self) -> VerifiedConnection:
        return VerifiedConnection(current_app.extensions["mail"])


mail = OperatorMail()


def init_app(app: Flask) -> None:
    mail.init_app(app)


def _open(_endpoint: smtp_client.SmtpEndpoint) -> smtp_client.Session:
    """Enter a Flask-Mail connection; leaving it later sends QUIT."""
    stack = contextlib.ExitStack()
    connection = stack.enter_context(mail.connect())

    def leave() -> None:
        try:
            stack.close()
        except (smtplib.SMTPException, OSError):  # QUIT to a server that is gone
            connection.host.close()

    return smtp_client.Session(connection.host, leave)


def send(message: Message) -> dict[str, tuple[int, str]]:
    """Deliver through the operator's server; return the refused recipients.

    Raises TemporaryFailure or PermanentFailure (see :func:`core.delivery.smtp_client.send`).
    """
    config = current_app.config
    return smtp_client.send(
        endpoint(config), message, from_addr=config["MAIL_DEFAULT_SENDER"], opener=_open
    )
