"""Start a pending run as a Kubernetes Job, from inside the web pod, the way ``kubectl create job --from=cronjob/precompute`` does.

Two API calls, with the pod's own service-account credentials and nothing
else (no client library: two JSON requests do not justify one):

1. :data:`GET_CRONJOB`: read the CronJob ``precompute`` (the template).
2. :data:`CREATE_JOB`: create a Job from its ``spec.jobTemplate``: the same
   labels, annotations plus ``cronjob.kubernetes.io/instantiate: manual``,
   an owner reference to the CronJob (so deleting the CronJob deletes its
   Jobs), and the same spec, except that the precompute container's
   result-determining options (``--algorithm``, ``--param``, ``--top-n``,
   ``--popular``) become the page's run's, and the form's ``--chunk-size``/
   ``--workers`` are appended.

The Job's pods pick the run by name: the template gives each pod
``PRECOMPUTE_RUN_NAME`` = the Job's name, and the page's pending run is
recorded under that name (``Run.metrics["run_name"]``) before the Job is
created, so the first shard claims it and the others (and retries) join it
(``Run.objects.start`` in :mod:`web.runs.models`). ``--run-id`` is not used: the
job refuses it together with a run name, and a retried shard could not
resume a run by id.

:data:`API_CALLS` is the complete list of what this module asks the API
server (this module's launch and :mod:`web.progress.cluster_status`'s reads);
k8s/app/rbac.yaml grants exactly that (tests/progress checks both).
"""

from __future__ import annotations

import copy
import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web.runs.spec import JOB_MODULE, JOB_PARAMETERS, RUN_NAME_ENV

CRONJOB_NAME = "precompute"
"""The CronJob every run is made from (k8s/job/precompute-cronjob.yaml; ``make k8s-precompute`` uses it too)."""
INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"
JOB_NAME_FIELD = "metadata.labels['batch.kubernetes.io/job-name']"
SHARDS_ENV = "JOB_COMPLETIONS"
RESULT_OPTIONS = ("--algorithm", "--param", "--top-n", "--popular")
"""Options of ``python -m jobs.precompute`` that decide the result: the page's run supplies them."""
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ApiCall:
    """One kind of request this module makes, in RBAC's terms (verb, API group, resource, name)."""

    verb: str
    group: str
    version: str
    resource: str
    name: str | None = None

    @property
    def method(self) -> str:
        return {"get": "GET", "list": "GET", "create": "POST"}[self.verb]

    def path(self, namespace: str, name: str | None = None) -> str:
        """The request path; ``name`` is the object's for a ``get`` the Role grants on any name."""
        api = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"  # "" = the core group
        path = f"{api}/namespaces/{namespace}/{self.resource}"
        name = self.name or name
        return f"{path}/{name}" if name else path

    def describe(self, namespace: str) -> str:
        target = f"{self.resource}/{self.name}" if self.name else self.resource
        return f"{self.verb} {self.group}/{target} in namespace {namespace!r}"


GET_CRONJOB = ApiCall("get", "batch", "v1", "cronjobs", CRONJOB_NAME)
CREATE_JOB = ApiCall("create", "batch", "v1", "jobs")
GET_JOB = ApiCall("get", "batch", "v1", "jobs")
LIST_PODS = ApiCall("list", "", "v1", "pods")
LIST_EVENTS = ApiCall("list", "", "v1", "events")
API_CALLS = (GET_CRONJOB, CREATE_JOB, GET_JOB, LIST_PODS, LIST_EVENTS)
"""Every call the web app makes (the last three read why a launched run has not started, web.progress.cluster_status);
the Role precompute-launcher must grant these and nothing more."""


class KubernetesError(Exception):
    """The Job could not be created; the message tells the operator why and what to do."""


@dataclass(frozen=True)
class InClusterApi:
    """The API server as a pod sees it: its address from the environment, credentials from the mounted files."""

    base_url: str
    credentials: Path
    namespace: str
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_pod(cls, credentials: Path, environ: dict[str, str] | None = None) -> InClusterApi:
        """The API of the cluster this pod runs in; KubernetesError if this is not a pod with a service-account token."""
        environ = os.environ if environ is None else environ
        host, port = environ.get("KUBERNETES_SERVICE_HOST", ""), environ.get("KUBERNETES_SERVICE_PORT", "")
        if not host or not port:
            raise KubernetesError(
                "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set: the web app is not running in a "
                "Kubernetes pod, so PRECOMPUTE_LAUNCHER=kubernetes cannot start a Job (use `rq` outside a cluster)"
            )
        missing = [name for name in ("token", "ca.crt", "namespace") if not (credentials / name).is_file()]
        if missing:
            raise KubernetesError(
                f"no service-account credentials in {credentials} (missing {', '.join(missing)}): the web container "
                "needs the kube-api-access volume and serviceAccountName: web (k8s/app/web-deployment.yaml)"
            )
        namespace = (credentials / "namespace").read_text(encoding="utf-8").strip()
        host = f"[{host}]" if ":" in host else host  # an IPv6 service address
        return cls(base_url=f"https://{host}:{port}", credentials=credentials, namespace=namespace)

    def call(self, call: ApiCall, body: dict[str, Any] | None = None, *, name: str | None = None,
             query: dict[str, str] | None = None) -> dict[str, Any]:
        """Make ``call`` in this pod's namespace (on object ``name``, with ``query`` parameters such as a
        labelSelector); the decoded answer, or KubernetesError saying what went wrong."""
        try:
            # The token is projected and renewed by the kubelet: read it for every request, never cache it.
            token = (self.credentials / "token").read_text(encoding="utf-8").strip()
            context = ssl.create_default_context(cafile=str(self.credentials / "ca.crt"))
        except OSError as exc:  # ssl.SSLError too: a ca.crt that holds no certificate
            raise KubernetesError(f"cannot read the service-account credentials in {self.credentials}: {exc}") from exc
        request = urllib.request.Request(
            self.base_url + call.path(self.namespace, name) + (f"?{urllib.parse.urlencode(query)}" if query else ""),
            method=call.method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                     **({} if body is None else {"Content-Type": "application/json"})},
        )
        # No proxy: the API server is the cluster's own service, whatever HTTPS_PROXY says.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
        try:
            with opener.open(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise KubernetesError(self._explain(call, exc.code, _status_message(exc))) from exc
        except ValueError as exc:  # a 2xx answer that is not JSON: not an API server
            raise KubernetesError(f"{self.base_url} answered {call.describe(self.namespace)} with no JSON: {exc}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise KubernetesError(
                f"cannot reach the Kubernetes API at {self.base_url} to {call.describe(self.namespace)}: {reason}"
            ) from exc

    def _explain(self, call: ApiCall, code: int, message: str) -> str:
        what = call.describe(self.namespace)
        said = f" (API server: {message})" if message else ""
        if code == 401:
            return f"the API server refused the web pod's service-account token (401) to {what}{said}"
        if code == 403:
            return (f"forbidden (403) to {what}: the ServiceAccount web lacks the Role precompute-launcher; "
                    f"deploy k8s/app/rbac.yaml with `make k8s-run` or `make k8s-dev`{said}")
        if code == 404 and call is GET_CRONJOB:
            return (f"the CronJob {CRONJOB_NAME!r} does not exist in namespace {self.namespace!r} (404): "
                    f"deploy it with `make k8s-job`{said}")
        if code == 409:
            return f"a Job of that name already exists (409) in namespace {self.namespace!r}{said}"
        return f"the API server answered {code} to {what}{said}"


def _status_message(error: urllib.error.HTTPError) -> str:
    """The ``message`` of the API server's Status body, else the first line of whatever it sent."""
    try:
        raw = error.read().decode("utf-8", "replace")
    except OSError:
        return ""
    try:
        return str(json.loads(raw).get("message", "")) or raw.strip()[:300]
    except (ValueError, AttributeError):
        return raw.strip().splitlines()[0][:300] if raw.strip() else ""


# -- the Job ------------------------------------------------------------------
def job_from_cronjob(cronjob: dict[str, Any], name: str) -> dict[str, Any]:
    """The Job ``kubectl create job NAME --from=cronjob/...`` makes from ``cronjob`` (as the API server returned it)."""
    template = cronjob["spec"]["jobTemplate"]
    template_meta = template.get("metadata") or {}
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": cronjob["metadata"]["namespace"],
        "annotations": {INSTANTIATE_ANNOTATION: "manual", **(template_meta.get("annotations") or {})},
        # Like kubectl: controller but no blockOwnerDeletion, which would need update on cronjobs/finalizers.
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": cronjob["metadata"]["name"],
                             "uid": cronjob["metadata"]["uid"], "controller": True}],
    }
    if template_meta.get("labels"):
        metadata["labels"] = dict(template_meta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": copy.deepcopy(template["spec"])}


def job_container(job: dict[str, Any]) -> dict[str, Any]:
    """The container that runs ``python -m jobs.precompute``; KubernetesError if the template has none."""
    for container in job["spec"]["template"]["spec"].get("containers", []):
        if JOB_MODULE in container.get("command", []) + container.get("args", []):
            return container
    raise KubernetesError(f"the CronJob {CRONJOB_NAME!r} has no container running `python -m {JOB_MODULE}`")


def run_arguments(algorithm: str, parameters: dict[str, Any]) -> list[str]:
    """The job's options that reproduce a run's recorded algorithm and parameters (what ``record_spec`` compares)."""
    argv = ["--algorithm", algorithm]
    for key in JOB_PARAMETERS:
        if key in parameters:
            argv += [f"--{key.replace('_', '-')}", str(parameters[key])]
    for key, value in sorted(parameters.items()):
        if key not in JOB_PARAMETERS:
            argv += ["--param", f"{key}={json.dumps(value)}"]
    return argv


def without_result_options(args: list[str]) -> list[str]:
    """``args`` minus the options the run supplies (``--top-n 100`` and ``--top-n=100`` forms)."""
    kept, skip = [], False
    for word in args:
        if skip:
            skip = False
        elif word in RESULT_OPTIONS:
            skip = True
        elif not word.startswith(tuple(f"{option}=" for option in RESULT_OPTIONS)):
            kept.append(word)
    return kept


def shards_of(container: dict[str, Any]) -> int:
    """How many shards the job's pods will run as: the value of ``JOB_COMPLETIONS`` (1 if absent)."""
    entry = next((e for e in container.get("env", []) if e["name"] == SHARDS_ENV), None)
    if entry is None:
        return 1
    try:
        return int(entry["value"])
    except (KeyError, ValueError) as exc:
        raise KubernetesError(f"the CronJob's {SHARDS_ENV} must be a literal number; got {entry}") from exc


def job_for_run(cronjob: dict[str, Any], name: str, algorithm: str, parameters: dict[str, Any],
                extra_args: list[str], shards: int | None = None) -> dict[str, Any]:
    """The Job for one page-started run: the CronJob's Job, its container given the run's options.

    ``shards`` replaces the template's number of pods, as ``make k8s-precompute SHARDS=N`` does:
    completions, parallelism (all at once) and ``JOB_COMPLETIONS``, which the pods shard by.
    """
    job = job_from_cronjob(cronjob, name)
    container = job_container(job)
    if shards is not None:
        job["spec"]["completions"] = job["spec"]["parallelism"] = shards
        _set_env(container, {"name": SHARDS_ENV, "value": str(shards)})
    container["args"] = without_result_options(container.get("args", [])) + run_arguments(algorithm, parameters) + list(extra_args)
    # The template passes the Job's name through the downward API (the pod label job-name); anything
    # else would not name the page's run, so it is replaced by the literal name.
    current = next((entry for entry in container.get("env", []) if entry["name"] == RUN_NAME_ENV), {})
    if current.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != JOB_NAME_FIELD:
        _set_env(container, {"name": RUN_NAME_ENV, "value": name})
    return job


def _set_env(container: dict[str, Any], entry: dict[str, Any]) -> None:
    """Replace the container's variable of that name in place (its position matters for $(VAR)), or append it."""
    env = container.setdefault("env", [])
    position = next((i for i, current in enumerate(env) if current["name"] == entry["name"]), None)
    if position is None:
        env.append(entry)
    else:
        env[position] = entry


def job_name(run_id: int) -> str:
    """``precompute-run-<id>-<epoch>``: unique even if an old Job of a since-reset database still exists."""
    return f"{CRONJOB_NAME}-run-{run_id}-{int(time.time())}"
