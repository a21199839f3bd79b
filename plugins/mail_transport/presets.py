"""Server settings of common German providers, chosen by the address's domain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    imap_host: str
    imap_port: int
    imap_security: str
    smtp_host: str
    smtp_port: int
    smtp_security: str


_GMX = Preset("GMX", "imap.gmx.net", 993, "ssl", "mail.gmx.net", 587, "starttls")
_WEBDE = Preset("WEB.DE", "imap.web.de", 993, "ssl", "smtp.web.de", 587, "starttls")
_TONLINE = Preset(
    "T-Online", "secureimap.t-online.de", 993, "ssl", "securesmtp.t-online.de", 465, "ssl"
)
_IONOS = Preset("IONOS", "imap.ionos.de", 993, "ssl", "smtp.ionos.de", 587, "starttls")
_STRATO = Preset("Strato", "imap.strato.de", 993, "ssl", "smtp.strato.de", 465, "ssl")
_GMAIL = Preset("Gmail", "imap.gmail.com", 993, "ssl", "smtp.gmail.com", 587, "starttls")
_OUTLOOK = Preset(
    "Outlook", "outlook.office365.com", 993, "ssl", "smtp-mail.outlook.com", 587, "starttls"
)

PRESETS: dict[str, Preset] = {
    "gmx.de": _GMX,
    "gmx.net": _GMX,
    "gmx.at": _GMX,
    "gmx.ch": _GMX,
    "web.de": _WEBDE,
    "t-online.de": _TONLINE,
    "magenta.de": _TONLINE,
    "ionos.de": _IONOS,
    "online.de": _IONOS,
    "1und1.de": _IONOS,
    "strato.de": _STRATO,
    "gmail.com": _GMAIL,
    "googlemail.com": _GMAIL,
    "outlook.com": _OUTLOOK,
    "outlook.de": _OUTLOOK,
    "hotmail.com": _OUTLOOK,
    "hotmail.de": _OUTLOOK,
    "live.com": _OUTLOOK,
    "live.de": _OUTLOOK,
}


def for_address(email: str) -> Preset | None:
    return PRESETS.get(email.rpartition("@")[2].strip().lower())
