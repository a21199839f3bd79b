"""Kontor core. This module is the public API for plugins: import from ``core``.

Core's sub-packages are its own layout and may change between releases:

- ``core.contract``: the hooks, the values they return, the plugin manager;
- ``core.data``: the database, core's tables, migrations, account logic;
- ``core.delivery``: events, outboxes, the queue, messages, SMTP, SMS;
- ``core.security``: passwords, sessions, two-factor login, encryption;
- ``core.web``: core's pages and service API, forms, formatting, limits.

What a plugin needs from them is re-exported here, under the same names, and
kept stable. ``core.testing`` (the ``kontor.testing`` pytest plugin) is the
one other public module. Code inside core imports from the sub-packages, never
from this module, so importing any part of core never needs all of it first.
"""

from core.app import create_app
from core.config import ConfigError
from core.contract.hookspecs import hookimpl
from core.contract.values import (
    Actor,
    Card,
    Channel,
    EventType,
    ExportPart,
    Job,
    Migration,
    Notification,
    PeriodicJob,
    PermanentFailure,
    PlanInfo,
    PlannedDelivery,
    PlanResource,
    Schema,
    Section,
    SensitiveAction,
    SlotContent,
    TemporaryFailure,
)
from core.data.db import BaseModel, bind, database, for_update, utcnow
from core.data.migrations import Frozen, add_fields, allow_null, create_tables, steps, stub
from core.data.models import Account, Event, User
from core.delivery import outbox, smtp_client
from core.delivery.customer_mail import (
    CustomerMail,
    delivery_state,
    mails_to_customer,
    queue_customer_mail,
)
from core.delivery.events import emit, event_types
from core.delivery.job_queue import enqueue
from core.delivery.messages import (
    MailTransport,
    OperatorTransport,
    SentMail,
    address,
    build_message,
    send_via_operator,
    system_sender,
)
from core.delivery.outbox import OutboxRow, queue_template_mail
from core.security.auth import end_session, hash_password, token_hash, verify_password
from core.security.crypto import DecryptionError, decrypt, encrypt
from core.security.twofactor import matching_step
from core.web import openapi
from core.web.api import fail, get_account, json_body, service_blueprint, utc_iso
from core.web.blueprints import account_blueprint, current_account, external_url
from core.web.formatting import TIMEZONE, format_ago, format_amount, format_cents, format_when
from core.web.forms import Form
from core.web.permissions import (
    can,
    managers_only,
    managers_write,
    managers_write_blueprint,
    owner_write,
)
from core.web.ratelimit import limiter, submitted_address
from core.web.request_memo import per_request
from core.web.validation import (
    MAX_ROW_ID,
    EmailAddress,
    PlainText,
    normalise_email,
    strip_filter,
)

__all__ = [
    "MAX_ROW_ID",
    "TIMEZONE",
    "Account",
    "Actor",
    "BaseModel",
    "Card",
    "Channel",
    "ConfigError",
    "CustomerMail",
    "DecryptionError",
    "EmailAddress",
    "Event",
    "EventType",
    "ExportPart",
    "Form",
    "Frozen",
    "Job",
    "MailTransport",
    "Migration",
    "Notification",
    "OperatorTransport",
    "OutboxRow",
    "PeriodicJob",
    "PermanentFailure",
    "PlainText",
    "PlanInfo",
    "PlanResource",
    "PlannedDelivery",
    "Schema",
    "Section",
    "SensitiveAction",
    "SentMail",
    "SlotContent",
    "TemporaryFailure",
    "User",
    "account_blueprint",
    "add_fields",
    "address",
    "allow_null",
    "bind",
    "build_message",
    "can",
    "create_app",
    "create_tables",
    "current_account",
    "database",
    "decrypt",
    "delivery_state",
    "emit",
    "encrypt",
    "end_session",
    "enqueue",
    "event_types",
    "external_url",
    "fail",
    "for_update",
    "format_ago",
    "format_amount",
    "format_cents",
    "format_when",
    "get_account",
    "hash_password",
    "hookimpl",
    "json_body",
    "limiter",
    "mails_to_customer",
    "managers_only",
    "managers_write",
    "managers_write_blueprint",
    "matching_step",
    "normalise_email",
    "openapi",
    "outbox",
    "owner_write",
    "per_request",
    "queue_customer_mail",
    "queue_template_mail",
    "send_via_operator",
    "service_blueprint",
    "smtp_client",
    "steps",
    "strip_filter",
    "stub",
    "submitted_address",
    "system_sender",
    "token_hash",
    "utc_iso",
    "utcnow",
    "verify_password",
]
