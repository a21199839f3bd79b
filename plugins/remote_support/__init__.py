"""Support: the ``remote_support`` plugin."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.types import EventType, Section
from plugins.remote_support import views


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [views.bp]


@hookimpl
def kontor_settings_sections() -> Sequence[Section]:
    return [Section("remote_support", _l("Support"), "remote_support.index", order=40)]


@hookimpl
def kontor_event_types() -> Sequence[EventType]:
    return [EventType("support.session_started", _l("Support hat sich angemeldet"), order=70)]
