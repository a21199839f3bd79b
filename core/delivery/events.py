"""The event bus: ``emit`` records an event and lets plugins react in the same
transaction (typically by writing outbox rows for the worker)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import peewee
from flask import current_app

from core.contract.values import EventType, PlannedDelivery
from core.data.db import database
from core.data.models import Account, Event

if TYPE_CHECKING:
    from core.app import Kontor

MAX_DATA_BYTES = 16 * 1024


class UnknownEventType(ValueError):
    """No plugin declared this event type."""


@dataclass(frozen=True)
class Emitted:
    """The stored event, whether it is new, and what it will cause."""

    event: Event
    created: bool
    deliveries: tuple[PlannedDelivery, ...]


def event_types() -> list[EventType]:
    """All declared event types, in display order (collected when the app was created)."""
    return current_app.extensions["kontor"].event_types


def emit(
    account: Account,
    type: str,
    data: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Emitted:
    """Record an event for ``account`` and dispatch it through the hooks.

    With an ``idempotency_key`` that was used before for this account, the
    earlier event is returned and nothing is dispatched again.
    """
    if type not in {t.key for t in event_types()}:
        raise UnknownEventType(type)
    payload = json.dumps(dict(data or {}), ensure_ascii=False, sort_keys=True)
    if len(payload.encode()) > MAX_DATA_BYTES:
        raise ValueError("event data too large")
    kontor = current_app.extensions["kontor"]
    quiet = _nothing_to_write(kontor, account, type)
    # An event no plugin reacts to is one insert: no BEGIN/COMMIT round trips.
    with contextlib.nullcontext() if quiet else database.atomic():
        event, created = _store(account, type, payload, idempotency_key)
        if not created:
            return Emitted(event, False, ())
        planned = [] if quiet else kontor.pm.hook.kontor_event_emitted(event=event)
    return Emitted(event, True, tuple(d for result in planned for d in result or ()))


def _nothing_to_write(kontor: Kontor, account: Account, type: str) -> bool:
    """True when every plugin reacting to events says it would write nothing."""
    if kontor.event_askers is None:
        return False
    answers = kontor.pm.hook.kontor_event_wanted(account=account, type=type)
    return len(answers) == kontor.event_askers and not any(answers)


def _store(
    account: Account, type: str, payload: str, idempotency_key: str | None
) -> tuple[Event, bool]:
    """The new event row, or the earlier one with the same idempotency key."""
    if idempotency_key is not None:
        existing = Event.get_or_none(
            Event.account == account, Event.idempotency_key == idempotency_key
        )
        if existing is not None:
            return existing, False
    fields = {"account": account, "type": type, "data_json": payload}
    if idempotency_key is None:
        return Event.create(**fields), True
    try:
        with database.atomic():  # a savepoint: a concurrent twin may win the key
            return Event.create(**fields, idempotency_key=idempotency_key), True
    except peewee.IntegrityError:
        return Event.get(Event.account == account, Event.idempotency_key == idempotency_key), False
