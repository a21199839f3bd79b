"""SSRF guard for user-supplied mail servers.

A host is resolved once; every address must be public (no loopback, private,
link-local, CGNAT, multicast, reserved or unspecified ranges, also in IPv6 and
IPv4-mapped form). The connection then goes to the checked address while TLS
verifies the certificate against the host name, so DNS rebinding between
check and connect cannot reach an internal address. Ports are limited to the
mail ports. Operators may exempt ``host:port`` pairs (``KONTOR_MAIL_ALLOWED_HOSTS``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Set

SMTP_PORTS = frozenset({25, 465, 587, 2525})
IMAP_PORTS = frozenset({143, 993})
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


class GuardError(ValueError):
    """The host or port is not allowed; the message is German and says why."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def normalise_host(host: str) -> str:
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise GuardError("Der Servername ist ungültig.") from None
    if not _HOSTNAME.match(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise GuardError("Der Servername ist ungültig.") from None
    return host


def check_port(port: int, ports: Set[int], host: str, allowed: Set[tuple[str, int]]) -> None:
    if (host, port) not in allowed and port not in ports:
        raise GuardError(
            "Dieser Port ist nicht erlaubt. Möglich sind "
            + ", ".join(str(p) for p in sorted(ports))
            + "."
        )


def resolve(host: str, port: int, ports: Set[int], allowed: Set[tuple[str, int]]) -> str:
    """Return the address to connect to, or raise GuardError."""
    host = normalise_host(host)
    check_port(port, ports, host, allowed)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise GuardError("Der Server wurde nicht gefunden.") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise GuardError("Der Server wurde nicht gefunden.")
    if (host, port) not in allowed and not all(_public(a) for a in addresses):
        raise GuardError("Dieser Server ist nicht erlaubt (interne oder reservierte Adresse).")
    return addresses[0]
