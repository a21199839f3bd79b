"""E-Mail-Versand: the ``mail_transport`` plugin."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.types import EventType, Section
from plugins.mail_transport import views


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [views.bp]


@hookimpl
def kontor_settings_sections() -> Sequence[Section]:
    return [Section("mail_transport", _l("E-Mail-Versand"), "mail_transport.index", order=60)]


@hookimpl
def kontor_event_types() -> Sequence[EventType]:
    return [EventType("mail.delivery_failed", _l("E-Mail an Kunden nicht zustellbar"), order=80)]
