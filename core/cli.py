"""The ``kontor`` command line: a click group on the app factory."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext
from werkzeug.serving import BaseWSGIServer, make_server

from core.app import create_app
from core.config import ConfigError
from core.contract.manager import PluginError, plugin_infos
from core.data.db import bind
from core.data.migrations import migrate as run_migrations

DEMO_EMAIL = "demo@kontor.example"
DEMO_FILE = "demo-login.json"  # the demo password and service token, mode 0600
# The Bundesbank's example SEPA creditor identifier (valid in form and check
# digits), so the demo can offer direct debit and show the mandate text.
DEMO_CREDITOR_ID = "DE98ZZZ09999999999"


def _app_factory() -> Flask:
    return create_app()


class KontorGroup(click.Group):
    """Kontor's commands and the enabled plugins' commands, nothing else.

    Flask's ``FlaskGroup`` would add ``run``, ``shell``, ``routes``, its app
    options and every installed ``flask.commands`` entry point; Kontor uses
    only its documented ``ScriptInfo`` so that ``with_appcontext`` works.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        extra.setdefault(
            "obj",
            ScriptInfo(create_app=_app_factory, set_debug_flag=False, load_dotenv_defaults=False),
        )
        return super().make_context(info_name, args, parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        try:
            names.update(ctx.ensure_object(ScriptInfo).load_app().cli.list_commands(ctx))
        except (ConfigError, PluginError) as exc:  # the own commands still show
            click.echo(f"kontor: plugin commands not listed: {exc}", err=True)
        return sorted(names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        app = ctx.ensure_object(ScriptInfo).load_app()
        ctx.with_resource(app.app_context())
        return app.cli.get_command(ctx, name)


@click.group(cls=KontorGroup)
def cli() -> None:
    """Kontor: the "Mein Konto" settings area of the invoicing service."""


def apply_migrations(app: Flask) -> list[str]:
    """Run every pending migration of core and the enabled plugins."""
    db = bind(app)
    with db.connection_context():
        return run_migrations(db, app.extensions["kontor"].schemas())


@cli.command("init")
@with_appcontext
def init_command() -> None:
    """Create the instance folder, dev keys and the database schema."""
    applied = apply_migrations(current_app)
    click.echo(f"Instance folder: {current_app.instance_path}")
    click.echo(f"Migrations applied: {len(applied)}")


@cli.command("migrate")
@with_appcontext
def migrate_command() -> None:
    """Apply pending migrations (a deploy step, before reloading the web)."""
    for name in apply_migrations(current_app):
        click.echo(f"applied {name}")


@cli.command("plugins")
@with_appcontext
def plugins_command() -> None:
    """List loaded plugins with version, origin and implemented hooks."""
    for info in plugin_infos(current_app.extensions["kontor"].pm):
        click.echo(f"{info.name}  {info.version}  {info.origin}")
        click.echo(f"    hooks: {', '.join(info.hooks)}")


@cli.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup_command(target: str) -> None:
    """Copy the SQLite database online into TARGET (PostgreSQL: use pg_dump)."""
    import sqlite3

    from core.data.db import KontorSqliteDatabase

    db = current_app.extensions["kontor"].database
    if not isinstance(db, KontorSqliteDatabase):
        raise click.ClickException(
            "the database is PostgreSQL: back it up with pg_dump (see docs/deploy.md)"
        )
    source = sqlite3.connect(db.database)
    try:
        with sqlite3.connect(target) as copy:
            source.backup(copy)
    finally:
        source.close()
    click.echo(f"Backup written to {target}")


@cli.group("keys")
def keys_group() -> None:
    """Encryption keys for stored secrets."""


@keys_group.command("rotate")
@with_appcontext
def keys_rotate_command() -> None:
    """Re-encrypt every stored secret with the primary key (the first listed).

    Put the new key first in KONTOR_ENCRYPTION_KEYS, keep the old ones after
    it, run this, then remove the old keys.
    """
    from core.security.crypto import rotate

    db = bind(current_app)
    with db.connection_context(), db.atomic():
        counts = current_app.extensions["kontor"].pm.hook.kontor_rotate_secrets(rotate=rotate)
    click.echo(f"Secrets re-encrypted: {sum(c or 0 for c in counts)}")


@cli.command("worker")
@click.option("--workers", default=4, show_default=True, help="Worker threads or processes.")
@click.option(
    "--worker-type",
    type=click.Choice(["thread", "process"]),
    default="thread",
    show_default=True,
    help="Processes use every CPU core; threads share one.",
)
@with_appcontext
def worker_command(workers: int, worker_type: str) -> None:
    """Run the background queue worker (deliveries, periodic jobs)."""
    queue = current_app.extensions["kontor"].queue
    consumer = queue.huey.create_consumer(workers=workers, worker_type=worker_type, periodic=True)
    consumer.run()


@dataclass(frozen=True)
class DemoLogin:
    """What ``kontor demo`` prints: the owner's login and a service-API token."""

    account_id: int
    password: str
    service_token: str


def _demo_file(app: Flask) -> Path:
    return Path(app.instance_path) / DEMO_FILE


def _write_private(path: Path, data: dict[str, str]) -> None:
    """Write ``data`` as JSON readable by this user only (it holds a password)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    tmp.replace(path)


def ensure_demo_account(app: Flask, reset_password: bool = False) -> DemoLogin:
    """Create the demo account once, filled with demo data by every plugin.

    Its password and service token are kept in the instance folder, so every
    start prints the same login; ``reset_password`` picks a new password.
    """
    from core.data import accounts
    from core.data.models import User
    from core.security.auth import hash_password, verify_password

    path = _demo_file(app)
    state = json.loads(path.read_text()) if path.exists() else {}
    password = state.get("password") or secrets.token_urlsafe(12)
    with app.app_context(), bind(app).connection_context():
        user = User.get_or_none(User.email == DEMO_EMAIL)
        if user is None:
            user = accounts.register("Muster GmbH", "Erika", "Mustermann", DEMO_EMAIL, password)
            app.extensions["kontor"].pm.hook.kontor_demo_data(account=user.account, owner=user)
        elif reset_password or not verify_password(user, password):
            password = secrets.token_urlsafe(12)
            user.password_hash = hash_password(password)
            user.save(only=[User.password_hash])
        account_id = user.account_id
    state = {
        "password": password,
        "service_token": state.get("service_token") or secrets.token_urlsafe(24),
    }
    _write_private(path, state)
    return DemoLogin(account_id, password, state["service_token"])


def _local_defaults(host: str, port: int) -> None:
    """Plain http on this machine, unless the environment says otherwise."""
    os.environ.setdefault("KONTOR_COOKIE_SECURE", "false")
    shown = f"[{host}]" if ":" in host else host
    os.environ.setdefault("KONTOR_BASE_URL", f"http://{shown}:{port}")


# A made-up seller, so that the demo's invoices show every field; the demo
# is no real business and these are example values (USt-IdNr. passes the checksum).
DEMO_SELLER = {
    "KONTOR_SELLER_NAME": "Kontor Demo GmbH",
    "KONTOR_SELLER_STREET": "Musterstraße 1",
    "KONTOR_SELLER_POSTAL_CODE": "10115",
    "KONTOR_SELLER_CITY": "Berlin",
    "KONTOR_SELLER_VAT_ID": "DE136695976",
    "KONTOR_SELLER_TAX_NUMBER": "30/123/45678",
    "KONTOR_SELLER_EMAIL": "rechnung@kontor.example",
}


def _listen(host: str, port: int) -> BaseWSGIServer:
    """Bind the port first, so that a busy port ends the start (werkzeug says
    why and exits) before anything is created. The app is attached once it
    exists: ``app`` is the public attribute the server calls."""
    return make_server(host, port, _not_ready, threaded=True)


def _not_ready(environ: dict, start_response: Callable) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def _stop_on_sigterm() -> None:
    """SIGTERM ends the server like Ctrl-C does, so the worker is stopped too."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _serve(server: BaseWSGIServer, with_worker: bool) -> None:
    worker = None
    if with_worker:
        worker = subprocess.Popen([sys.executable, "-m", "core.cli", "worker", "--workers", "1"])
    _stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


@cli.command("demo")  # builds its own app
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--reset-password", is_flag=True, help="Give the demo login a new password.")
def demo_command(host: str, port: int, reset_password: bool) -> None:
    """Initialise if needed, create a demo account, and serve with a worker."""
    _local_defaults(host, port)
    if not any(os.environ.get(name) for name in DEMO_SELLER):
        os.environ.update(DEMO_SELLER)
    os.environ.setdefault("KONTOR_SUBSCRIPTIONS_CREDITOR_ID", DEMO_CREDITOR_ID)
    server = _listen(host, port)
    app = create_app()
    apply_migrations(app)
    login = ensure_demo_account(app, reset_password)
    token = None
    if not app.config["KONTOR_SERVICE_TOKENS"]:  # read per request by the service API
        app.config["KONTOR_SERVICE_TOKENS"] = [login.service_token]
        token = login.service_token
    server.app = app
    base = f"http://{host}:{port}"
    click.echo(f"Kontor demo on {base}/login")
    click.echo(f"  E-Mail-Adresse: {DEMO_EMAIL}")
    click.echo(f"  Passwort:       {login.password}")
    if token:
        click.echo(f"  Service-Token:  {token}")
        click.echo(
            f'  curl -H "Authorization: Bearer {token}" '
            f"{base}/api/v1/accounts/{login.account_id}/subscription"
        )
    else:
        click.echo("  Service-Token:  one of KONTOR_SERVICE_TOKENS")
    sys.stdout.flush()
    _serve(server, with_worker=True)


@cli.command("serve")  # builds its own app
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve_command(host: str, port: int) -> None:
    """Serve with the development server (production: gunicorn 'wsgi:app')."""
    _local_defaults(host, port)
    server = _listen(host, port)
    server.app = create_app()
    _serve(server, with_worker=False)


def main() -> None:
    """Entry point: configuration and plugin errors end in one clear line."""
    try:
        cli.main(prog_name="kontor")
    except (ConfigError, PluginError) as exc:
        click.echo(f"kontor: error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
