"""The optional monitoring overlay: prod's objects plus a well-formed ServiceMonitor, PodMonitor, PrometheusRule and dashboard.

kubernetes-validate has no schema for the Prometheus Operator's kinds, so
their shape is checked here: what they select exists in the rendered app,
the ports they name are the ones the pods serve /metrics on, and the rules
are complete. tests/observability/test_monitoring_series.py checks that the
rules and the dashboard name only series that /metrics really serves.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import shutil
import subprocess

import kubernetes_validate
import pytest
from django.test import RequestFactory

from tests.deploy.manifests import (
    KUBERNETES_VERSIONS,
    MONITORING_CRD_GROUP,
    MONITORING_KUSTOMIZATION,
    REPO,
    container,
    env_value,
    find_object,
    pod_template,
    render_kustomization,
    rendered,
)
from tests.deploy.promql import selectors
from web.observability.views import may_scrape

DASHBOARD = MONITORING_KUSTOMIZATION / "dashboard.json"
DURATION = re.compile(r"^\d+[smhd]$")
ALERTS = {  # issue #15: run stalled, no successful run for a day, refresh backlog growing, 5xx rate, readiness failing
    "MovielensPrecomputeRunStalled", "MovielensNoSuccessfulRunForADay", "MovielensRefreshBacklogGrowing",
    "MovielensHigh5xxRate", "MovielensReadinessFailing",
}


@functools.cache
def _monitoring() -> tuple[dict, ...]:
    return tuple(render_kustomization(MONITORING_KUSTOMIZATION))


def operator_objects() -> dict[str, dict]:
    return {obj["kind"]: obj for obj in _monitoring() if obj["apiVersion"].startswith(MONITORING_CRD_GROUP + "/")}


def built_in_objects() -> list[dict]:
    return [obj for obj in _monitoring() if not obj["apiVersion"].startswith(MONITORING_CRD_GROUP + "/")]


def _key(obj: dict) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def test_the_overlay_is_prod_plus_the_operator_objects_and_the_dashboard():
    """Nothing of prod changes; the additions are the three operator kinds and one ConfigMap."""
    prod = {_key(obj): obj for obj in rendered("prod")}
    built_in = {_key(obj): obj for obj in built_in_objects()}
    assert set(built_in) - set(prod) == {("ConfigMap", "movielens-grafana-dashboard")}
    assert all(built_in[key] == prod[key] for key in prod)
    assert set(operator_objects()) == {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    assert all(obj["apiVersion"] == f"{MONITORING_CRD_GROUP}/v1" for obj in operator_objects().values())
    assert all(obj["metadata"]["namespace"] == "movielens" for obj in _monitoring() if obj["kind"] != "Namespace")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_its_built_in_kinds_pass_the_strict_schema(version):
    """The dashboard ConfigMap (and prod's objects) validate strictly, like every other rendering."""
    for document in built_in_objects():
        kubernetes_validate.validate(document, version, strict=True)


def test_the_service_monitor_scrapes_webs_metrics_port():
    """It selects the web Service by its labels, on the Service's named port whose target serves /metrics."""
    monitor = operator_objects()["ServiceMonitor"]
    service = find_object(rendered("prod"), "Service", "web")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert set(monitor["spec"]) == {"selector", "endpoints"}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert set(endpoint) <= {"port", "path", "scheme", "interval", "scrapeTimeout"}
    port = next(p for p in service["spec"]["ports"] if p["name"] == endpoint["port"])
    web = container(pod_template(find_object(rendered("prod"), "Deployment", "web"))["spec"], "web")
    assert port["targetPort"] in {p["name"] for p in web["ports"]}
    assert endpoint["path"] == "/metrics" and endpoint["scheme"] == "http"
    assert DURATION.match(endpoint["interval"]) and DURATION.match(endpoint["scrapeTimeout"])


def test_the_pod_monitor_scrapes_the_workers_own_port():
    """It selects the worker's pods, on the named port the worker serves its metrics on (WORKER_METRICS_PORT)."""
    monitor = operator_objects()["PodMonitor"]
    template = pod_template(find_object(rendered("prod"), "Deployment", "worker"))
    assert monitor["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout"}
    worker = container(template["spec"], "worker")
    (port,) = [p for p in worker["ports"] if p["name"] == endpoint["port"]]
    assert env_value(worker, "WORKER_METRICS_PORT")["value"] == str(port["containerPort"])
    assert endpoint["path"] == "/metrics" and DURATION.match(endpoint["interval"])


@pytest.mark.parametrize(("deployment", "name"), [("web", "web"), ("worker", "worker")])
def test_pods_carry_scrape_annotations_that_match_their_ports(deployment, name):
    """prometheus.io/scrape, /port and /path on the pod templates of the base, naming a port the container declares."""
    for overlay in ("prod", "dev"):
        template = pod_template(find_object(rendered(overlay), "Deployment", deployment))
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
        ports = {str(p["containerPort"]) for p in container(template["spec"], name)["ports"]}
        assert annotations["prometheus.io/port"] in ports


def test_prod_lets_only_the_monitoring_namespace_reach_the_metrics_ports():
    """A NetworkPolicy admits namespace `monitoring` to web's 8000 and the worker's metrics port, and nothing else to 9100."""
    policies = [obj for obj in rendered("prod") if obj["kind"] == "NetworkPolicy"]
    reach = []
    for policy in policies:
        selector = policy["spec"]["podSelector"]
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                namespace = peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                reach += [(namespace, json.dumps(selector, sort_keys=True), p["port"]) for p in rule.get("ports", [])]
    monitoring = [(selector, port) for namespace, selector, port in reach if namespace == "monitoring"]
    assert {port for _, port in monitoring} == {8000, 9100}
    assert all('"web"' in selector and '"worker"' in selector for selector, _ in monitoring)
    assert {namespace for namespace, _, port in reach if port == 9100} == {"monitoring"}


@pytest.mark.parametrize(("peer", "admitted"), [("127.0.0.1", True), ("::1", True), ("10.244.3.7", True), ("203.0.113.9", False)])
def test_prods_metrics_networks_admit_the_monitoring_pods_and_a_port_forward(settings, peer, admitted):
    """Prod's METRICS_NETWORKS, as the app reads them: Prometheus's pods, and docs/operations.md's scrape by hand
    (``kubectl port-forward``, whose requests reach the pod from loopback); nobody outside the cluster."""
    networks = find_object(rendered("prod"), "ConfigMap", "movielens-config")["data"]["METRICS_NETWORKS"]
    settings.METRICS_NETWORKS = tuple(ipaddress.ip_network(part.strip(), strict=False) for part in networks.split(","))
    settings.METRICS_TOKEN = ""
    assert may_scrape(RequestFactory().get("/metrics", REMOTE_ADDR=peer)) is admitted


def test_the_rules_are_complete_alerts():
    """Each rule is an alert with an expression on the app's series, a duration, a severity and a summary; all five asked for exist."""
    groups = operator_objects()["PrometheusRule"]["spec"]["groups"]
    alerts = [rule for group in groups for rule in group["rules"]]
    names = [rule["alert"] for rule in alerts]
    assert len(names) == len(set(names)) and ALERTS <= set(names)
    for rule in alerts:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert selectors(rule["expr"]), f"{rule['alert']} names no series of the app"
        assert DURATION.match(rule["for"]) and rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


def test_the_dashboard_is_the_overlays_configmap_and_every_panel_queries_the_app():
    """The ConfigMap carries dashboard.json as it is, labelled for Grafana's sidecar; each panel has a query on the app's series."""
    configmap = find_object(built_in_objects(), "ConfigMap", "movielens-grafana-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["data"]["movielens.json"] == DASHBOARD.read_text()
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(selectors(target["expr"]) for target in panel["targets"]), panel["title"]


def test_check_k8s_renders_and_checks_the_monitoring_overlay():
    """make check-k8s renders the overlay, so kubernetes-validate and Checkov see its built-in kinds."""
    result = subprocess.run([shutil.which("make"), "-n", "check-k8s"], capture_output=True, text=True, check=False, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert str(MONITORING_KUSTOMIZATION.relative_to(REPO)) in result.stdout


def _log_formats(objects: list[dict]) -> dict[tuple[str, str], str]:
    """The LOG_FORMAT each container of the app's workloads runs with: its own env entry, else its ConfigMap's, else
    the settings' default (``plain``)."""
    config = {(obj["metadata"]["name"]): obj.get("data", {}) for obj in objects if obj["kind"] == "ConfigMap"}
    formats = {}
    for obj in objects:
        template = pod_template(obj)
        if template is None:
            continue
        for item in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            entry = env_value(item, "LOG_FORMAT")
            from_maps = [config.get(source["configMapRef"]["name"], {}).get("LOG_FORMAT")
                         for source in item.get("envFrom", []) if "configMapRef" in source]
            chosen = entry["value"] if entry else next((value for value in from_maps if value), "plain")
            formats[(obj["metadata"]["name"], item["name"])] = chosen
    return formats


def test_prod_logs_json_lines_from_every_process_and_dev_plain_ones():
    """What a log collector reads in production (docs/operations.md, "Logs"): the web server, its migrations, the worker
    and the precompute job all log JSON; `skaffold dev` keeps the plain lines a person reads in its output."""
    prod, dev = _log_formats(rendered("prod")), _log_formats(rendered("dev"))
    workloads = {"web", "worker", "precompute"}

    assert workloads <= {name for name, _ in prod} and workloads <= {name for name, _ in dev}
    assert set(prod.values()) == {"json"}, prod
    assert set(dev.values()) == {"plain"}, dev
