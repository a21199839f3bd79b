"""The account's data lifecycle: the data export (ZIP by the worker, one-time
link) and closing the account (grace period, undo, erasure, retention)."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import peewee
import pytest

from core.data.db import bind, utcnow
from core.data.lifecycle import DataExport, erase_due, request_export, sweep_exports
from core.data.models import (
    Account,
    EmailLink,
    Event,
    Invitation,
    Passkey,
    PasskeyChallenge,
    User,
)
from core.delivery.customer_mail import CustomerMail, CustomerMailRecipient
from core.delivery.outbox import MailOutbox
from core.security.auth import hash_password
from core.security.crypto import encrypt
from core.security.twofactor import RecoveryCode, TwoFactor
from plugins.mail_transport.models import ConnectionCheck, MailSettings
from plugins.notifications.models import Delivery, Preference
from plugins.remote_support.models import AccessLog, Grant, Staff, SupportSession
from plugins.remote_support.services import create_staff
from plugins.subscriptions import cancellation
from plugins.subscriptions import services as subscriptions
from plugins.subscriptions.invoices import Invoice, invoice_files
from plugins.subscriptions.models import (
    BillingInfo,
    BillingRecord,
    Subscription,
    ThresholdNotice,
)
from tests.conftest import PASSWORD, SELLER, upgrade
from tests.support.process import ROOT, app_env, queue_worker, wait_until
from tests.support.web import csrf_token, login, submit

# The closing dates step 0010 adds to core_account.
LIFECYCLE_COLUMNS = importlib.import_module("core.data.history.0010_account_lifecycle").COLUMNS

IBAN = "DE89370400440532013000"
MAIL_PASSWORD = "postfach-geheim-42"
LINK_RE = re.compile(r"http://localhost(/account/export/[\w-]+)")


def _db(app):
    return bind(app).connection_context()


def _seed_secrets(app, account):
    """Data with every kind of secret the export must leave out."""
    with app.app_context(), _db(app):
        subscriptions.save_billing(
            account,
            {
                "name": "Muster GmbH",
                "street": "Hauptstr. 1",
                "postal_code": "10115",
                "city": "Berlin",
                "country": "DE",
                "payment_method": "sepa",
                "account_holder": "Erika Mustermann",
                "iban": IBAN,
                "billing_email": "buchhaltung@example.com",
            },
        )
        subscriptions.change_plan(account, "premium", utcnow())  # issues an invoice
        MailSettings.create(
            account=account,
            mode="own",
            own_email="info@muster.example",
            password_encrypted=encrypt(MAIL_PASSWORD, f"mail_transport:password:{account.id}"),
            smtp_host="smtp.muster.example",
        )
        owner = User.get(User.account == account.id)
        totp = TwoFactor.create(
            user=owner, secret=encrypt("JBSWY3DPEHPK3PXP", f"core:totp:{owner.id}")
        )
        RecoveryCode.create(user=owner, code_hash="r" * 64)
        staff, _ = create_staff("susi@kontor.example", "Susi Support", "support-passwort-123")
        mail = CustomerMail.create(
            account=account,
            transport="service",
            subject="Ihre Rechnung RE-1",
            text="Guten Tag, anbei die Rechnung.",
            customer_name="Kunde König",
        )
        CustomerMailRecipient.create(mail=mail, address="kunde@example.com", status="sent")
        return {
            "password_hash": User.get(User.account == account.id).password_hash,
            "mail_cipher": MailSettings.get(MailSettings.account == account.id).password_encrypted,
            "iban_cipher": BillingInfo.get(BillingInfo.account == account.id).iban_encrypted,
            "totp_cipher": staff.totp_secret,
            "user_totp_cipher": totp.secret,
        }


def _values(node):
    """Every key and scalar value of a JSON document, walked depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)
    else:
        yield str(node)


def _worker(app, config):
    """A real ``kontor worker`` (huey consumer) sending through ``config``'s SMTP server."""
    return subprocess.Popen(
        queue_worker(),
        env=app_env(app, **config),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _request_export(client):
    return submit(client, "/account/profile/export", {}, prefix="export-", page="/account/profile")


def _mailed_export_path(inbox, to):
    found = []

    def arrived():
        found[:] = [
            m
            for message in inbox.messages
            if message["To"] == to
            for m in LINK_RE.findall(message.get_body(("plain",)).get_content())
        ]
        return bool(found)

    assert wait_until(arrived), "no export link mailed"
    return found[-1]


def test_export_built_by_the_worker_downloads_once_for_its_owner_only(
    make_app, owner, make_owner, smtp_server, tmp_path
):
    other = make_owner("fremd@example.com", company="Fremd AG")
    app = make_app({"KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}", **SELLER})
    secrets = _seed_secrets(app, owner.account)
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    page = client.get("/account/profile").get_data(as_text=True)
    assert "Daten exportieren" in page
    response = submit(
        client, "/account/profile/export", {}, prefix="export-", page="/account/profile"
    )
    assert response.status_code == 302
    with app.app_context(), _db(app):
        [row] = DataExport.select()
        assert row.status == "pending" and row.token_hash is None  # built by the worker only

    worker = _worker(app, smtp_server.config())
    try:
        path = _mailed_export_path(smtp_server.inbox, owner.email)
    finally:
        worker.terminate()
        worker.wait(timeout=10)
    [mail] = [m for m in smtp_server.inbox.messages if m["To"] == owner.email]
    assert mail["Subject"] == "Ihr Datenexport ist bereit"
    with app.app_context(), _db(app):
        [row] = DataExport.select()
        assert row.status == "ready" and row.token_hash not in path  # only the hash is stored
        assert row.expires_at - utcnow() > dt.timedelta(days=6, hours=23)
        stored = Path(app.instance_path) / "exports" / row.file_name
        assert stored.exists() and stored.stat().st_mode & 0o777 == 0o600

    stranger = app.test_client()  # a user of another account
    login(stranger, other.email, PASSWORD)
    refused = stranger.get(path)
    assert refused.status_code == 404
    assert "Dieser Download-Link ist ungültig oder abgelaufen" in refused.get_data(as_text=True)
    assert app.test_client().get(path).status_code == 302  # not logged in: to the login page

    download = client.get(path)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert "attachment" in download.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    with app.app_context(), _db(app):
        keys = {
            p.key
            for p in app.extensions["kontor"].pm.hook.kontor_account_export(
                account=Account.get_by_id(owner.account_id)
            )
        }
    assert keys == {"core", "mail_transport", "notifications", "remote_support", "subscriptions"}
    with app.app_context(), _db(app):
        [invoice] = invoice_files(Account.get_by_id(owner.account_id)).items()
    assert set(archive.namelist()) == {f"{k}.json" for k in keys | {"email_history"}} | {
        f"subscriptions/{invoice[0]}"
    }
    assert archive.read(f"subscriptions/{invoice[0]}") == invoice[1]
    documents = {
        name: json.loads(archive.read(name))
        for name in archive.namelist()
        if name.endswith(".json")
    }
    assert documents["core.json"]["company"]["company_name"] == "Muster GmbH"
    [history] = documents["email_history.json"]["mails"]
    assert history["subject"] == "Ihre Rechnung RE-1"
    assert history["recipients"][0]["address"] == "kunde@example.com"
    billing = documents["subscriptions.json"]["billing"]
    assert billing["iban"].endswith("3000") and "•" in billing["iban"]
    text = "\n".join(v for doc in documents.values() for v in _values(doc))
    assert "Fremd AG" not in text
    for value in _values(documents):
        assert "argon2" not in value and IBAN not in value and MAIL_PASSWORD not in value
        assert value not in secrets.values()
        assert "password" not in value.lower()
    raw = b"".join(archive.read(name) for name in archive.namelist())
    for secret in (*secrets.values(), IBAN, MAIL_PASSWORD):
        assert secret.encode() not in raw

    again = client.get(path)
    assert again.status_code == 404
    assert "nur einmal" in again.get_data(as_text=True)
    with app.app_context(), _db(app):
        assert DataExport.select().count() == 0
        assert not any((Path(app.instance_path) / "exports").iterdir())


def test_export_link_is_refused_after_seven_days(app, owner, user_client):
    _request_export(user_client)
    [message] = _outbox_texts(app)  # the memory queue built it at once
    path = LINK_RE.search(message).group(1)
    with app.app_context(), _db(app):
        [row] = DataExport.select()
        later = row.expires_at + dt.timedelta(seconds=1)
        DataExport.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    response = user_client.get(path)
    assert response.status_code == 404
    assert "innerhalb von 7 Tagen" in response.get_data(as_text=True)
    orphan = Path(app.instance_path) / "exports" / "9999-verwaist.zip"  # its user was removed
    orphan.write_bytes(b"PK")
    with app.app_context(), _db(app):
        assert sweep_exports(now=later) == 1
        assert DataExport.select().count() == 0
        assert not any((Path(app.instance_path) / "exports").iterdir())


def _outbox_texts(app):
    """Bodies of the system mails still stored (the Maildir when no server is set)."""
    from tests.support.process import maildir_messages

    return [m.get_payload(decode=True).decode() for m in maildir_messages(app)]


def test_members_may_neither_export_nor_close(app, member_client):
    page = member_client.get("/account/profile").get_data(as_text=True)
    assert "Daten exportieren" not in page and "Konto schließen" not in page
    token = csrf_token(member_client, "/account/profile")
    for url, data in (
        ("/account/profile/export", {"export-csrf_token": token}),
        (
            "/account/profile/close",
            {"close-csrf_token": token, "close-when": "now", "close-current_password": PASSWORD},
        ),
        ("/account/profile/close/undo", {"undo-csrf_token": token}),
    ):
        assert member_client.post(url, data=data).status_code == 403
    with app.app_context(), _db(app):
        assert DataExport.select().count() == 0
        assert Account.select().where(Account.erase_at.is_null(False)).count() == 0


def _close(client, password=PASSWORD, when="period_end"):
    return submit(
        client,
        "/account/profile/close",
        {"when": when, "current_password": password},
        prefix="close-",
        page="/account/profile",
    )


def _mail_subjects(inbox, to):
    return [m["Subject"] for m in inbox.messages if m["To"] == to]


def test_wrong_password_closes_nothing(make_app, owner, smtp_server):
    app = make_app(smtp_server.config())
    upgrade(app, owner.account)
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    response = _close(client, password="falsch-falsch")
    assert response.status_code == 422
    assert "Das aktuelle Passwort ist falsch." in response.get_data(as_text=True)
    with app.app_context(), _db(app):
        account = Account.get_by_id(owner.account_id)
        assert account.erase_at is None and account.closing_requested_at is None
        sub = Subscription.get(Subscription.account == owner.account_id)
        assert not sub.cancel_at_period_end and sub.status == "active"
    assert _mail_subjects(smtp_server.inbox, owner.email) == []


def test_closing_is_undone_within_the_grace_period(make_app, owner, smtp_server):
    app = make_app(smtp_server.config())
    upgrade(app, owner.account)
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    assert _close(client).status_code == 302
    with app.app_context(), _db(app):
        account = Account.get_by_id(owner.account_id)
        assert account.erase_at - account.closing_requested_at == dt.timedelta(days=30)
        sub = Subscription.get(Subscription.account == owner.account_id)
        assert sub.cancel_at_period_end and sub.status == "active"
    overview = client.get("/account/").get_data(as_text=True)
    assert "Dieses Konto wird geschlossen" in overview  # the banner, on every page
    assert 'action="/account/profile/close/undo"' in overview  # the undo, in the banner
    assert "Kontoschließung zurücknehmen" in client.get("/account/profile").get_data(as_text=True)
    token = csrf_token(client, "/account/")
    response = client.post("/account/profile/close/undo", data={"undo-csrf_token": token})
    assert response.status_code == 302
    with app.app_context(), _db(app):
        account = Account.get_by_id(owner.account_id)
        assert account.erase_at is None and account.closing_requested_at is None
        sub = Subscription.get(Subscription.account == owner.account_id)
        assert not sub.cancel_at_period_end and sub.cancel_reason == ""
        assert erase_due(now=utcnow() + dt.timedelta(days=40)) == 0
    assert "Dieses Konto wird geschlossen" not in client.get("/account/").get_data(as_text=True)
    assert wait_until(lambda: len(_mail_subjects(smtp_server.inbox, owner.email)) == 2)
    assert _mail_subjects(smtp_server.inbox, owner.email) == [
        "Ihr Konto wird geschlossen",
        "Die Schließung Ihres Kontos wurde zurückgenommen",
    ]


def test_closing_cannot_be_undone_once_the_grace_period_has_ended(ctx, owner):
    """Erasure is due from ``erase_at`` on; the undo is refused then even if
    the hourly job has not run yet, and nothing changes."""
    from core.data.lifecycle import request_closing, undo_closing

    erase_at = request_closing(owner, PASSWORD, immediately=False)
    assert not undo_closing(owner, now=erase_at + dt.timedelta(seconds=1))
    assert Account.get_by_id(owner.account_id).erase_at == erase_at
    assert undo_closing(owner, now=erase_at - dt.timedelta(days=1))
    assert Account.get_by_id(owner.account_id).erase_at is None


def test_closing_at_once_ends_the_subscription_without_refund(app, owner, user_client):
    upgrade(app, owner.account)
    assert _close(user_client, when="now").status_code == 302
    with app.app_context(), _db(app):
        sub = Subscription.get(Subscription.account == owner.account_id)
        assert sub.status == "expired" and sub.period_end <= utcnow()
        records = BillingRecord.select().where(BillingRecord.account == owner.account_id)
        assert all(r.amount_cents >= 0 for r in records)  # nothing refunded


# --- Erasure after the grace period ------------------------------------------------


def _fill_every_table(app, account, owner):
    """At least one row of the account in every table that holds account data."""
    with app.app_context(), _db(app):
        subscriptions.change_plan(account, "premium")  # a billing record
        ThresholdNotice.create(
            account=account, resource="users", threshold=80, period_start=utcnow()
        )
        ConnectionCheck.create(account=account)
        Preference.create(account=account, event_type="offer.accepted", channel="sms", enabled=True)
        event = Event.create(account=account, type="offer.accepted")
        Delivery.create(
            account=account,
            event=event,
            event_type="offer.accepted",
            channel="email",
            target=owner.email,
        )
        grant = Grant.create(
            account=account, granted_by=owner, granted_by_name="Erika", scope="read"
        )
        susi = Staff.get(Staff.email == "susi@kontor.example")
        SupportSession.create(
            token_hash="s" * 64, staff=susi, account=account, grant=grant, reason="Hilfe"
        )
        AccessLog.create(account=account, actor="Susi", action="session_start")
        member = User.create(
            account=account,
            email="mia@example.com",
            first_name="Mia",
            last_name="M",
            role="member",
            password_hash=hash_password(PASSWORD),
        )
        EmailLink.create(
            purpose="reset",
            token_hash="e" * 64,
            user=member,
            email=member.email,
            expires_at=utcnow(),
        )
        Passkey.create(user=member, credential_id="c" * 40, public_key="pk", name="Laptop")
        PasskeyChallenge.create(
            purpose="register", challenge_hash="p" * 64, user=member, expires_at=utcnow()
        )
        MailOutbox.create(account=account, message="To: erika@example.com\n\nHallo")
        DataExport.create(account=account, user=owner)
        Invitation.create(account=account, user=member, token_hash="i" * 64, expires_at=utcnow())


# What stays of an erased account, by table: § 147 AO / § 257 HGB records.
RETAINED = {
    "core.Account",  # the tombstone the records hang off
    "subscriptions.Subscription",  # the contract's terms
    "subscriptions.BillingInfo",  # the billing address printed on invoices
    "subscriptions.BillingRecord",  # Buchungsbelege
    "subscriptions.Invoice",  # Rechnungen (§ 14 UStG, § 147 AO)
}
# Tables whose rows belong to no account (the operator's own staff).
NOT_ACCOUNT_DATA = {
    "remote_support.Staff",
    "remote_support.StaffSession",
    "subscriptions.InvoiceCounter",
}


def _link(model, name):
    """The model's foreign key ``name`` (peewee returns fields as class attributes)."""
    field = getattr(model, name, None)
    return field if isinstance(field, peewee.ForeignKeyField) else None


def _rows_by_table(app, account_id, user_ids, mail_ids):
    """Rows of the account in every table of core and every plugin, by schema and model."""
    counts = {}
    for schema in app.extensions["kontor"].pm.hook.kontor_schema():
        for model in schema.models:
            table = f"{schema.name}.{model.__name__}"
            if table in NOT_ACCOUNT_DATA:
                continue
            if model is Account:
                query = model.select().where(model.id == account_id)
            elif _link(model, "account") is not None:
                query = model.select().where(_link(model, "account") == account_id)
            elif _link(model, "user") is not None:
                query = model.select().where(_link(model, "user").in_(user_ids))
            elif _link(model, "mail") is not None:
                query = model.select().where(_link(model, "mail").in_(mail_ids))
            else:
                pytest.fail(f"{table}: say how its rows belong to an account")
            counts[table] = query.count()
    return counts


def test_erasure_after_the_grace_period_keeps_only_retained_records(
    make_app, owner, make_owner, smtp_server
):
    other = make_owner("fremd@example.com", company="Fremd AG")
    app = make_app({**smtp_server.config(), **SELLER})
    _seed_secrets(app, owner.account)
    _fill_every_table(app, owner.account, owner)
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    assert _close(client).status_code == 302
    with app.app_context(), _db(app):
        user_ids = [u.id for u in User.select().where(User.account == owner.account_id)]
        mail_ids = [
            m.id for m in CustomerMail.select().where(CustomerMail.account == owner.account_id)
        ]
        before = _rows_by_table(app, owner.account_id, user_ids, mail_ids)
        assert all(before.values()), before  # every table has something to erase
        others_before = _rows_by_table(app, other.account_id, [other.id], [])
        erase_at = Account.get_by_id(owner.account_id).erase_at
        assert erase_due(now=erase_at - dt.timedelta(minutes=1)) == 0  # still in grace
        assert erase_due(now=erase_at) == 1
        assert erase_due(now=erase_at) == 0  # once

        after = _rows_by_table(app, owner.account_id, user_ids, mail_ids)
        assert after == {t: before[t] if t in RETAINED else 0 for t in before}
        assert _rows_by_table(app, other.account_id, [other.id], []) == others_before

        account = Account.get_by_id(owner.account_id)
        assert account.company_name == f"Gelöschtes Konto {account.id}"
        assert account.notification_email is None and account.mobile_number is None
        assert account.erased_at == erase_at
        info = BillingInfo.get(BillingInfo.account == owner.account_id)
        assert (info.iban_encrypted, info.iban_masked, info.account_holder) == ("", "", "")
        assert info.billing_email == "" and info.city == "Berlin"  # the invoice address stays
        sub = Subscription.get(Subscription.account == owner.account_id)
        assert sub.status == "expired" and sub.cancel_reason == ""

    assert wait_until(
        lambda: "Ihr Konto wurde gelöscht" in _mail_subjects(smtp_server.inbox, owner.email)
    )  # to the address before erasure
    assert _mail_subjects(smtp_server.inbox, owner.email) == [
        "Ihr Konto wird geschlossen",
        "Ihr Konto wurde gelöscht",
    ]
    assert login(app.test_client(), owner.email, PASSWORD).status_code == 422

    with app.app_context(), _db(app):
        assert erase_due(now=dt.datetime(erase_at.year + 10, 12, 31)) == 0
        assert Account.get_or_none(Account.id == owner.account_id) is not None
        erase_due(now=dt.datetime(erase_at.year + 11, 1, 1))  # retention over
        gone = _rows_by_table(app, owner.account_id, user_ids, mail_ids)
        assert gone == dict.fromkeys(before, 0)
        assert _rows_by_table(app, other.account_id, [other.id], []) == others_before


def test_erasure_leaves_no_address_or_name_beyond_the_invoice_address(make_app, owner):
    """The kept records hold what § 14 UStG prints on an invoice, no more: not
    the billing e-mail address frozen with an invoice, nor the name and the
    addresses of whoever cancelled the contract."""
    app = make_app(SELLER)
    _seed_secrets(app, owner.account)  # billing e-mail buchhaltung@example.com, one invoice
    with app.app_context(), _db(app):
        cancellation.cancel(
            owner.account,
            cancellation.Declaration(
                kind=cancellation.ORDINARY,
                name="Erika Kündigerin",
                email=owner.email,
                confirm_to="kuendigung@privat.example",
            ),
        )
    client = app.test_client()
    login(client, owner.email, PASSWORD)
    assert _close(client).status_code == 302
    with app.app_context(), _db(app):
        assert erase_due(now=Account.get_by_id(owner.account_id).erase_at) == 1
        kept = [
            *Subscription.select().where(Subscription.account == owner.account_id).dicts(),
            *Invoice.select(Invoice.data_json).where(Invoice.account == owner.account_id).dicts(),
        ]
    assert len(kept) == 2
    text = json.dumps(kept, default=str)
    for personal in (
        "buchhaltung@example.com",
        "Erika Kündigerin",
        owner.email,
        "kuendigung@privat.example",
    ):
        assert personal not in text


def test_lifecycle_migration_upgrades_an_older_database(ctx, owner):
    """0010 adds the closing columns and the export table to a database from
    before it, keeping the accounts."""
    from playhouse.migrate import SchemaMigrator, migrate

    from core.contract import builtin

    [migration] = [
        m for m in builtin.kontor_schema().migrations if m.id == "0010_account_lifecycle"
    ]
    database = bind(ctx)

    def columns():
        return {c.name for c in database.get_columns("core_account")}

    database.drop_tables([DataExport])
    migrator = SchemaMigrator.from_database(database)
    migrate(*(migrator.drop_column("core_account", name) for name in LIFECYCLE_COLUMNS))
    assert not set(LIFECYCLE_COLUMNS) & columns() and not DataExport.table_exists()
    migration.apply(database)
    assert set(LIFECYCLE_COLUMNS) <= columns() and DataExport.table_exists()
    account = Account.get_by_id(owner.account_id)
    assert account.company_name == "Muster GmbH" and not account.is_closing


def test_a_pending_export_is_not_doubled_but_a_lost_one_is_replaced(make_app, owner, tmp_path):
    app = make_app({"KONTOR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"})  # no worker runs
    with app.app_context(), _db(app):
        user = User.get_by_id(owner.id)
        first = request_export(user)
        assert request_export(user).id == first.id
        DataExport.update(created_at=utcnow() - dt.timedelta(hours=2)).execute()
        request_export(user)
        [row] = DataExport.select()
        assert row.created_at > utcnow() - dt.timedelta(minutes=1)  # a new one
