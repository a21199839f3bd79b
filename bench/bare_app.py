"""The baseline for bench/web_pages.py: a bare Flask app serving the same HTML from
static template files (no database, no plugins, no session)."""

import os
from pathlib import Path

from flask import Flask, render_template

PAGES = Path(os.environ["BARE_PAGES"])
app = Flask(__name__, template_folder=str(PAGES))


@app.get("/<path:name>")
def page(name: str) -> str:
    return render_template(name.strip("/").replace("/", "_") + ".html")
