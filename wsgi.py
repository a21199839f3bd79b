"""WSGI entry point for gunicorn: ``gunicorn 'wsgi:app'``."""

import sys

from core.config import ConfigError
from core.contract.manager import PluginError

try:
    from core import create_app

    app = create_app()
except (ConfigError, PluginError) as exc:
    sys.stderr.write(f"kontor: error: {exc}\n")
    raise SystemExit(2) from None
