"""Every hook Kontor defines, grouped by phase.

Hooks return data and core does the registering. Call them with keyword
arguments. Unless a spec says "first result wins", core collects the results
of all implementations (``None`` results are dropped). Implementations take
only the arguments they need. ``docs/hooks.md`` documents each hook; a test
keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import datetime as dt

    import click
    from flask import Blueprint

    from core.contract.values import (
        Actor,
        Card,
        Channel,
        EventType,
        ExportPart,
        Job,
        PeriodicJob,
        PlanInfo,
        PlannedDelivery,
        PlanResource,
        Schema,
        Section,
        SensitiveAction,
        SlotContent,
    )
    from core.data.models import Account, Event, User
    from core.delivery.messages import MailTransport
    from core.delivery.sms_gateways import SmsGateway

PROJECT = "kontor"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------
# Setup: called once while the app is created
# ---------------------------------------------------------------------------


@hookspec
def kontor_schema() -> Schema | None:
    """Return the plugin's tables and migration history.

    ``Schema.name`` is the table prefix and names the plugin's own history
    table ``<name>_migrations``. Migrations run in ``kontor init`` and
    ``kontor migrate``: core first, then plugins sorted by name.
    """


@hookspec
def kontor_check_config(config: Mapping[str, Any]) -> None:
    """Validate the plugin's own settings at start.

    Raise ``core.config.ConfigError`` with a one-line message that begins
    with the variable's name (``"KONTOR_PLANS_FILE: ..."``).
    """


@hookspec
def kontor_blueprints() -> Sequence[Blueprint] | None:
    """Return Flask blueprints to register, pages and service-API routes alike.

    Service-API routes use :func:`core.web.api.service_blueprint`, which adds
    bearer-token authentication and JSON errors.
    """


@hookspec
def kontor_openapi_paths() -> Mapping[str, Any] | None:
    """Return OpenAPI 3.1 path items for the plugin's service-API routes.

    Keys are paths below ``/api/v1`` (``"/accounts/{account_id}/usage"``);
    core merges them into ``/api/v1/openapi.json``. ``#/components/schemas/Error``
    and ``#/components/responses/<status>`` are there to refer to.

    An operation's ``requestBody`` schema is enforced: ``core.web.api.json_body``
    validates each body against it (Draft 2020-12; ``"format": "printable"``
    refuses control characters; an integer has no fraction).
    """


@hookspec
def kontor_cli_commands() -> Sequence[click.Command] | None:
    """Return click commands to add to the ``kontor`` command group."""


@hookspec
def kontor_jobs() -> Sequence[Job] | None:
    """Return background jobs the worker runs by name (``core.delivery.job_queue.enqueue``)."""


@hookspec
def kontor_periodic_jobs() -> Sequence[PeriodicJob] | None:
    """Return jobs the worker runs on a schedule."""


# ---------------------------------------------------------------------------
# User interface: called while a page is rendered
# ---------------------------------------------------------------------------


@hookspec
def kontor_settings_sections() -> Sequence[Section] | None:
    """Return sections for the "Mein Konto" navigation, ordered by ``order``.

    ``icon`` names a symbol in ``core/static/icons.svg``. A section is marked
    as current on its page and on every page below its URL.
    """


@hookspec
def kontor_overview_cards(account: Account, user: User) -> Sequence[Card] | None:
    """Return cards for the overview page ``/account/`` for this account.

    Core labels the card's link: "Bearbeiten" when the viewer may post a form
    of the card's page (``can``), else "Ansehen".
    """


@hookspec
def kontor_template_slot(slot: str, account: Account | None) -> Sequence[SlotContent] | None:
    """Return HTML for a named slot in a template (``{{ slot('name') }}``).

    Contents are joined in ``priority`` order (lower first). Known slots:
    ``banner`` (top of every page), ``account_overview_footer``,
    ``footer_links`` (``<li>`` items in the footer of the customers' pages,
    also for visitors who are not logged in: ``account`` is None then; the
    support staff's login and console have no such links).
    """


# ---------------------------------------------------------------------------
# Events and notifications
# ---------------------------------------------------------------------------


@hookspec
def kontor_event_types() -> Sequence[EventType] | None:
    """Return the event types this plugin reports; keys are stable strings."""


@hookspec
def kontor_event_emitted(event: Event) -> Sequence[PlannedDelivery] | None:
    """React to a newly emitted event, inside the emitting transaction.

    Write outbox rows here, never talk to another server. The returned
    deliveries are reported back to the emitter (service API: 202 body).
    """


@hookspec
def kontor_event_wanted(account: Account, type: str) -> bool | None:
    """Whether ``kontor_event_emitted`` would write anything for an event of
    ``type`` in ``account``; asked before the event is stored.

    When every plugin that implements ``kontor_event_emitted`` answers False,
    the event row is stored on its own (no transaction around it, no
    ``kontor_event_emitted`` call). Answer False only when certain; a plugin
    that does not implement this hook is always called.
    """


@hookspec
def kontor_notification_channels() -> Sequence[Channel] | None:
    """Return notification channels (objects following ``core.contract.values.Channel``)."""


@hookspec(firstresult=True)
def kontor_sms_gateway(config: Mapping[str, Any]) -> SmsGateway | None:
    """Return the SMS gateway to use. First result wins; core's default
    (``trylast``) is the HTTP gateway when configured, else the dev file."""


# ---------------------------------------------------------------------------
# Mail to customers
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def kontor_mail_transport(account: Account) -> MailTransport | None:
    """Return how this account's customer mails are sent. First result wins;
    core's default (``trylast``) is the operator's mail server."""


# ---------------------------------------------------------------------------
# Plans, limits and usage
# ---------------------------------------------------------------------------


@hookspec
def kontor_plan_resources() -> Sequence[PlanResource] | None:
    """Return the resources plans can limit, with label and unit."""


@hookspec
def kontor_usage(account: Account) -> Mapping[str, int] | None:
    """Return this account's current usage of the resources the plugin counts."""


@hookspec(firstresult=True)
def kontor_plan(account: Account) -> PlanInfo | None:
    """Return the account's current plan: its name and its limits. First
    result wins; no plan means no name and no limits."""


@hookspec(firstresult=True)
def kontor_plans_url() -> str | None:
    """Return the address of the page that compares the plans, for errors
    caused by a limit to link to. First result wins."""


@hookspec
def kontor_usage_changed(account: Account, resource: str) -> None:
    """Called after core or a plugin changed the usage of ``resource``."""


# ---------------------------------------------------------------------------
# Sessions, access and secrets
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def kontor_load_actor(kind: str, token: str) -> Actor | None:
    """Return the logged-in actor for a session id ``"<kind>:<token>"``.

    Core loads ``kind == "user"`` itself. Plugins that log people in another
    way (support sessions) return a :class:`core.contract.values.Actor`, or None to
    refuse. First result wins.
    """


@hookspec(firstresult=True)
def kontor_write_refusal(endpoint: str) -> str | None:
    """Return why the current actor may not post to ``endpoint``, or None.

    The plugin's own request guard must refuse with the same answer: pages ask
    it through ``core.web.permissions.can`` before they show a form, so page and
    guard never disagree. First refusal wins.
    """


@hookspec
def kontor_sensitive_actions() -> Sequence[SensitiveAction] | None:
    """Return actions that only the account's own users may perform.

    Support sessions are refused every write to these endpoints in any scope,
    whatever the body (consent, passwords, e-mail addresses and sessions of
    users, inviting and removing users, notification targets, billing details,
    mail server credentials, plan changes, cancelling, anything that creates a
    credential). Give such an action a route of its own.
    """


@hookspec
def kontor_rotate_secrets(rotate: Callable[[str, str], str]) -> int | None:
    """Re-encrypt stored secrets with the primary key; return how many changed.

    ``rotate(ciphertext, context)`` returns the re-encrypted value. Called by
    ``kontor keys rotate`` inside one transaction.
    """


# ---------------------------------------------------------------------------
# Account data
# ---------------------------------------------------------------------------


@hookspec
def kontor_account_export(account: Account) -> ExportPart | None:
    """Return this plugin's share of the account's data for a full export.

    Never include secrets (passwords, keys, tokens, full IBANs: mask them).
    ``data`` becomes ``<key>.json`` in the export's ZIP; ``files`` (e.g.
    invoice PDFs) are stored as ``<key>/<name>``."""


@hookspec
def kontor_account_closing(account: Account, immediately: bool) -> dt.datetime | None:
    """The owner asked to close the account: end what the plugin provides.

    ``immediately`` means at once and without refund, else at the end of the
    paid period. Return when the paid service ends (naive UTC) if it runs
    past the 30-day grace period: the account is erased at the latest of
    these. Called inside the closing transaction.
    """


@hookspec
def kontor_account_reopened(account: Account) -> None:
    """The owner took the closing back within the grace period: undo what
    ``kontor_account_closing`` did, where that is still possible."""


@hookspec
def kontor_erase_account(account: Account) -> None:
    """Erase the account's personal data in the plugin's tables, for good.

    Keep only what § 147 AO and § 257 HGB require (invoices, billing records
    and the billing address on them) and strip everything else from those
    rows; core deletes the rest with the anonymised account row when the
    ten-year retention period ends. Called by the worker inside one
    transaction per account; no request, no logged-in user.
    """


# ---------------------------------------------------------------------------
# Demo
# ---------------------------------------------------------------------------


@hookspec
def kontor_demo_data(account: Account, owner: User) -> None:
    """Fill the fresh ``kontor demo`` account with believable data of the plugin's
    own section, through the plugin's services, so that a first look at every
    page shows it in use. Called once, right after the demo account is created,
    inside an app context with the database connected."""
