"""The alert rules and the dashboard name only series, labels and label values that the app really serves.

The app is made to produce every series once (a request of each kind, a
refresh that succeeds and one that fails, a running and a succeeded run);
then web's /metrics and the worker's metrics port are scraped, as
Prometheus would, and every selector of every rule and panel must find a
sample there.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta

import yaml
from django.utils import timezone

from tests.deploy.manifests import MONITORING_KUSTOMIZATION
from tests.deploy.promql import Selector, selectors
from tests.observability.conftest import samples
from web.observability.worker import MeasuredWorker
from web.runs.models import Run, RunSample, RunStatus, Stage
from web.queue import get_queue, new_redis_client
from web.recommender.tasks import refresh_user


def _expressions() -> list[tuple[str, str]]:
    rule = yaml.safe_load((MONITORING_KUSTOMIZATION / "prometheus-rule.yaml").read_text())
    found = [(r["alert"], r["expr"]) for group in rule["spec"]["groups"] for r in group["rules"]]
    dashboard = json.loads((MONITORING_KUSTOMIZATION / "dashboard.json").read_text())
    found += [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]
    return found


def _matches(selector: Selector, labels: dict[str, str]) -> bool:
    for label, operator, value in selector.matchers:
        if label not in labels:
            return False
        if operator == "=" and labels[label] != value:
            return False
    return True


def test_every_series_the_rules_and_dashboard_query_is_served(client, settings, catalogue, free_tcp_port):
    """Each selector of the PrometheusRule and of dashboard.json finds a sample with its labels (and = values) in a scrape."""
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.WORKER_METRICS_PORT = free_tcp_port
    now = timezone.now()
    Run.objects.create(algorithm="popularity", status=RunStatus.SUCCEEDED, stage=Stage.DONE, finished_at=now,
                       metrics={"seconds": {"load": 1.0}}).activate()
    running = Run.objects.create(algorithm="itemknn", status=RunStatus.RUNNING, stage=Stage.COMPUTE, users_total=30,
                                 users_done=10, started_at=now - timedelta(seconds=20), heartbeat_at=now)
    RunSample.objects.bulk_create([RunSample(run=running, at=now - timedelta(seconds=s), stage=Stage.COMPUTE,
                                             users_done=10 - s, rows_written=0) for s in (10, 0)])
    queue = get_queue(new_redis_client())
    queue.enqueue(refresh_user, 101)
    queue.enqueue(refresh_user, "not a user id")  # fails: the failed series exist too
    MeasuredWorker([queue], connection=queue.connection).work(burst=True)
    queue.enqueue(refresh_user, 102)  # left waiting: the oldest job's age
    for path in ("/api/movies/10", "/readyz", "/healthz"):
        client.get(path)

    web = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    worker = urllib.request.urlopen(f"http://127.0.0.1:{free_tcp_port}/metrics", timeout=5).read().decode()
    served = [(name, dict(labels)) for name, labels in samples(web)] + [(name, dict(labels)) for name, labels in samples(worker)]

    expressions = _expressions()
    assert len(expressions) >= 20
    missing = []
    for where, expr in expressions:
        for selector in selectors(expr):
            if not any(name == selector.name and _matches(selector, labels) for name, labels in served):
                missing.append(f"{where}: {selector}")
    assert not missing, "not served:\n" + "\n".join(missing)
