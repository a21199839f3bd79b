"""SMS gateways: the ``http`` gateway and the dev file gateway.

Texts are split into segments the way phones count them: GSM 03.38 texts in
parts of 160 characters (153 when concatenated, extension characters count
twice), anything else as UCS-2 in parts of 70 (67).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from core.contract.hookspecs import hookimpl
from core.contract.values import PermanentFailure, TemporaryFailure
from core.data.db import utcnow

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")


def _units(ch: str, gsm: bool) -> int:
    if gsm:
        return 2 if ch in GSM_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1  # UTF-16 code units


def split_sms(text: str) -> list[str]:
    """Split ``text`` into SMS segments without breaking a character."""
    gsm = all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)
    single, multi = (160, 153) if gsm else (70, 67)
    if sum(_units(ch, gsm) for ch in text) <= single:
        return [text]
    parts, current, used = [], "", 0
    for ch in text:
        units = _units(ch, gsm)
        if used + units > multi:
            parts.append(current)
            current, used = "", 0
        current += ch
        used += units
    if current:
        parts.append(current)
    return parts


class SmsGateway(Protocol):
    """Sends one text to one E.164 number."""

    name: str

    def send(self, to: str, text: str) -> None:
        """Raise TemporaryFailure or PermanentFailure when it fails."""


class HttpGateway:
    """POST ``{"to", "text"}`` as JSON with a bearer token, once per segment."""

    name = "http"

    def __init__(self, url: str, token: str | None, timeout: float = 10.0) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout

    def send(self, to: str, text: str) -> None:
        for part in split_sms(text):
            body = json.dumps({"to": to, "text": part}).encode()
            req = urllib.request.Request(  # noqa: S310 - operator-configured http(s) URL
                self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            if self.token:
                req.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                    resp.read(1024)
            except urllib.error.HTTPError as exc:
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    raise PermanentFailure(f"SMS-Gateway lehnte ab (HTTP {exc.code})") from None
                raise TemporaryFailure(f"SMS-Gateway nicht bereit (HTTP {exc.code})") from None
            except (urllib.error.URLError, OSError):
                raise TemporaryFailure("SMS-Gateway nicht erreichbar.") from None


class FileGateway:
    """Development default: appends each message to ``sms.log``."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, to: str, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": utcnow().isoformat(), "to": to, "text": text}, ensure_ascii=False)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


@hookimpl(trylast=True)
def kontor_sms_gateway(config: Mapping[str, Any]) -> SmsGateway:
    if config["KONTOR_SMS_GATEWAY_URL"]:
        return HttpGateway(config["KONTOR_SMS_GATEWAY_URL"], config["KONTOR_SMS_GATEWAY_TOKEN"])
    return FileGateway(Path(config["KONTOR_INSTANCE_PATH"]) / "sms.log")
