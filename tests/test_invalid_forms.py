"""Every form answers invalid input the same way: 422 with the page itself, the
German message on it and the form to correct it, never a 200, 400 or redirect."""

from __future__ import annotations

import pytest

from tests.support.web import csrf_token, submit

# (url the form posts to, page it is on, fields with an invalid value, message shown)
FORMS = [
    ("/login", None, {"email": "", "password": ""}, "Dieses Feld ist erforderlich."),
    ("/account/profile", None, {"profile-first_name": "", "profile-last_name": ""}, None),
    ("/account/company", None, {"company_name": "", "submit": "1"}, None),
    (
        "/account/users",
        None,
        {"first_name": "Max", "last_name": "Meier", "email": "kein-at", "role": "member"},
        None,
    ),
    ("/account/notifications/test", "/account/notifications", {"channel": "fax"}, None),
    ("/account/support", None, {"granted": "y", "duration": "7d", "scope": "alles"}, None),
    ("/account/mail", None, {"mode": "own", "smtp_port": "abc", "submit": "1"}, None),
    (
        "/account/subscription/change",
        "/account/subscription/change?plan=premium",
        {"plan": ""},
        "Bitte wählen Sie einen Tarif aus der Tabelle.",
    ),
    ("/account/subscription/cancel", None, {"reason": "x" * 501}, None),
]


@pytest.mark.parametrize(("url", "page", "fields", "message"), FORMS, ids=[f[0] for f in FORMS])
def test_invalid_form_post_answers_422_with_the_page(app, user_client, url, page, fields, message):
    client = app.test_client() if url == "/login" else user_client
    token = csrf_token(client, page or url)
    prefix = "profile-" if url == "/account/profile" else ""
    response = client.post(url, data={f"{prefix}csrf_token": token, **fields})
    body = response.get_data(as_text=True)
    assert response.status_code == 422, (url, response.status_code, body[:300])
    assert "<form" in body
    assert message in body if message else 'class="error"' in body


def test_a_valid_post_still_redirects(user_client):
    response = submit(user_client, "/account/company", {"company_name": "Neu GmbH"})
    assert response.status_code == 302
