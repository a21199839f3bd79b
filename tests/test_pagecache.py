"""The page cache: served again only while nothing changed, to the same session."""

from __future__ import annotations

import threading

import pytest

from core.db import bind, open_database
from core.models import Account, User
from core.pagecache import PageCache
from tests.conftest import PASSWORD
from tests.support.db import statements
from tests.support.web import csrf_token, login, submit


def page_reads(sql: list[str]) -> list[str]:
    """Statements beyond the login check and the database version."""
    return [s for s in sql if "core_user_session" not in s and "pg_current_snapshot" not in s]


def rename(app, account_id: int, name: str) -> None:
    """Rename the company on a connection of another thread, as another worker would."""

    def run() -> None:
        with app.app_context(), bind(app).connection_context():
            Account.update(company_name=name).where(Account.id == account_id).execute()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_repeated_page_is_served_without_reading_the_page_data(user_client):
    with statements() as sql:
        first = user_client.get("/account/users")
    assert first.status_code == 200 and page_reads(sql)
    user_client.get("/account/users")  # stored once the form token is in the session
    with statements() as sql:
        again = user_client.get("/account/users")
    assert again.status_code == 200
    assert page_reads(sql) == []
    assert again.data == user_client.get("/account/users").data
    assert "erika@example.com" in again.text
    assert again.headers["Cache-Control"] == "no-store"
    assert again.headers["Content-Security-Policy"]


@pytest.mark.parametrize("thread", ["same", "other"])
def test_a_write_on_any_connection_shows_on_the_next_load(app, user_client, owner, thread):
    for _ in range(3):
        assert "Muster GmbH" in user_client.get("/account/company").text
    if thread == "other":
        rename(app, owner.account_id, "Anderer Thread KG")
        expected = "Anderer Thread KG"
    else:  # the connection the requests use
        with app.app_context():
            bind(app).connect(reuse_if_open=True)
            Account.update(company_name="Gleicher Thread KG").where(
                Account.id == owner.account_id
            ).execute()
        expected = "Gleicher Thread KG"
    page = user_client.get("/account/company").text
    assert expected in page and "Muster GmbH" not in page


def test_a_write_by_another_process_shows_on_the_next_load(app, user_client, owner):
    for _ in range(3):
        user_client.get("/account/users")
    other = open_database(app.config["KONTOR_DATABASE_URL"])
    with other.connection_context(), other.bind_ctx([User]):
        User.update(first_name="Hannelore").where(User.id == owner.id).execute()
    assert "Hannelore" in user_client.get("/account/users").text


def test_form_post_then_redirect_shows_the_saved_data_and_the_message_once(user_client):
    for _ in range(3):
        user_client.get("/account/company")
    saved = submit(
        user_client,
        "/account/company",
        {
            "company_name": "Gespeichert GmbH",
            "notification_email": "buero@example.com",
            "mobile_number": "",
        },
        follow=True,
    )
    assert "Gespeichert GmbH" in saved.text
    assert "Die Firmendaten wurden gespeichert." in saved.text
    again = user_client.get("/account/company").text
    assert "Gespeichert GmbH" in again
    assert "Die Firmendaten wurden gespeichert." not in again


def test_each_login_gets_its_own_page(app, user_client, owner):
    second = app.test_client()
    login(second, owner.email, PASSWORD)
    second.get("/account/")  # its form token; nothing is written from here on
    for _ in range(3):
        user_client.get("/account/profile")
    mine = csrf_token(user_client, "/account/profile")
    theirs = csrf_token(second, "/account/profile")
    # The signed token starts with the session's own form token.
    assert theirs.split(".")[0] != mine.split(".")[0]


def test_other_users_and_accounts_get_their_own_page(app, user_client, member_client, make_owner):
    stranger = make_owner("fremd@example.com", company="Fremd AG")
    foreign = app.test_client()
    login(foreign, stranger.email, PASSWORD)
    foreign.get("/account/")  # its form token; nothing is written from here on
    for _ in range(3):
        assert "Erika" in user_client.get("/account/profile").text
        assert "Muster GmbH" in user_client.get("/account/company").text
        assert user_client.get("/account/users").status_code == 200
    page = member_client.get("/account/profile").text
    assert "Mia" in page and "Erika" not in page
    assert member_client.get("/account/users").status_code == 403
    page = foreign.get("/account/company").text
    assert "Fremd AG" in page and "Muster GmbH" not in page


def test_a_logged_out_cookie_gets_no_stored_page(app, user_client):
    for _ in range(3):
        assert user_client.get("/account/company").status_code == 200
    copied = user_client.get_cookie("kontor_session").value
    user_client.post("/logout", data={"csrf_token": csrf_token(user_client, "/account/company")})
    replay = app.test_client()
    replay.set_cookie("kontor_session", copied)
    response = replay.get("/account/company")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_language_is_part_of_the_key(user_client):
    for _ in range(3):
        assert "Firmenname" in user_client.get("/account/company").text
    user_client.get("/language/en")
    english = user_client.get("/account/company").text
    assert "Company name" in english and "Firmenname" not in english


def test_cache_can_be_switched_off(make_app, owner):
    app = make_app({"KONTOR_PAGE_CACHE_SECONDS": "0"})
    assert app.extensions["kontor"].page_cache is None
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    client.get("/account/users")
    client.get("/account/users")
    with statements() as sql:
        assert client.get("/account/users").status_code == 200
    assert page_reads(sql)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_change_with_the_version_and_are_bounded():
    clock = Clock()
    cache = PageCache(5, size=2, clock=clock)
    cache.put("a", 1, b"A")
    assert cache.get("a", 1) == b"A"
    assert cache.get("a", 2) is None  # database changed: dropped
    assert cache.get("a", 1) is None
    cache.put("a", 1, b"A")
    clock.now += 5
    assert cache.get("a", 1) is None  # too old
    for key in ("a", "b", "c"):
        cache.put(key, 1, key.encode())
    assert len(cache) == 2 and cache.get("a", 1) is None and cache.get("c", 1) == b"c"
