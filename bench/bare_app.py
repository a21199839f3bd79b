"""The baseline for the HTTP and request-cost benchmarks: a bare Flask app serving
the same HTML from static template files (no database, no plugins, no session).

Under gunicorn (``bench.bare_app:app``) the pages come from ``BARE_PAGES``.
"""

import os
from pathlib import Path

from flask import Flask, render_template


def page_file(page: str) -> str:
    """The template file that holds the HTML of the settings page at ``page``."""
    return page.strip("/").replace("/", "_") + ".html"


def make_app(pages: Path) -> Flask:
    """A bare app serving each page from its file in ``pages``."""
    app = Flask(__name__, template_folder=str(pages))

    @app.get("/<path:name>")
    def page(name: str) -> str:
        return render_template(page_file(name))

    return app


app = make_app(Path(os.environ.get("BARE_PAGES", ".")))
