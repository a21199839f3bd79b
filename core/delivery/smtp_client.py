"""SMTP client with verified TLS, timeouts and failure classification.

Used for the operator's server and for accounts' own servers. Certificates
are always verified against the host name, also when the connection goes to
an address checked beforehand (``connect_address``, against DNS rebinding).
"""

from __future__ import annotations

import contextlib
import email.generator
import email.utils
import io
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from copy import deepcopy
from dataclasses import dataclass
from email.message import Message

from core.contract.values import PermanentFailure, TemporaryFailure


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where and how to deliver; ``password`` never appears in ``repr``."""

    host: str
    port: int
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    connect_address: str | None = None
    ca_file: str | None = None
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"SmtpEndpoint(host={self.host!r}, port={self.port}, security={self.security!r})"


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying client context; ``ca_file`` adds a private CA (tests, intranets)."""
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class _PinnedSMTP(smtplib.SMTP):
    """Connects to a fixed address while TLS checks the host name."""

    def __init__(self, address: str | None, **kwargs: object) -> None:
        self._address = address
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self._address or host, port), timeout)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    def __init__(self, address: str | None, **kwargs: object) -> None:
        self._address = address
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        raw = socket.create_connection((self._address or host, port), timeout)
        return self.context.wrap_socket(raw, server_hostname=host)


def connect(endpoint: SmtpEndpoint) -> smtplib.SMTP:
    """Open the TCP connection (with TLS at once for ``ssl``) and read the greeting."""
    ctx = tls_context(endpoint.ca_file)
    # Passing host and port connects at once and records the host name that
    # TLS verifies the certificate against.
    target = {"host": endpoint.host, "port": endpoint.port, "timeout": endpoint.timeout}
    if endpoint.security == "ssl":
        return _PinnedSMTPSSL(endpoint.connect_address, context=ctx, **target)
    return _PinnedSMTP(endpoint.connect_address, **target)


def secure(conn: smtplib.SMTP, endpoint: SmtpEndpoint) -> None:
    """EHLO and, for ``starttls``, upgrade with a verified certificate."""
    conn.ehlo()
    if endpoint.security == "starttls":
        conn.starttls(context=tls_context(endpoint.ca_file))
        conn.ehlo()


#: AUTH mechanisms in order of preference; the first one the server offers is used.
AUTH_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")


def login(conn: smtplib.SMTP, endpoint: SmtpEndpoint) -> None:
    """Authenticate with exactly one mechanism.

    ``SMTP.login()`` tries every offered mechanism in turn, so one wrong
    password counts as two or three failures at the provider and can lock the
    account sooner. ``SMTP.auth()`` with one mechanism tries once.
    """
    if not endpoint.username:
        return
    if not conn.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    offered = conn.esmtp_features["auth"].upper().split()
    mechanism = next((m for m in AUTH_MECHANISMS if m in offered), None)
    if mechanism is None:
        raise smtplib.SMTPException("No suitable authentication method found.")
    # smtplib's auth_plain/auth_login/auth_cram_md5 read these documented attributes.
    conn.user, conn.password = endpoint.username, endpoint.password or ""
    conn.auth(mechanism, getattr(conn, "auth_" + mechanism.lower().replace("-", "_")))


def end(conn: smtplib.SMTP) -> None:
    """Close a session with QUIT; just drop the socket if the server is gone."""
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def open_connection(endpoint: SmtpEndpoint) -> smtplib.SMTP:
    """Connect, secure and log in; raises smtplib/ssl/OSError errors as they come.

    A session that fails after the greeting (TLS, login) is still closed with QUIT.
    """
    conn = connect(endpoint)
    try:
        secure(conn, endpoint)
        login(conn, endpoint)
    except BaseException:
        end(conn)
        raise
    return conn


def timed_out(exc: BaseException) -> bool:
    """True for a timeout, also when smtplib wrapped it as a disconnect."""
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


def classify(exc: BaseException) -> TemporaryFailure | PermanentFailure:
    """Map an SMTP/network error to a retry decision, without server text."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(500 <= c < 600 for c in codes):
            return PermanentFailure(f"Empfänger abgelehnt (SMTP {codes[0]})")
        return TemporaryFailure(f"Empfänger vorübergehend abgelehnt (SMTP {codes[0]})")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return PermanentFailure(f"Anmeldung am Mailserver fehlgeschlagen (SMTP {exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPResponseException):
        if 500 <= exc.smtp_code < 600:
            return PermanentFailure(f"Vom Mailserver abgelehnt (SMTP {exc.smtp_code})")
        return TemporaryFailure(f"Mailserver vorübergehend nicht bereit (SMTP {exc.smtp_code})")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentFailure("Das Zertifikat des Mailservers ist nicht vertrauenswürdig.")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentFailure("Der Mailserver unterstützt keine verschlüsselte Verbindung.")
    if timed_out(exc):
        return TemporaryFailure("Zeitüberschreitung beim Mailserver.")
    return TemporaryFailure("Mailserver nicht erreichbar.")


@dataclass
class Session:
    """An open, logged-in SMTP session and how to end it (with QUIT)."""

    smtp: smtplib.SMTP
    end: Callable[[], None]


def open_session(endpoint: SmtpEndpoint) -> Session:
    """A session opened by this module (the default for :func:`send`)."""
    conn = open_connection(endpoint)
    return Session(conn, lambda: end(conn))


class _Reuse(threading.local):
    """One open session per worker thread, reused while it stays fresh."""

    session: Session | None = None
    key: tuple[object, ...] = ()
    last_used: float = 0.0


_reuse = _Reuse()
IDLE_SECONDS = 20.0


def _key(endpoint: SmtpEndpoint, opener: Callable[[SmtpEndpoint], Session]) -> tuple[object, ...]:
    return (
        opener,
        endpoint.host,
        endpoint.port,
        endpoint.security,
        endpoint.username,
        endpoint.password,
        endpoint.connect_address,
        endpoint.ca_file,
    )


def close_kept() -> None:
    """End this thread's kept session (QUIT), e.g. when a worker stops."""
    session, _reuse.session = _reuse.session, None
    if session is not None:
        session.end()


def _session(
    endpoint: SmtpEndpoint, opener: Callable[[SmtpEndpoint], Session]
) -> tuple[Session, bool]:
    """A session for ``endpoint`` and whether it was reused."""
    fresh = time.monotonic() - _reuse.last_used < IDLE_SECONDS
    key = _key(endpoint, opener)
    if _reuse.session is not None and _reuse.key == key and fresh:
        return _reuse.session, True
    close_kept()
    _reuse.session, _reuse.key = opener(endpoint), key
    return _reuse.session, False


#: Called right before a message's content goes out (see :func:`reporting_data`).
_before_data: ContextVar[Callable[[], None] | None] = ContextVar("before_data", default=None)


@contextlib.contextmanager
def reporting_data(callback: Callable[[], None]) -> Iterator[None]:
    """Have ``callback`` run (and commit) right before the content is transmitted.

    The outbox records this stage so that after a crash it can tell a mail the
    server never saw (safe to send again) from one that may have arrived.
    """
    token = _before_data.set(callback)
    try:
        yield
    finally:
        _before_data.reset(token)


def reaching_data() -> None:
    """Report that the content is about to be handed over (SMTP DATA, Maildir)."""
    callback = _before_data.get()
    if callback is not None:
        callback()


#: The outcome recorded for a message whose content went out without a reply.
UNCONFIRMED = "Zustellung nicht bestätigt (Verbindung nach dem Senden abgebrochen)"


class Unconfirmed(Exception):
    """The content was handed over but no reply was read: never send it again."""


def _addresses(message: Message, *names: str) -> list[str]:
    values = [str(v) for name in names for v in message.get_all(name, [])]
    return [addr for _, addr in email.utils.getaddresses(values) if addr]


def transmit(
    conn: smtplib.SMTP, message: Message, from_addr: str | None = None
) -> dict[str, tuple[int, bytes]]:
    """``send_message()`` as MAIL, RCPT and DATA, reporting before the content goes out.

    Returns the refused recipients like ``sendmail()``; raises its exceptions,
    and :class:`Unconfirmed` when the connection breaks after DATA began.
    """
    sender = from_addr or _addresses(message, "Sender", "From")[0]
    recipients = _addresses(message, "To", "Cc", "Bcc")
    international = not all(a.isascii() for a in (sender, *recipients))
    options: list[str] = []
    buffer = io.BytesIO()
    if international:
        if not conn.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server")
        options = ["SMTPUTF8", "BODY=8BITMIME"]
        email.generator.BytesGenerator(buffer, policy=message.policy.clone(utf8=True)).flatten(
            _without_bcc(message), linesep="\r\n"
        )
    else:
        email.generator.BytesGenerator(buffer).flatten(_without_bcc(message), linesep="\r\n")
    content = buffer.getvalue()
    conn.ehlo_or_helo_if_needed()
    if conn.does_esmtp and conn.has_extn("size"):
        options.append(f"size={len(content)}")
    code, reply = conn.mail(sender, options)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for rcpt in recipients:
        code, reply = conn.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, reply)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    reaching_data()
    try:
        code, reply = conn.data(content)
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise Unconfirmed() from exc
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _without_bcc(message: Message) -> Message:
    if "Bcc" not in message:
        return message
    copy = deepcopy(message)
    del copy["Bcc"]
    return copy


def send(
    endpoint: SmtpEndpoint,
    message: Message,
    *,
    from_addr: str | None = None,
    opener: Callable[[SmtpEndpoint], Session] = open_session,
) -> dict[str, tuple[int, str]]:
    """Deliver ``message``; return recipients refused while others were accepted.

    ``from_addr`` is the envelope sender (default: the From header).
    ``opener`` opens the session (core.delivery.operator_server passes Flask-Mail's).
    The worker thread keeps its session open for the next message to the
    same server (a stale one is replaced once). Raises TemporaryFailure or
    PermanentFailure when nothing was delivered; a connection lost after the
    content went out is a PermanentFailure "Zustellung nicht bestätigt".
    """
    for attempt in (1, 2):
        reused = False
        try:
            session, reused = _session(endpoint, opener)
            try:
                refused = transmit(session.smtp, message, from_addr)
            except smtplib.SMTPNotSupportedError:  # raised before MAIL FROM
                raise PermanentFailure(
                    "Der Mailserver nimmt keine Adressen mit Umlauten vor dem @ an (SMTPUTF8)."
                ) from None
        except Unconfirmed:
            close_kept()
            raise PermanentFailure(UNCONFIRMED) from None
        except smtplib.SMTPServerDisconnected as exc:
            close_kept()
            if attempt == 1 and reused:
                continue  # the kept connection had been closed by the server
            raise classify(exc) from None
        except (smtplib.SMTPException, OSError) as exc:
            if isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError):
                _reset()
            else:
                close_kept()
            raise classify(exc) from None
        _reuse.last_used = time.monotonic()
        return {addr: (code, "") for addr, (code, _) in refused.items()}
    raise AssertionError("unreachable")


def _reset() -> None:
    """After a refused message the session stays usable: RSET, else reconnect."""
    try:
        if _reuse.session is not None:
            _reuse.session.smtp.rset()
            _reuse.last_used = time.monotonic()
    except (smtplib.SMTPException, OSError):
        close_kept()
