"""Sitzungen und Anmeldeverlauf: the user's live sessions with "Abmelden" per
session, the history of sign-ins and failed attempts, the notice about a new
device (read from aiosmtpd) and the clean-up job."""

from __future__ import annotations

import datetime as dt
import re

import argon2

from core.data.db import bind, utcnow
from core.data.models import EmailLink, SignIn, User, UserSession
from core.security.sign_ins import HISTORY_KEPT, clean_up, device_of, mask_ip
from tests.conftest import PASSWORD
from tests.support.process import body_text, wait_until
from tests.support.web import csrf_token, login

PAGE = "/account/profile/sessions"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def _db(app):
    return bind(app).connection_context()


def _client(app, agent: str = FIREFOX, ip: str = "203.0.113.57"):
    """A browser with its own user agent and address."""
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    return client


def _signed_in(app, email: str, agent: str = FIREFOX, ip: str = "203.0.113.57"):
    client = _client(app, agent, ip)
    assert login(client, email, PASSWORD).status_code == 302
    return client


def _sessions(app, user) -> list[UserSession]:
    with app.app_context(), _db(app):
        return list(
            UserSession.select()
            .where(UserSession.user == user.id, UserSession.revoked_at.is_null())
            .order_by(UserSession.id)
        )


def _end(client, session_id: int):
    token = csrf_token(client, PAGE)
    return client.post(f"{PAGE}/{session_id}/end", data={"csrf_token": token})


# --- helpers ---------------------------------------------------------------------------


def test_addresses_lose_their_last_part():
    assert mask_ip("203.0.113.57") == "203.0.113.x"
    assert mask_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348") == "2001:db8:85a3:8d3:x:x:x:x"
    assert mask_ip("::ffff:198.51.100.7") == "198.51.100.x"
    assert mask_ip("kein-ip") == mask_ip(None) == ""


def test_devices_are_read_from_the_user_agent(ctx):
    assert str(device_of(FIREFOX)) == "Firefox auf Linux"
    assert str(device_of(IPHONE)) == "Mobile Safari auf iOS (iPhone)"
    assert str(device_of("")) == "Unbekanntes Gerät"


# --- sessions ---------------------------------------------------------------------------


def test_the_list_shows_own_sessions_only_with_masked_addresses(app, owner, make_owner):
    stranger = make_owner("fremd@example.com", company="Fremd AG")
    _signed_in(app, stranger.email, IPHONE, "198.51.100.99")
    phone = _signed_in(app, owner.email, IPHONE, "198.51.100.23")
    desk = _signed_in(app, owner.email, FIREFOX, "203.0.113.57")

    page = desk.get(PAGE)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Sitzungen und Anmeldeverlauf" in text and 'aria-current="page"' in text
    assert text.count("Diese Sitzung") == 1
    assert "203.0.113.x" in text and "198.51.100.x" in text
    assert "203.0.113.57" not in text and "198.51.100.23" not in text
    assert "Firefox auf Linux" in text and "Mobile Safari auf iOS (iPhone)" in text
    assert "198.51.100.99" not in text and text.count('<li class="card') == 2
    assert "gerade eben" in text
    assert "Diese Sitzung" in phone.get(PAGE).get_data(as_text=True)


def test_profile_links_to_the_sessions_page(user_client):
    text = user_client.get("/account/profile").get_data(as_text=True)
    assert "Anmeldung und Sicherheit" in text and f'href="{PAGE}"' in text


def test_signing_out_one_session_ends_it(app, owner):
    other = _signed_in(app, owner.email, IPHONE, "198.51.100.23")
    mine = _signed_in(app, owner.email)
    first, second = _sessions(app, owner)
    response = _end(mine, first.id)
    assert response.status_code == 302 and response.headers["Location"] == PAGE
    assert "Die Sitzung wurde abgemeldet." in mine.get(PAGE).get_data(as_text=True)
    assert other.get("/account/").status_code == 302  # its cookie no longer works
    assert mine.get("/account/").status_code == 200
    assert [s.id for s in _sessions(app, owner)] == [second.id]
    assert _end(mine, first.id).status_code == 404  # already over


def test_signing_out_this_session_from_the_list_logs_out(app, owner):
    mine = _signed_in(app, owner.email)
    (this,) = _sessions(app, owner)
    response = _end(mine, this.id)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert mine.get("/account/").status_code == 302


def test_another_users_session_is_not_found(app, owner, make_owner):
    stranger = make_owner("fremd@example.com", company="Fremd AG")
    theirs = _signed_in(app, stranger.email)
    mine = _signed_in(app, owner.email)
    (their_session,) = _sessions(app, stranger)
    assert _end(mine, their_session.id).status_code == 404
    assert theirs.get("/account/").status_code == 200
    assert mine.post(f"{PAGE}/{their_session.id}/end").status_code == 400  # no CSRF token
    assert theirs.get("/account/").status_code == 200


def test_logout_others_stays_on_the_sessions_page(app, owner):
    other = _signed_in(app, owner.email, IPHONE)
    mine = _signed_in(app, owner.email)
    token = csrf_token(mine, PAGE)
    response = mine.post(PAGE, data={"others-csrf_token": token, "others-submit": "1"})
    assert response.status_code == 302 and response.headers["Location"] == PAGE
    assert other.get("/account/").status_code == 302
    assert "1 andere Sitzung wurde abgemeldet." in mine.get(PAGE).get_data(as_text=True)


def test_last_use_is_written_at_most_every_few_minutes(app, owner):
    mine = _signed_in(app, owner.email)
    (row,) = _sessions(app, owner)
    mine.get("/account/")
    assert _sessions(app, owner)[0].last_seen_at == row.last_seen_at
    earlier = utcnow() - dt.timedelta(minutes=10)
    with app.app_context(), _db(app):
        UserSession.update(last_seen_at=earlier, ip="").where(UserSession.id == row.id).execute()
    mine.get("/account/")
    (seen,) = _sessions(app, owner)
    assert seen.last_seen_at > earlier and seen.ip == "203.0.113.x"
    assert "vor 10 Minuten" not in mine.get(PAGE).get_data(as_text=True)


# --- history ----------------------------------------------------------------------------


def test_history_records_sign_ins_and_failures_of_known_addresses_only(app, owner):
    client = _client(app, IPHONE, "198.51.100.23")
    assert login(client, owner.email, "falsches-passwort-1").status_code == 422
    assert login(client, "niemand@example.com", "falsches-passwort-1").status_code == 422
    mine = _signed_in(app, owner.email)
    with app.app_context(), _db(app):
        assert SignIn.select().count() == 2
        rows = list(SignIn.select().order_by(SignIn.id))
    assert [(r.success, r.reason, r.ip) for r in rows] == [
        (False, "password", "198.51.100.x"),
        (True, "", "203.0.113.x"),
    ]
    text = mine.get(PAGE).get_data(as_text=True)
    assert "fehlgeschlagen (falsches Passwort)" in text and "erfolgreich" in text
    assert "198.51.100.23" not in text


CSRF = re.compile(r'(value|data-csrf)="[\w.-]+"')


def test_a_wrong_password_costs_one_hash_check_for_known_and_unknown_addresses(
    app, owner, make_owner, monkeypatch
):
    """The login does not tell which addresses exist by its time either (no
    timed assertion: the expensive step is counted). A wrong password for an
    unknown address is checked against a stand-in argon2id hash with the
    parameters of real ones, so it costs what a known address costs; the
    answers are the same page."""
    passwordless = make_owner("ohne-passwort@example.com")
    with app.app_context(), _db(app):
        User.update(password_hash="").where(User.id == passwordless.id).execute()
        stored = User.get_by_id(owner.id).password_hash
    checked: list[str] = []
    real = argon2.PasswordHasher.verify
    monkeypatch.setattr(
        argon2.PasswordHasher,
        "verify",
        lambda self, hash, password: checked.append(hash) or real(self, hash, password),
    )
    answers = {}
    for email in (owner.email, "niemand@example.com", passwordless.email):
        client = app.test_client()
        checked.clear()
        response = login(client, email, "falsches-passwort-1")
        assert response.status_code == 422
        page = CSRF.sub("", response.get_data(as_text=True))
        assert "E-Mail-Adresse oder Passwort ist falsch." in page
        answers[email] = page.replace(email, "ADDRESS")
        assert len(checked) == 1, email  # one hash check, whatever the address
        params = argon2.extract_parameters(checked[0])
        assert params == argon2.extract_parameters(stored), email
        assert (checked[0] == stored) == (email == owner.email)
    assert len(set(answers.values())) == 1


def test_history_keeps_the_last_fifty_twenty_to_a_page(app, owner, make_owner):
    stranger = make_owner("fremd@example.com", company="Fremd AG")
    start = utcnow() - dt.timedelta(days=1)
    with app.app_context(), _db(app):
        for n in range(60):
            SignIn.create(
                user=owner.id,
                success=False,
                reason="password",
                ip=f"192.0.2.{n}",
                created_at=start + dt.timedelta(minutes=n),
            )
        SignIn.create(user=stranger.id, success=True, ip="192.0.2.x", user_agent="Fremd")
    mine = _signed_in(app, owner.email)
    with app.app_context(), _db(app):
        assert SignIn.select().where(SignIn.user == owner.id).count() == HISTORY_KEPT
        assert SignIn.select().where(SignIn.user == stranger.id).count() == 1

    first = mine.get(PAGE).get_data(as_text=True)
    assert "Seite 1 von 3" in first and "?page=2#verlauf" in first and "Neuere" not in first
    assert first.count("<tr>") == 21  # the header and 20 entries
    assert "Fremd" not in first
    last = mine.get(f"{PAGE}?page=3").get_data(as_text=True)
    assert "Seite 3 von 3" in last and last.count("<tr>") == 11 and "Ältere" not in last
    assert "192.0.2.11<" in last and "192.0.2.10<" not in last  # older ones were dropped
    assert "Seite 3 von 3" in mine.get(f"{PAGE}?page=99").get_data(as_text=True)
    assert "Seite 1 von 3" in mine.get(f"{PAGE}?page=abc").get_data(as_text=True)


# --- new device -------------------------------------------------------------------------


def test_a_new_device_gets_one_notice_a_known_one_none(make_app, smtp_server):
    app = make_app(smtp_server.config())
    with app.app_context(), _db(app):
        from core.data.accounts import register

        owner = register("Muster GmbH", "Erika", "Mustermann", "erika@example.com", PASSWORD)
    _signed_in(app, owner.email, FIREFOX)  # the first sign-in: no notice
    _signed_in(app, owner.email, FIREFOX)  # a known device
    _signed_in(app, owner.email, IPHONE, "198.51.100.23")  # new
    _signed_in(app, owner.email, IPHONE, "198.51.100.24")  # known by now

    def notices():
        return [m for m in smtp_server.inbox.messages if "neuen Gerät" in str(m["Subject"])]

    assert wait_until(lambda: notices(), seconds=20)
    wait_until(lambda: len(smtp_server.inbox.messages) > 1, seconds=2)
    (notice,) = notices()
    assert len(smtp_server.inbox.messages) == 1
    assert notice["To"] == owner.email
    body = body_text(notice)
    assert "Mobile Safari auf iOS (iPhone)" in body and "198.51.100.x" in body
    assert "198.51.100.23" not in body and "Zeitpunkt:" in body
    assert f"http://localhost{PAGE}" in body and "http://localhost/password/forgot" in body


def test_failed_attempts_cannot_push_the_known_devices_out(make_app, smtp_server):
    """Someone who knows the password fails on purpose until the history holds
    only failures: the sign-in from their device is still a new device."""
    app = make_app({**smtp_server.config(), "KONTOR_LOGIN_LIMIT": "1000 per minute"})
    with app.app_context(), _db(app):
        from core.data.accounts import register

        owner = register("Muster GmbH", "Erika", "Mustermann", "erika@example.com", PASSWORD)
    _signed_in(app, owner.email, FIREFOX)
    intruder = _client(app, IPHONE, "198.51.100.23")
    for _ in range(HISTORY_KEPT):
        assert login(intruder, owner.email, "falsches-passwort-1").status_code == 422
    with app.app_context(), _db(app):
        assert not SignIn.select().where(SignIn.success).exists()
    assert login(intruder, owner.email, PASSWORD).status_code == 302
    assert wait_until(lambda: smtp_server.inbox.messages, seconds=20)
    assert "neuen Gerät" in str(smtp_server.inbox.messages[0]["Subject"])


def test_a_notice_that_cannot_be_built_does_not_block_the_sign_in(ctx, owner):
    from core.delivery.outbox import MailOutbox
    from core.security.sign_ins import record_sign_in

    SignIn.create(user=owner.id, success=True, user_agent=FIREFOX)
    owner.email = "erika@ä..de"  # no mail can be addressed to this
    with ctx.test_request_context(headers={"User-Agent": IPHONE}):
        session = UserSession.create(
            token_hash="f" * 64, user=owner.id, expires_at=utcnow(), user_agent=IPHONE
        )
        record_sign_in(owner, session)
    assert SignIn.select().where(SignIn.user == owner.id, SignIn.success).count() == 2
    assert MailOutbox.select().count() == 0


# --- clean-up ---------------------------------------------------------------------------


def test_clean_up_deletes_expired_links_old_sessions_and_old_history(ctx, owner):
    now = utcnow()
    old = now - dt.timedelta(days=100)
    EmailLink.create(purpose="reset", token_hash="a" * 64, email="x@example.com", expires_at=now)
    live = EmailLink.create(
        purpose="reset",
        token_hash="b" * 64,
        email="y@example.com",
        expires_at=now + dt.timedelta(hours=1),
    )
    UserSession.create(token_hash="c" * 64, user=owner.id, expires_at=old)
    UserSession.create(
        token_hash="d" * 64, user=owner.id, expires_at=now + dt.timedelta(days=1), revoked_at=old
    )
    recent = UserSession.create(
        token_hash="e" * 64, user=owner.id, expires_at=now - dt.timedelta(days=1)
    )
    SignIn.create(user=owner.id, success=True, created_at=old - dt.timedelta(days=1))
    latest_success = SignIn.create(user=owner.id, success=True, created_at=old)
    SignIn.create(user=owner.id, success=False, reason="password", created_at=old)
    fresh = SignIn.create(user=owner.id, success=False, reason="password", created_at=now)
    clean_up()
    assert [link.id for link in EmailLink.select()] == [live.id]
    assert [s.id for s in UserSession.select()] == [recent.id]
    assert sorted(s.id for s in SignIn.select()) == [latest_success.id, fresh.id]
    assert User.get_by_id(owner.id)


def test_clean_up_is_a_periodic_job(app):
    jobs = app.extensions["kontor"].pm.hook.kontor_periodic_jobs()
    assert "core.clean_up" in {job.name for group in jobs for job in group}


def test_the_migration_adds_the_history_to_older_databases(ctx):
    from playhouse.migrate import SchemaMigrator, migrate

    from core.contract.builtin import kontor_schema

    database = bind(ctx)
    (step,) = [m for m in kontor_schema().migrations if m.id == "0009_sign_ins"]
    database.drop_tables([SignIn])
    migrate(SchemaMigrator.from_database(database).drop_column("core_user_session", "ip"))
    step.apply(database)
    assert "ip" in {c.name for c in database.get_columns("core_user_session")}
    assert SignIn.table_exists()
