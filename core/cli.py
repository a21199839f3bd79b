"""The ``kontor`` command line, a Flask CLI group on the app factory."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from core.app import create_app
from core.config import ConfigError
from core.db import bind
from core.migrations import migrate as run_migrations
from core.plugins import PluginError, plugin_infos

DEMO_EMAIL = "demo@kontor.example"


def _app_factory() -> Flask:
    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_app_factory,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
def cli() -> None:
    """Kontor: "Mein Konto" for the invoicing service."""


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

    from core.db import KontorSqliteDatabase

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
    from core.crypto import rotate

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


def _ensure_demo_account(app: Flask) -> str:
    from core import accounts
    from core.auth import hash_password
    from core.models import User

    password = secrets.token_urlsafe(12)
    with app.app_context(), bind(app).connection_context():
        user = User.get_or_none(User.email == DEMO_EMAIL)
        if user is None:
            accounts.register("Muster GmbH", "Erika", "Mustermann", DEMO_EMAIL, password)
        else:
            user.password_hash = hash_password(password)
            user.save(only=[User.password_hash])
    return password


def _local_defaults(host: str, port: int) -> None:
    """Plain http on this machine, unless the environment says otherwise."""
    os.environ.setdefault("KONTOR_COOKIE_SECURE", "false")
    shown = f"[{host}]" if ":" in host else host
    os.environ.setdefault("KONTOR_BASE_URL", f"http://{shown}:{port}")


def _serve(app: Flask, host: str, port: int, with_worker: bool) -> None:
    from werkzeug.serving import run_simple

    worker = None
    if with_worker:
        worker = subprocess.Popen([sys.executable, "-m", "core.cli", "worker", "--workers", "1"])
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=10)


@cli.command("demo", with_appcontext=False)  # builds its own app
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def demo_command(host: str, port: int) -> None:
    """Initialise if needed, create a demo account, and serve with a worker."""
    _local_defaults(host, port)
    app = create_app()
    apply_migrations(app)
    password = _ensure_demo_account(app)
    click.echo(f"Kontor demo on http://{host}:{port}/login")
    click.echo(f"  E-Mail-Adresse: {DEMO_EMAIL}")
    click.echo(f"  Passwort:       {password}")
    sys.stdout.flush()
    _serve(app, host, port, with_worker=True)


@cli.command("serve", with_appcontext=False)  # builds its own app
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve_command(host: str, port: int) -> None:
    """Serve with the development server (production: gunicorn 'wsgi:app')."""
    _local_defaults(host, port)
    _serve(create_app(), host, port, with_worker=False)


def main() -> None:
    """Entry point: configuration and plugin errors end in one clear line."""
    try:
        cli.main(prog_name="kontor")
    except (ConfigError, PluginError) as exc:
        click.echo(f"kontor: error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
