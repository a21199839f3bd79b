"""IMAP client pinned to a checked address, with verified TLS and a timeout."""

from __future__ import annotations

import imaplib
import re
import socket
import ssl

SENT_NAMES = (
    "Sent",
    "Gesendet",
    "Gesendete Elemente",
    "Gesendete Objekte",
    "Sent Items",
    "Sent Messages",
    "INBOX.Sent",
    "INBOX.Gesendet",
)
_LIST = re.compile(r'^\((?P<flags>[^)]*)\) (?P<delim>"[^"]*"|NIL) (?P<name>.+)$')


class PinnedIMAP(imaplib.IMAP4):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._address = address
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self._address, self.port), timeout)


class PinnedIMAPSSL(imaplib.IMAP4_SSL):
    def __init__(
        self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        self._address = address
        super().__init__(host, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        raw = socket.create_connection((self._address, self.port), timeout)
        return self.ssl_context.wrap_socket(raw, server_hostname=self.host)


def connect(
    host: str, port: int, address: str, security: str, timeout: float, context: ssl.SSLContext
) -> imaplib.IMAP4:
    """Connect (TLS at once for ``ssl``) and read the greeting."""
    if security == "ssl":
        return PinnedIMAPSSL(host, port, address, timeout, context)
    return PinnedIMAP(host, port, address, timeout)


def secure(conn: imaplib.IMAP4, security: str, context: ssl.SSLContext) -> None:
    if security == "starttls":
        conn.starttls(ssl_context=context)


def _decode(name: str) -> str:
    name = name.strip()
    if name.startswith('"') and name.endswith('"'):
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return name


def find_sent(conn: imaplib.IMAP4) -> str | None:
    """The Sent folder: SPECIAL-USE \\Sent first, else a common name."""
    status, lines = conn.list()
    if status != "OK":
        return None
    folders = []
    for raw in lines or ():
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        match = _LIST.match(line)
        if match:
            folders.append((match["flags"], _decode(match["name"])))
    for flags, name in folders:
        if "\\sent" in flags.lower().split():
            return name
    names = {name.lower(): name for _, name in folders}
    return next((names[n.lower()] for n in SENT_NAMES if n.lower() in names), None)


def quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'
