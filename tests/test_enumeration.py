"""Neither registration nor the invite form tells whether an address is
registered: a known address gets the answer a new one gets, after the same
work, and its owner is told by mail instead."""

from __future__ import annotations

import mailbox
import re
import subprocess
from pathlib import Path

from core.data.db import bind
from core.data.models import Account, EmailLink, Invitation, User
from core.delivery.outbox import MailOutbox
from tests.conftest import PASSWORD
from tests.support.process import ROOT, app_env, queue_worker, wait_until
from tests.support.web import TOKEN_RE, invite, login, submit

ATTEMPT_PASSWORD = "ein-anderes-passwort-9"


def _sign_up(client, email):
    fields = {"company_name": "Neu GmbH", "first_name": "Nina", "last_name": "Neu"}
    return submit(client, "/register", {**fields, "email": email, "password": ATTEMPT_PASSWORD})


def _mails(app) -> dict[str, str]:
    box = mailbox.Maildir(Path(app.config["KONTOR_INSTANCE_PATH"]) / "mail")
    return {m["To"]: m.get_payload(decode=True).decode() for m in box}


def _neutral(page: str, email: str) -> str:
    """The page without what differs between any two visits (CSRF token, the address)."""
    return TOKEN_RE.sub("", page).replace(email, "ADDRESS")


def test_register_answers_a_known_address_as_a_new_one(app, owner):
    answers = {}
    for email in ("nina@example.com", owner.email):
        client = app.test_client()
        response = _sign_up(client, email)
        assert response.status_code == 302 and response.headers["Location"] == "/register/sent"
        page = client.get("/register/sent").get_data(as_text=True)
        assert "Bitte bestätigen Sie Ihre E-Mail-Adresse" in page
        assert f"Wir haben Ihnen eine E-Mail an {email} geschickt." in page
        answers[email] = _neutral(page, email)
        assert client.get("/account/").status_code == 302  # nobody logged in
    assert answers["nina@example.com"] == answers[owner.email]


def test_a_known_address_gets_a_mail_and_nothing_changes(app, owner):
    with app.app_context(), bind(app).connection_context():
        before = list(User.select().dicts()), list(Account.select().dicts())
    _sign_up(app.test_client(), owner.email.upper())
    with app.app_context(), bind(app).connection_context():
        assert (list(User.select().dicts()), list(Account.select().dicts())) == before
    mail = _mails(app)[owner.email]
    assert "jemand hat versucht, mit Ihrer E-Mail-Adresse ein neues Konto" in mail
    assert "http://localhost/login" in mail and ATTEMPT_PASSWORD not in mail
    assert "http://localhost/password/forgot" in mail
    assert login(app.test_client(), owner.email, ATTEMPT_PASSWORD).status_code == 422
    assert login(app.test_client(), owner.email, PASSWORD).status_code == 302


def test_a_new_address_gets_a_link_and_the_account_waits_for_it(app):
    _sign_up(app.test_client(), "nina@example.com")
    mail = _mails(app)["nina@example.com"]
    assert "http://localhost/register/confirm/" in mail and ATTEMPT_PASSWORD not in mail
    with app.app_context(), bind(app).connection_context():
        assert not User.select().where(User.email == "nina@example.com").exists()
    assert login(app.test_client(), "nina@example.com", ATTEMPT_PASSWORD).status_code == 422


def test_both_answers_hash_a_password(app, owner, monkeypatch):
    """The same work either way, so the answer takes as long (no timed assertion:
    the expensive step, one argon2id hash, is counted)."""
    import core.data.accounts

    hashed = []
    real = core.data.accounts.hash_password
    monkeypatch.setattr(
        core.data.accounts, "hash_password", lambda pw: hashed.append(pw) or real(pw)
    )
    _sign_up(app.test_client(), "nina@example.com")
    _sign_up(app.test_client(), owner.email)
    assert hashed == [ATTEMPT_PASSWORD, ATTEMPT_PASSWORD]


def test_invite_form_does_not_reveal_other_accounts(app, user_client, roomy_owner, foreign_member):
    for email in ("neu@example.com", foreign_member.email):
        response = invite(user_client, email)
        assert response.status_code == 302 and response.headers["Location"] == "/account/users"
        page = user_client.get("/account/users").get_data(as_text=True)
        assert f"Die Einladung an {email} wurde verschickt." in page
    with app.app_context(), bind(app).connection_context():
        vic = User.get_by_id(foreign_member.id)
        assert vic.account_id == foreign_member.account_id and vic.role == "member"
        mine = {u.email for u in User.select().where(User.account == roomy_owner.account_id)}
        assert mine == {roomy_owner.email, "neu@example.com"}
        assert Invitation.select().where(Invitation.user == vic.id).count() == 1  # its own only
    mails = _mails(app)
    assert re.search(r"/invitation/\S+", mails["neu@example.com"])
    told = mails[foreign_member.email]
    assert "gehört bereits zu einem anderen Kontor-Konto" in told and "Muster GmbH" in told
    assert "/invitation/" not in told and "Fremd AG" not in told


def test_inviting_an_own_member_again_says_so(user_client, roomy_owner):
    assert invite(user_client, "max@example.com").status_code == 302
    again = invite(user_client, "MAX@example.com")
    assert again.status_code == 422
    assert "Diese Person gehört bereits zu Ihrem Konto." in again.get_data(as_text=True)


def _run_queue_worker(app, smtp_server, queue) -> None:
    """A real `kontor worker` until a mail has arrived and the queue is empty."""
    worker = subprocess.Popen(
        queue_worker(),
        env=app_env(app, **smtp_server.config()),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: smtp_server.inbox.messages)
        assert wait_until(lambda: queue.queue_size() == 0)
    finally:
        worker.terminate()
        worker.wait(timeout=10)


def test_forgot_password_does_the_same_work_for_a_known_and_an_unknown_address(
    make_app, owner, smtp_server, tmp_path
):
    """The request only hands the address to the worker, for a registered and
    an unknown address alike: no link or mail is made while the visitor waits,
    so the answer takes equally long. The worker mails the registered one."""
    app = make_app({"KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"})
    queue = app.extensions["kontor"].queue.huey.storage
    for email in (owner.email, "niemand@example.com"):
        before = queue.queue_size()
        response = submit(app.test_client(), "/password/forgot", {"email": email})
        assert response.status_code == 302 and response.headers["Location"] == "/login"
        assert queue.queue_size() == before + 1
        with app.app_context(), bind(app).connection_context():
            assert EmailLink.select().count() == 0 and MailOutbox.select().count() == 0

    _run_queue_worker(app, smtp_server, queue)
    [mail] = smtp_server.inbox.messages
    assert mail["To"] == owner.email and mail["Subject"] == "Passwort zurücksetzen"
    assert "/password/reset/" in mail.get_body(("plain",)).get_content()


def test_sending_the_sign_up_mail_again_does_the_same_work_for_every_address(
    make_app, owner, smtp_server, tmp_path
):
    """ "Erneut senden" under "Bitte bestätigen Sie Ihre E-Mail-Adresse" only
    queues a job, for a registered and an unknown address alike."""
    app = make_app({"KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"})
    queue = app.extensions["kontor"].queue.huey.storage
    for email in (owner.email, "niemand@example.com"):
        before = queue.queue_size()
        response = submit(
            app.test_client(), "/register/resend", {"email": email}, page="/register/sent"
        )
        assert response.status_code == 302 and response.headers["Location"] == "/register/sent"
        assert queue.queue_size() == before + 1
        with app.app_context(), bind(app).connection_context():
            assert MailOutbox.select().count() == 0

    _run_queue_worker(app, smtp_server, queue)
    [mail] = smtp_server.inbox.messages
    assert mail["To"] == owner.email and mail["Subject"] == "Ihre Registrierung bei Kontor"
