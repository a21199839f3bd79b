"""Secrets at rest: AES-256-GCM bound to a context, with key rotation.

Keys come from ``KONTOR_ENCRYPTION_KEYS`` (first is primary). The context
(for example ``mail_transport:account:42``) is authenticated data: a
ciphertext copied to another account or another purpose does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

PREFIX = "v1"


class DecryptionError(ValueError):
    """The ciphertext is damaged, for another context, or for an unknown key."""


def _keys(raw: Sequence[str]) -> list[tuple[str, bytes]]:
    keys = []
    for item in raw:
        key = base64.urlsafe_b64decode(item.encode())
        keys.append((hashlib.sha256(key).hexdigest()[:8], key))
    return keys


def _configured() -> list[tuple[str, bytes]]:
    return _keys(current_app.config["KONTOR_ENCRYPTION_KEYS"])


def encrypt(plaintext: str, context: str) -> str:
    """Encrypt with the primary key; the result names the key it used."""
    key_id, key = _configured()[0]
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{PREFIX}:{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(token: str, context: str) -> str:
    """Decrypt a value made by :func:`encrypt` for the same context."""
    try:
        prefix, key_id, blob = token.split(":", 2)
        raw = base64.urlsafe_b64decode(blob.encode())
    except (ValueError, TypeError):
        raise DecryptionError("malformed ciphertext") from None
    key = dict(_configured()).get(key_id)
    if prefix != PREFIX or key is None or len(raw) < 13:
        raise DecryptionError("unknown key or format")
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except InvalidTag:
        raise DecryptionError("ciphertext does not belong to this context") from None


def needs_rotation(token: str) -> bool:
    """True when ``token`` was not made with the primary key."""
    return token.split(":", 2)[1:2] != [_configured()[0][0]]


def rotate(token: str, context: str) -> str:
    """Re-encrypt with the primary key (no-op if it already is)."""
    return encrypt(decrypt(token, context), context) if needs_rotation(token) else token
