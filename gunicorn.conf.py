"""gunicorn settings, each overridable by environment.

gthread workers: the DB layer is synchronous and the executor waits on threads, so threads per
worker are the concurrency; the pool has one connection per executor thread.
"""
import os

bind = os.environ.get("TABLEGATE_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("TABLEGATE_WORKERS", "2"))
threads = int(os.environ.get("TABLEGATE_THREADS", "8"))
# Well above the retry schedule's worst case (1.6 + 0.8 + 0.4 + 0.2 s of attempts plus
# 0.4 + 0.8 + 1.6 s of waits = 5.8 s), so gunicorn never kills a worker mid-schedule.
timeout = int(os.environ.get("TABLEGATE_WORKER_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Slow clients: cap header size and count so that a trickling request cannot hold a thread.
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-"
errorlog = "-"
