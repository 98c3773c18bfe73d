"""Two small inline SVG charts, drawn on the server (no JavaScript library, no CDN).

* :func:`throughput_svg`: users/s over the time of one run, from its samples.
* :func:`durations_svg`: the duration of recent finished runs, one bar each, coloured by outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape

from web.runs.models import Run, RunSample

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 24, 28
COLOURS = {"succeeded": "#1e7d3a", "failed": "#b3261e", "cancelled": "#8a8f98", "running": "#2f6fde"}


def _frame(title: str, body: list[str], y_max: float, y_unit: str, x_label: str) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    ticks = []
    for i in range(5):
        value = y_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        ticks.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eceff3"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" font-family="system-ui, sans-serif" font-size="11" fill="#5b6475">'
        f'<title>{escape(title)}</title>'
        f'<text x="{LEFT}" y="14" font-size="12" fill="#1d2330">{escape(title)} ({escape(y_unit)})</text>'
        + "".join(ticks) + "".join(body)
        + f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">{escape(x_label)}</text></svg>'
    )


def _number(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:.0f}" if value >= 10 or value == 0 else f"{value:.1f}"


def throughput_svg(run: Run, samples: Sequence[RunSample]) -> str:
    """Users/s between consecutive samples of ``run``, against seconds since it started."""
    title = f"Run {run.pk} throughput"
    if run.started_at is None or len(samples) < 2:
        return _frame(title, [f'<text x="{LEFT + 8}" y="{HEIGHT / 2}">no samples yet</text>'], 1, "users/s", "")
    points = []
    for before, after in zip(samples, samples[1:], strict=False):
        seconds = (after.at - before.at).total_seconds()
        if seconds > 0:
            points.append(((after.at - run.started_at).total_seconds(), (after.users_done - before.users_done) / seconds))
    if not points:
        return _frame(title, [f'<text x="{LEFT + 8}" y="{HEIGHT / 2}">no samples yet</text>'], 1, "users/s", "")
    x_max = max(x for x, _ in points) or 1.0
    y_max = max(max(y for _, y in points), 1.0) * 1.1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    coords = " ".join(f"{LEFT + plot_w * x / x_max:.1f},{TOP + plot_h - plot_h * max(y, 0) / y_max:.1f}" for x, y in points)
    line = f'<polyline points="{coords}" fill="none" stroke="{COLOURS["running"]}" stroke-width="2"/>'
    return _frame(title, [line], y_max, "users/s", f"{x_max:.0f} s since start")


def durations_svg(runs: Sequence[Run]) -> str:
    """One bar per finished run (oldest left), its height the run's duration, its colour the outcome."""
    runs = [run for run in runs if run.duration is not None and run.finished_at is not None]
    title = "Duration of recent runs"
    if not runs:
        return _frame(title, [f'<text x="{LEFT + 8}" y="{HEIGHT / 2}">no finished runs yet</text>'], 1, "s", "")
    y_max = max(max(run.duration.total_seconds() for run in runs), 1.0) * 1.1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(runs)
    bars = []
    for i, run in enumerate(runs):
        seconds = run.duration.total_seconds()
        h = plot_h * seconds / y_max
        x = LEFT + i * step + step * 0.15
        colour = COLOURS.get(run.status, "#8a8f98")
        bars.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="{colour}">'
            f'<title>run {run.pk} {escape(run.algorithm)}: {run.status}, {seconds:.1f} s</title></rect>'
            f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{run.pk}</text>'
        )
    return _frame(title, bars, y_max, "s", "run")
