"""gunicorn settings for Kontor: ``gunicorn -c gunicorn.conf.py 'wsgi:app'``.

Safe with ``--preload``: creating the app opens no database or queue
connection, so nothing is shared between forked workers. Reload gracefully
with ``kill -HUP <master pid>`` (new workers start, old ones finish their
requests) after ``kontor migrate``.
"""

import multiprocessing
import os

bind = os.environ.get("KONTOR_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("KONTOR_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# Web requests never wait for mail servers (that is the queue worker's job), so a
# request that takes longer than this is stuck and gets replaced.
timeout = 30
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests, a guard against slow leaks.
# Memory stays flat (bench/memory_load.py), and starting a worker costs about
# a second of CPU, so this is rare rather than every few seconds under load.
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
# Only the proxies named here may set X-Forwarded-*; Kontor itself trusts
# KONTOR_PROXY_COUNT hops.
forwarded_allow_ips = os.environ.get("KONTOR_FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Refuse several workers when each would keep its own rate-limit counts.

    With ``memory://`` every worker counts for itself, so N workers would
    allow N times the login limit. The default storage (a SQLite file in the
    instance folder) and ``redis://`` are shared.
    """
    storage = os.environ.get("KONTOR_RATELIMIT_STORAGE_URL", "")
    if server.cfg.workers > 1 and storage.startswith("memory:"):
        raise SystemExit(
            "kontor: error: KONTOR_RATELIMIT_STORAGE_URL: memory:// counts per worker; "
            f"with {server.cfg.workers} workers use the default (a file in the instance "
            "folder) or redis://"
        )
