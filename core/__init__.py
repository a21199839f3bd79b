"""Kontor core: the app factory and the hook marker for plugins."""

from core.app import create_app
from core.hookspecs import hookimpl

__all__ = ["create_app", "hookimpl"]
