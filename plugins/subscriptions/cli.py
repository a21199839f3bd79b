"""``kontor renewals``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from core import bind
from plugins.subscriptions.services import renew_due


@click.command("renewals")
@with_appcontext
def renewals_command() -> None:
    """Advance due billing periods (safe to run repeatedly)."""
    with bind(current_app).connection_context():
        count = renew_due()
    click.echo(f"Subscriptions renewed or ended: {count}")
