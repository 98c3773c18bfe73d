"""Fixtures of the observability tests: reading /metrics as Prometheus does."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by (name, sorted labels), parsed with the Prometheus client's own parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def scrape(client, settings):
    """GET /metrics from loopback (the test client's address) and return its text."""
    settings.ALLOWED_HOSTS = ["testserver"]

    def get() -> str:
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
        assert response.status_code == 200, response.content[:300]
        return response.content.decode()

    return get
