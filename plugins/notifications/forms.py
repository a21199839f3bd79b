"""The preference matrix and the test form.

Event types and channels come from hooks, so the form classes are built once
per app (on first use) from what is registered, then reused unchanged. Their
labels are lazy strings: each request reads them in its own language.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice

from core import Form, event_types
from plugins.notifications.services import channels


def _field_name(event_key: str, channel_key: str) -> str:
    return f"{event_key}__{channel_key}".replace(".", "_").replace("-", "_")


class PreferenceFormBase(Form):
    """Base of the generated matrix form; ``matrix`` maps fields to cells."""

    matrix: tuple[tuple[str, str, str], ...] = ()
    #: The field name of each (event, channel) cell, for the page's table.
    cells: dict[tuple[str, str], str] = {}
    submit = SubmitField(_l("Einstellungen speichern"))

    def chosen(self) -> list[tuple[str, str]]:
        return [(e, c) for name, e, c in self.matrix if self[name].data]


class TestForm(Form):
    """Base of the generated test form; the channel choice is added per app."""

    submit = SubmitField(_l("Testbenachrichtigung senden"))


def _build() -> dict[str, type[Form]]:
    kinds, chans = event_types(), channels()
    fields: dict[str, object] = {}
    matrix = []
    for kind in kinds:
        for ch in chans:
            name = _field_name(kind.key, ch.key)
            label = _l("%(event)s: %(channel)s", event=kind.label, channel=ch.label)
            fields[name] = BooleanField(label)
            matrix.append((name, kind.key, ch.key))
    preference = type(
        "PreferenceForm",
        (PreferenceFormBase,),
        {**fields, "matrix": tuple(matrix), "cells": {(e, c): name for name, e, c in matrix}},
    )
    test = type(
        "ChannelTestForm",
        (TestForm,),
        {
            "channel": SelectField(
                _l("Kanal"), choices=[SelectChoice(c.key, c.label) for c in chans]
            )
        },
    )
    return {"preference": preference, "test": test}


def form_classes() -> dict[str, type[Form]]:
    """The app's form classes, built on first use."""
    cache = current_app.extensions["kontor"].cache
    if "notifications.forms" not in cache:
        cache["notifications.forms"] = _build()
    return cache["notifications.forms"]
