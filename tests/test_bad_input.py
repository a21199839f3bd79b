"""Malformed requests that used to end in a 500: deep JSON, non-text form
values, huge integers and NUL characters. Each gets a 4xx or a German message
next to the field, and the stored state stays as it was (on SQLite and on
PostgreSQL, where NUL cannot be stored)."""

from __future__ import annotations

import io

import pytest

from tests.conftest import PASSWORD
from tests.support.db import owner_state
from tests.support.web import AUTH, csrf_token

TEXT_EXPECTED = "Bitte geben Sie hier Text ein."
NO_CONTROL = "Steuerzeichen sind in diesem Feld nicht erlaubt."


def _deep(levels: int) -> str:
    return '{"type": "x", "data": ' + '{"a": ' * levels + "1" + "}" * levels + "}"


@pytest.mark.parametrize("levels", [330, 5000, 100_000])
def test_deeply_nested_json_is_a_400_json_error(app, owner, levels):
    client = app.test_client()
    response = client.post(
        f"/api/v1/accounts/{owner.account_id}/events",
        data=_deep(levels),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    assert "nested" in response.json["error"]["message"]


def test_deeply_nested_json_to_a_form_is_a_400_page(user_client):
    token = csrf_token(user_client, "/account/company")
    response = user_client.post(
        "/account/company",
        data='{"company_name": ' + "[" * 5000 + "]" * 5000 + "}",
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert response.status_code == 400
    assert "Die Anfrage war ungültig." in response.get_data(as_text=True)


# (url, prefix, fields a browser would send, the field that gets the bad value)
PAGES = [
    ("/account/company", "", {"company_name": "Neu GmbH", "submit": "1"}, "company_name"),
    (
        "/account/company",
        "",
        {"company_name": "Neu GmbH", "notification_email": "info@neu.de"},
        "notification_email",
    ),
    ("/account/profile", "profile-", {"first_name": "Eva", "submit": "1"}, "last_name"),
    (
        "/account/profile/email",
        "email-",
        {"new_email": "neu@example.com", "submit": "1"},
        "current_password",
    ),
]


def _form_page(url: str) -> str:
    """The page that shows the form posting to ``url`` (the e-mail change
    form lives on Nutzerdaten but posts to a route of its own)."""
    return "/account/profile" if url.startswith("/account/profile/") else url


@pytest.mark.parametrize("url,prefix,fields,target", PAGES)
def test_file_parts_for_text_fields_get_a_german_message(
    app, user_client, owner, url, prefix, fields, target
):
    token = csrf_token(user_client, _form_page(url))
    data = {f"{prefix}{k}": v for k, v in fields.items()}
    data[f"{prefix}{target}"] = (io.BytesIO(b"Neu GmbH"), "firma.txt")
    data[f"{prefix}csrf_token"] = token
    before = owner_state(app, owner)
    response = user_client.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert TEXT_EXPECTED in response.get_data(as_text=True)
    assert owner_state(app, owner) == before


@pytest.mark.parametrize("url,prefix,fields,target", PAGES)
def test_json_values_that_are_not_text_get_a_german_message(
    app, user_client, owner, url, prefix, fields, target
):
    token = csrf_token(user_client, _form_page(url))
    before = owner_state(app, owner)
    for value in (5, 1.5, True, None, [1, 2], {"a": "b"}, [["Neu GmbH"]]):
        body = {f"{prefix}{k}": v for k, v in fields.items()}
        body[f"{prefix}{target}"] = value
        response = user_client.post(url, json=body, headers={"X-CSRFToken": token})
        assert response.status_code == 422, value
        assert TEXT_EXPECTED in response.get_data(as_text=True)
        assert owner_state(app, owner) == before


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "3", "null"])
def test_json_body_that_is_not_an_object_is_a_400_page(user_client, body):
    token = csrf_token(user_client, "/account/company")
    response = user_client.post(
        "/account/company",
        data=body,
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert response.status_code == 400


def test_login_with_a_number_or_file_for_the_address(client, owner):
    token = csrf_token(client, "/login")
    as_json = client.post(
        "/login", json={"email": 5, "password": PASSWORD}, headers={"X-CSRFToken": token}
    )
    assert as_json.status_code == 422 and TEXT_EXPECTED in as_json.get_data(as_text=True)
    as_file = client.post(
        "/login",
        data={
            "csrf_token": token,
            "email": (io.BytesIO(owner.email.encode()), "a"),
            "password": PASSWORD,
        },
        content_type="multipart/form-data",
    )
    assert as_file.status_code == 422 and TEXT_EXPECTED in as_file.get_data(as_text=True)
    assert client.get("/account/").status_code == 302  # not logged in


@pytest.mark.parametrize("url", ["/login", "/staff/login"])
def test_nul_in_a_login_address_is_a_german_message(client, owner, url):
    token = csrf_token(client, url)
    response = client.post(
        url,
        data={
            "csrf_token": token,
            "email": "erika\x00@example.com",
            "password": PASSWORD,
            "code": "123456",
        },
    )
    assert response.status_code == 422
    assert NO_CONTROL in response.get_data(as_text=True)


def test_nul_in_a_password_is_a_german_message(client, owner):
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"csrf_token": token, "email": owner.email, "password": "a\x00b"}
    )
    assert response.status_code == 422
    assert NO_CONTROL in response.get_data(as_text=True)


def test_nul_in_path_segments_is_a_404(app, user_client, owner):
    api = app.test_client()
    response = api.get(f"/api/v1/accounts/{owner.account_id}/customers/a%00b/emails", headers=AUTH)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert user_client.get("/account/mail/history/a%00b").status_code == 404
    assert user_client.get("/invitation/a%00b").status_code == 404


def test_huge_ids_in_urls_are_404(app, user_client, owner):
    api = app.test_client()
    huge = 10**30
    assert api.get(f"/api/v1/accounts/{huge}/subscription", headers=AUTH).status_code == 404
    assert api.get(f"/api/v1/accounts/1/mails/{huge}", headers=AUTH).status_code == 404
    token = csrf_token(user_client, "/account/users")
    response = user_client.post(f"/account/users/{huge}/remove", data={"csrf_token": token})
    assert response.status_code == 404
