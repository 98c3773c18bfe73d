"""A client generated from /api/schema/ by openapi-python-client calls every read; the public ones need no credentials.

Issue #19, item 12: the document said a MovieLens user's recommendations and ratings needed credentials,
so the generated call insisted on an authenticated client for a public read. The generated client talks
to the app in this process (httpx's WSGI transport), so the test needs no server.

openapi-python-client 0.29.1 still annotates ``client: AuthenticatedClient`` on any operation whose
``security`` is non-empty, ``[{}]`` included (its ``requires_security = bool(data.security)``), so the
calls below pass a plain ``Client``, which Python accepts and the server answers: the document is
what says the read is public (docs/api.md).
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.wsgi import get_wsgi_application

from web.recommender.models import Rating

USER = 101
PUBLIC_READS = {
    "/api/users/{user_id}/recommendations", "/api/users/{user_id}/ratings", "/api/users/{user_id}/ratings/{movie_id}",
    "/api/users/{user_id}/watchlist", "/api/movies", "/api/movies/{movie_id}", "/api/movies/{movie_id}/similar",
}
"""The reads anyone may make (docs/api.md, "Who may do what"); the runs are the operators'."""


def _generate(spec: dict, where: Path):
    """The package openapi-python-client makes from ``spec``, imported (no formatting hooks: nothing to install)."""
    (where / "openapi.json").write_text(json.dumps(spec))
    (where / "config.yaml").write_text("package_name_override: movielens_client\npost_hooks: []\n")
    command = [str(Path(sys.executable).with_name("openapi-python-client")), "generate", "--path", "openapi.json",
               "--config", "config.yaml", "--meta", "none", "--output-path", "movielens_client"]
    done = subprocess.run(command, cwd=where, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout  # every operation and schema became code
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module("movielens_client")
    finally:
        sys.path.remove(str(where))


@pytest.fixture
def spec(client, db):
    return client.get("/api/schema/?format=json").json()


def test_the_document_marks_exactly_the_public_reads_as_needing_no_credentials(spec):
    """An empty security requirement sits beside the schemes on each public read, and on no write or operators' read."""
    public = {path for path, operations in spec["paths"].items()
              for method, operation in operations.items() if {} in operation.get("security", [])
              and method == "get"}
    assert public == PUBLIC_READS
    writes = [(path, method) for path, operations in spec["paths"].items() for method, operation in operations.items()
              if method in ("post", "put", "delete") and {} in operation.get("security", [])]
    assert writes == []
    ratings = spec["paths"]["/api/users/{user_id}/ratings"]
    assert {"tokenAuth": []} in ratings["get"]["security"] and {"tokenAuth": []} in ratings["post"]["security"]


def test_a_generated_client_calls_every_read_without_credentials(spec, published, tmp_path, monkeypatch):
    """Every GET of the document, called through the generated code by an anonymous client: the public reads answer
    200 with a parsed body, the operators' runs a parsed 403 error."""
    monkeypatch.delitem(sys.modules, "movielens_client", raising=False)
    package = _generate(spec, tmp_path)
    api = importlib.import_module("movielens_client.api")
    client = package.Client(base_url="http://testserver",
                            httpx_args={"transport": httpx.WSGITransport(app=get_wsgi_application())})
    values = {"user_id": USER, "movie_id": Rating.objects.filter(user_id=USER).values_list("movie_id", flat=True).first(),
              "run_id": published.pk}
    called = {}
    for module_info in pkgutil.walk_packages(api.__path__, "movielens_client.api."):
        module = importlib.import_module(module_info.name)
        if not hasattr(module, "sync_detailed"):
            continue
        kwargs = inspect.signature(module._get_kwargs).parameters
        if kwargs.get("body") is not None or "body" in kwargs:
            continue  # a write
        arguments = {name: values[name] for name, p in kwargs.items() if p.default is inspect.Parameter.empty}
        request = module._get_kwargs(**arguments)
        if request["method"].lower() != "get":
            continue
        response = module.sync_detailed(client=client, **arguments)
        called[request["url"]] = response.status_code
        if request["url"].startswith("/api/runs"):
            assert response.status_code == 403 and response.parsed is not None, request["url"]
        else:
            assert response.status_code == 200 and response.parsed is not None, (request["url"], response.content[:300])
    public = {url for url in called if not url.startswith("/api/runs")}
    assert len(public) == len(PUBLIC_READS) and any(url.startswith("/api/runs") for url in called), called
