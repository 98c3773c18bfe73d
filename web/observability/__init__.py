"""What operators watch: Prometheus metrics (``/metrics``), per-request log lines with a request id, JSON logs.

Shared by the web app, the RQ worker and the precompute job; it imports no web
app. Series read from the apps' tables at scrape time are registered by the
apps themselves (``web/progress/metrics.py``) through
:func:`web.observability.metrics.register_scrape_collector`. See docs/operations.md.
"""
