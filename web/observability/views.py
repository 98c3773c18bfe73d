"""``GET /metrics``: the Prometheus exposition, for the cluster's monitoring only.

Who may read it (docs/operations.md, "Who may scrape"):

* a request with ``Authorization: Bearer <METRICS_TOKEN>``, when that
  setting is set, from anywhere;
* otherwise a peer whose own address (the TCP peer, never a forwarded one)
  is in ``METRICS_NETWORKS`` (default: loopback only), provided the request
  did not come through a proxy: a request that carries ``X-Forwarded-For``,
  ``Forwarded`` or ``X-Real-IP`` came in through the ingress, from outside.

Anyone else gets a bare 403; the series name routes, run ids and queue
sizes, which are nobody's business outside the cluster.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from web import dbdeadline
from web.observability.metrics import exposition

PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
SCRAPE_DATABASE_SECONDS = 4.0
"""How long one scrape waits on PostgreSQL in all. With the queue's Redis reads (at most 1 s to connect, 2 s to
answer: web/observability/collectors.py) a stalled database and Redis together still leave the answer well inside the
ServiceMonitor's scrapeTimeout (10 s): Prometheus gets the process's series and ``*_scrape_ok 0``, not a failed scrape."""
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def has_token(request: HttpRequest) -> bool:
    """The request carries ``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time)."""
    expected = settings.METRICS_TOKEN
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), expected.encode())


def from_allowed_network(request: HttpRequest) -> bool:
    """The TCP peer is in ``METRICS_NETWORKS`` (loopback when unset) and nothing forwarded the request."""
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in network for network in (settings.METRICS_NETWORKS or LOOPBACK))


def may_scrape(request: HttpRequest) -> bool:
    return has_token(request) or from_allowed_network(request)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Every series of docs/operations.md, or 403 to anyone outside the cluster's monitoring."""
    if not may_scrape(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    with dbdeadline.deadline(SCRAPE_DATABASE_SECONDS):
        body = exposition()
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
