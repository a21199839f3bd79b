"""A real local HTTP server that records requests (an SMS gateway stand-in)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Sink:
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # next answers; 200 when empty
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/sms"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_sink() -> Sink:
    sink = Sink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            sink.requests.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
            )
            status = sink.statuses.pop(0) if sink.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: Any) -> None:
            return None

    sink.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=sink.server.serve_forever, daemon=True).start()
    return sink
