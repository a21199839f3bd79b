"""Passkeys made by Chromium: the DevTools virtual authenticator (CTAP2, built
in, resident keys, user verification), as TESTING.md describes it.

``add_authenticator`` gives any Playwright page one. ``Authenticator`` is a
Chromium page at ``http://localhost`` (the origin and RP ID of the test app's
``KONTOR_BASE_URL``) that serves nothing but a blank page: tests hand it the
options the app sent and post what ``navigator.credentials`` answered back
through the Flask test client, so attestation and assertions are real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.browser import ARGS, CHROMIUM

ORIGIN = "http://localhost"

# Options JSON in, credential JSON out: base64url <-> ArrayBuffer, as the
# WebAuthn JSON forms (and py_webauthn) spell them.
_CEREMONY = """
async ([kind, text]) => {
  const bytes = (s) => Uint8Array.from(
    atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const o = JSON.parse(text);
  o.challenge = bytes(o.challenge);
  const ids = (list) => (list || []).map((c) => ({...c, id: bytes(c.id)}));
  let credential;
  if (kind === "create") {
    o.user.id = bytes(o.user.id);
    o.excludeCredentials = ids(o.excludeCredentials);
    credential = await navigator.credentials.create({publicKey: o});
  } else {
    o.allowCredentials = ids(o.allowCredentials);
    credential = await navigator.credentials.get({publicKey: o});
  }
  const r = credential.response;
  const response = {clientDataJSON: b64(r.clientDataJSON)};
  if (kind === "create") {
    response.attestationObject = b64(r.attestationObject);
    response.transports = r.getTransports();
  } else {
    response.authenticatorData = b64(r.authenticatorData);
    response.signature = b64(r.signature);
    if (r.userHandle) response.userHandle = b64(r.userHandle);
  }
  return {id: credential.id, rawId: b64(credential.rawId), type: credential.type,
          clientExtensionResults: {}, response};
}
"""


def add_authenticator(page: Any) -> tuple[Any, str]:
    """Give ``page`` a virtual platform authenticator; return (CDP session, its id)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def stored_credentials(cdp: Any, authenticator_id: str) -> list[dict[str, Any]]:
    """What the virtual authenticator holds (resident keys carry the user handle)."""
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


class Authenticator:
    """A Chromium page at ``http://localhost`` with a virtual authenticator."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.cdp, self.id = add_authenticator(page)

    def create(self, options: str | bytes) -> dict[str, Any]:
        """``navigator.credentials.create`` with the app's options JSON."""
        return self.page.evaluate(_CEREMONY, ["create", _text(options)])

    def get(self, options: str | bytes) -> dict[str, Any]:
        """``navigator.credentials.get`` with the app's options JSON."""
        return self.page.evaluate(_CEREMONY, ["get", _text(options)])

    def credentials(self) -> list[dict[str, Any]]:
        return stored_credentials(self.cdp, self.id)


def _text(options: str | bytes) -> str:
    return options if isinstance(options, str) else json.dumps(json.loads(options))


@contextmanager
def localhost_authenticator() -> Iterator[Authenticator]:
    """Chromium on a blank page at http://localhost (answered by the test, no server)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context().new_page()
        page.route(
            f"{ORIGIN}/**",
            lambda route: route.fulfill(
                status=200, content_type="text/html", body="<!doctype html>"
            ),
        )
        page.goto(f"{ORIGIN}/")
        try:
            yield Authenticator(page)
        finally:
            browser.close()
