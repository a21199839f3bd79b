"""``kontor staff create EMAIL``."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from core import bind, normalise_email
from plugins.remote_support.models import Staff
from plugins.remote_support.services import create_staff


@click.group("staff")
def staff_group() -> None:
    """Support staff logins."""


@staff_group.command("create")
@click.argument("email")
@click.option("--name", prompt="Name", help="Shown to customers in the banner and log.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_command(email: str, name: str, password_stdin: bool) -> None:
    """Create a staff login and print its TOTP secret as an otpauth URI."""
    try:
        email = normalise_email(email)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        raise click.BadParameter("at least 12 characters", param_hint="password")
    with bind(current_app).connection_context():
        if Staff.select().where(Staff.email == email.lower()).exists():
            raise click.ClickException(f"staff {email} exists already")
        staff, uri = create_staff(email, name, password)
    click.echo(f"Staff {staff.email} created.")
    click.echo(f"TOTP: {uri}")
