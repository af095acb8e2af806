"""What ``modelloop train --task clustering|reduce|anomaly`` prints: rich tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.markup import escape

from modelloop.cli._common import err, out, table

__all__ = ["print_unsupervised"]

_PROFILE_FEATURES = 4  # features shown per group: those standing apart most


def _profile_cell(entry: dict[str, Any]) -> str:
    sign = "+" if entry["std_diff"] >= 0 else ""
    if entry["kind"] == "numeric":
        what = f"{entry['feature']} {entry['value']:.4g} (all {entry['overall']:.4g})"
    else:
        what = (
            f"{entry['feature']}={entry['value']} {entry['share']:.0%} (all {entry['overall']:.0%})"
        )
    return f"{what} {sign}{entry['std_diff']:.2f}sd"


def _candidate(row: dict[str, Any]) -> str:
    params = json.loads(row["params"])
    shown = ", ".join(
        f"k={v}" if k in ("n_clusters", "n_components") else f"{k}={v}" for k, v in params.items()
    )
    failed = f" failed: {row['error'][:40]}" if row.get("error") else ""
    return escape(f"{row['model']} {shown}{failed}")


def _groups(result: Any, title: str) -> None:
    summary = result.summary
    rows = []
    for size in summary["sizes"]:
        profile = summary["profile"].get(size["group"], [])
        rows.append(
            [
                size["group"],
                size["rows"],
                f"{size['share']:.1%}",
                escape("; ".join(_profile_cell(e) for e in profile[:_PROFILE_FEATURES])),
            ]
        )
    out.print(table(title, ["group", "rows", "share", "stands apart by"], rows))


def print_unsupervised(result: Any, aliases: Sequence[str] = ()) -> None:
    """Leaderboard, metrics and the summary of a clustering, reduce or anomaly result."""
    board = result.leaderboard
    task = result.task
    n_rows = result.dataset.n_rows
    if task == "clustering":
        out.print(
            table(
                f"Leaderboard (clustering, ranked by silhouette, {n_rows} rows)",
                ["candidate", "clusters", "silhouette", "Davies-Bouldin", "BIC", "noise"],
                [
                    [
                        _candidate(r),
                        r["n_clusters"],
                        r["silhouette"],
                        r["davies_bouldin"],
                        r["bic"],
                        r["noise_share"],
                    ]
                    for r in board.head(10).to_dict(orient="records")
                ],
            )
        )
        if len(board) > 10:
            out.print(f"({len(board) - 10} more: modelloop runs show {result.run_id[:12]})")
        _groups(result, f"Clusters of {_candidate(board.iloc[0].to_dict())}")
    elif task == "reduce":
        out.print(
            table(
                f"Explained variance (PCA, {n_rows} rows)",
                ["component", "variance", "cumulative", "kept"],
                [
                    [r["component"], r["variance"], r["cumulative"], "yes" if r["kept"] else ""]
                    for r in board.to_dict(orient="records")
                ],
            )
        )
        loadings = result.summary.get("loadings", [])
        out.print(
            table(
                "Components: heaviest inputs",
                ["component", "inputs (weight)"],
                [
                    [
                        f"pc{i + 1}",
                        escape(", ".join(f"{w['feature']} ({w['weight']:+.2f})" for w in comp)),
                    ]
                    for i, comp in enumerate(loadings)
                ],
            )
        )
    else:
        _groups(
            result, f"Anomalies (isolation forest, threshold {result.metrics['threshold']:.4g})"
        )
    out.print(
        table(
            f"Metrics of {result.best_model} (all {n_rows} rows)",
            ["metric", "value"],
            [[k, v] for k, v in result.metrics.items()],
        )
    )
    for note in result.notes:
        err.print(f"note: {escape(note)}")
    if result.version is not None:
        shown = f" (aliases: {', '.join(aliases)})" if aliases else ""
        out.print(
            f"Registered [bold]{result.name}[/] version {result.version}{shown}; run {result.run_id[:12]}."
        )
        out.print(
            f"Next: modelloop predict {result.name}:{result.version} NEW_DATA.csv -o scored.csv"
        )
    else:
        out.print(f"Run {result.run_id[:12]} recorded; model not registered (--no-register).")
