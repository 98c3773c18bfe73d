"""The inline SVG charts: throughput of one run and durations across runs."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone

from web.runs.models import Run, RunSample, RunStatus, Stage

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


def test_throughput_chart_draws_one_point_per_sample_interval(operator_client):
    """/progress/runs/<id>/throughput.svg is well-formed SVG with a line through every interval between samples."""
    start = timezone.now() - timedelta(seconds=30)
    run = Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE, started_at=start)
    RunSample.objects.bulk_create(
        RunSample(run=run, at=start + timedelta(seconds=s), stage=Stage.COMPUTE, users_done=u, rows_written=u * 10)
        for s, u in [(1, 0), (2, 50), (3, 150), (4, 200)]
    )
    response = operator_client.get(f"/progress/runs/{run.pk}/throughput.svg")
    assert response["Content-Type"] == "image/svg+xml"
    svg = ET.fromstring(response.content)
    points = svg.find(f"{SVG}polyline").get("points").split()
    assert len(points) == 3
    assert "Run %d throughput" % run.pk in svg.find(f"{SVG}title").text


def test_durations_chart_has_a_bar_per_finished_run_coloured_by_outcome(operator_client):
    """/progress/durations.svg has one bar per finished run, green for succeeded and red for failed."""
    now = timezone.now()
    ok = Run.objects.create(algorithm="popularity", status=RunStatus.SUCCEEDED, started_at=now - timedelta(seconds=40),
                            finished_at=now - timedelta(seconds=10))
    bad = Run.objects.create(algorithm="<script>", status=RunStatus.FAILED, started_at=now - timedelta(seconds=9),
                             finished_at=now - timedelta(seconds=4))
    Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING, started_at=now)
    svg = ET.fromstring(operator_client.get("/progress/durations.svg").content)
    bars = svg.findall(f"{SVG}rect")
    assert [bar.find(f"{SVG}title").text.split(":")[0] for bar in bars] == [f"run {ok.pk} popularity", f"run {bad.pk} <script>"]
    assert [bar.get("fill") for bar in bars] == ["#1e7d3a", "#b3261e"]
    assert float(bars[0].get("height")) > 5 * float(bars[1].get("height"))
