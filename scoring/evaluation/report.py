"""Mean ± spread over seeds, and the plain-text/Markdown tables of ``manage.py evaluate`` and the benchmark."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np



def columns(k: int = 10) -> list[tuple[str, str]]:
    """(result key, column heading) of the tables for lists of length ``k``, in order."""
    return [
        (f"precision@{k}", f"P@{k}"),
        (f"recall@{k}", f"R@{k}"),
        (f"ndcg@{k}", f"nDCG@{k}"),
        (f"map@{k}", f"MAP@{k}"),
        (f"coverage@{k}", "coverage"),
        (f"precision@{k}_liked", f"P@{k} ≥4"),
        (f"ndcg@{k}_liked", f"nDCG@{k} ≥4"),
        ("rmse", "RMSE"),
        ("mae", "MAE"),
        ("fit_seconds", "fit s"),
    ]


def beyond_columns(k: int = 10) -> list[tuple[str, str]]:
    """(result key, heading) of the beyond-accuracy table."""
    return [
        (f"ndcg@{k}", f"nDCG@{k}"),
        (f"coverage@{k}", "coverage"),
        (f"long_tail@{k}", "long-tail share"),
        (f"diversity@{k}", "genre diversity"),
        (f"novelty@{k}", "novelty, bits"),
    ]


def cold_columns(k: int = 10, page: int = 20) -> list[tuple[str, str]]:
    """(result key, heading) of the cold-item table."""
    return [(f"cold_ndcg@{k}", f"nDCG@{k} among the new movies"), (f"cold_recall@{k}", f"recall@{k} among them"),
            (f"cold_share@{k}", f"share of new movies in the top-{k}"),
            (f"cold_share@{page}", f"in the first {page} (a page)")]


def summarise(results: Iterable[dict[str, Any]], k: int = 10) -> list[dict[str, Any]]:
    """Group per-seed results by (protocol, algorithm); per metric the mean, the sample std and the seed count."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["protocol"], result["algorithm"]), []).append(result)
    rows = []
    for (protocol, algorithm), runs in groups.items():
        row: dict[str, Any] = {"protocol": protocol, "algorithm": algorithm, "seeds": len(runs),
                               "params": runs[0].get("params", {})}
        keys = dict.fromkeys(key for key, _ in (*columns(k), *beyond_columns(k), *cold_columns(k)))
        for key in keys:
            values = np.array([r[key] for r in runs if key in r], dtype=np.float64)
            if len(values):
                row[key] = float(values.mean())
                row[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def _cell(row: dict[str, Any], key: str) -> str:
    if key not in row or (isinstance(row[key], float) and math.isnan(row[key])):
        return "–"
    digits = 2 if key == "fit_seconds" else 4 if key in ("rmse", "mae") else 3
    text = f"{row[key]:.{digits}f}"
    if row.get("seeds", 1) > 1:
        text += f" ± {row[f'{key}_std']:.{digits}f}"
    return text


def markdown_table(rows: Sequence[dict[str, Any]], *, k: int = 10,
                   table_columns: Sequence[tuple[str, str]] | None = None, sort_by: str | None = None) -> str:
    """A Markdown table, one row per algorithm, best ``sort_by`` (nDCG@k) first; "±" is the std over seeds."""
    sort_by = sort_by or f"ndcg@{k}"
    table_columns = list(table_columns or columns(k))
    ordered = sorted(rows, key=lambda r: -r.get(sort_by, -math.inf))
    header = "| algorithm | " + " | ".join(title for _, title in table_columns) + " |"
    rule = "|---|" + "---:|" * len(table_columns)
    lines = [header, rule]
    for row in ordered:
        lines.append(f"| {row['algorithm']} | " + " | ".join(_cell(row, key) for key, _ in table_columns) + " |")
    return "\n".join(lines)
