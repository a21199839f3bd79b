"""A queued invitation keeps its one-time link only encrypted, and only until sent."""

from __future__ import annotations

import re

from core.cli import apply_migrations
from core.data.db import bind, utcnow
from core.delivery import outbox
from core.delivery.messages import address, build_message
from core.delivery.outbox import MailOutbox
from tests.conftest import PASSWORD
from tests.support.process import maildir_messages, run_worker_until
from tests.support.web import invite, login, submit


def _row(app):
    with app.app_context(), bind(app).connection_context():
        [row] = MailOutbox.select()
        return row


def test_invitation_link_is_stored_encrypted_and_dropped_once_sent(make_app, roomy_owner, tmp_path):
    app = make_app({"KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"})
    client = app.test_client()
    login(client, roomy_owner.email, PASSWORD)
    assert invite(client).status_code == 302

    queued = _row(app)
    assert queued.sealed and "invitation" not in queued.message
    assert "max@example.com" not in queued.message  # not even the headers in clear text

    assert run_worker_until(app, lambda: len(maildir_messages(app)) == 1)
    [message] = maildir_messages(app)
    body = message.get_payload(decode=True).decode()
    link = re.search(r"http://localhost(/invitation/\S+)", body).group(1)
    token = link.rsplit("/", 1)[1]
    assert token not in queued.message

    sent = _row(app)
    assert sent.status == "sent" and not sent.sealed
    assert "/invitation/" not in sent.message and token not in sent.message
    assert outbox.REDACTED in sent.message
    assert "To: max@example.com" in sent.message  # the headers stay for the record

    invited = app.test_client()
    assert submit(invited, link, {"password": "ganz-neues-passwort"}).status_code == 302
    assert invited.get("/account/profile").status_code == 200


def test_body_is_dropped_after_a_permanent_failure(make_app, roomy_owner, smtp_server):
    smtp_server.inbox.reject_rcpt["max@example.com"] = "550 no such user"
    app = make_app(smtp_server.config())  # memory queue: sent within the request
    client = app.test_client()
    login(client, roomy_owner.email, PASSWORD)
    assert invite(client).status_code == 302
    row = _row(app)
    assert row.status == "failed"
    assert "/invitation/" not in row.message and outbox.REDACTED in row.message


def test_existing_database_gets_the_new_columns(make_app, owner):
    """A database from before the delivery stage: migrations add it, old rows still send."""
    app = make_app()
    db = bind(app)
    with app.app_context(), db.connection_context():
        db.execute_sql('ALTER TABLE core_mail_outbox DROP COLUMN "stage"')
        db.execute_sql('ALTER TABLE core_mail_outbox DROP COLUMN "sealed"')
        db.execute_sql('ALTER TABLE core_customer_mail DROP COLUMN "stage"')
        db.execute_sql('ALTER TABLE notifications_delivery DROP COLUMN "stage"')
        db.execute_sql(
            "DELETE FROM core_migrations"
            " WHERE id IN ('0004_outbox_stage', '0005_customer_mail_stage')"
        )
        db.execute_sql("DELETE FROM notifications_migrations WHERE id = '0002_delivery_stage'")
        old = _message_text()
        db.execute_sql(
            "INSERT INTO core_mail_outbox (status, attempts, error, created_at, next_attempt_at,"
            " message) VALUES ('pending', 0, '', ?, ?, ?)".replace("?", db.param),
            (utcnow(), utcnow(), old),
        )
    assert sorted(apply_migrations(app)) == [
        "core:0004_outbox_stage",
        "core:0005_customer_mail_stage",
        "notifications:0002_delivery_stage",
    ]
    with app.app_context(), bind(app).connection_context():
        [row] = MailOutbox.select()
        assert (row.stage, row.sealed) == ("", False)
        outbox.send_system_mail(row.id)
    assert _row(app).status == "sent"
    [message] = maildir_messages(app)
    assert message["Subject"] == "Alte Mail"


def _message_text() -> str:
    return build_message(
        sender=address("Kontor", "noreply@kontor.example"),
        to="kunde@example.com",
        subject="Alte Mail",
        text="Aus der Zeit vor der Verschlüsselung",
    ).as_string()
