"""Self-contained HTML reports: figures embedded as base64 PNG, inline CSS, no outside request.

Two layers:

* building blocks any report can use (the monitoring views use them too):
  :func:`figure_to_html`, :func:`table_to_html`, :class:`Section` and :func:`render_html`;
* :func:`evaluation_report`, the evaluation of one trained model from plain data
  (labels, predictions, probabilities, leaderboard, trials, profile, importances).

Every figure sits in ``<figure data-plot="NAME">`` so a test, or a browser, can check that
each expected plot is there and not empty.

>>> from matplotlib.figure import Figure
>>> fig = Figure(figsize=(2, 2)); _ = fig.subplots().plot([0, 1], [0, 1])
>>> page = render_html("Demo", [Section("A line", figure_to_html(fig, "line"))])
>>> 'data-plot="line"' in page and "http" not in page
True
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelloop.evaluation import _plots
from modelloop.evaluation._bootstrap import bootstrap_ci
from modelloop.evaluation._metrics import get_metric, score, score_all, sign
from modelloop.exceptions import InvalidInputError, ModelloopError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CLASSIFIER_PLOTS",
    "COMMON_PLOTS",
    "REGRESSION_PLOTS",
    "Section",
    "evaluation_report",
    "evaluation_sections",
    "expected_plots",
    "figure_to_html",
    "metric_intervals",
    "render_html",
    "table_to_html",
]

#: Plots of every classifier report, by their ``data-plot`` name.
CLASSIFIER_PLOTS = (
    "confusion_matrix",
    "roc_curve",
    "pr_curve",
    "calibration",
    "probability_histogram",
)
#: Plots of every regression report.
REGRESSION_PLOTS = ("predicted_vs_actual", "residuals", "residual_histogram")
#: Plots of both, each drawn when its data is there.
COMMON_PLOTS = (
    "target_distribution",
    "contribution_importance",
    "contribution_summary",
    "dependence",
    "permutation_importance",
    "optimization_history",
    "learning_curve",
)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def expected_plots(task: str) -> tuple[str, ...]:
    """The task-specific plot names of an evaluation report.

    >>> expected_plots("regression")
    ('predicted_vs_actual', 'residuals', 'residual_histogram')
    """
    if task == "regression":
        return REGRESSION_PLOTS
    if task in ("binary", "multiclass"):
        return CLASSIFIER_PLOTS
    raise InvalidInputError(f"task must be binary, multiclass or regression. Got {task!r}.")


# ------------------------------------------------------------------------ building blocks


@dataclass(frozen=True)
class Section:
    """One titled part of a report. ``body`` is HTML (escape any text you put in it)."""

    title: str
    body: str
    id: str = ""


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidInputError(
            "A plot name holds lowercase letters, digits, '_' and '-' (e.g. 'roc_curve'). "
            f"Got {name!r}."
        )
    return name


def figure_to_html(fig: Figure, name: str, caption: str = "") -> str:
    """A ``<figure data-plot=NAME>`` holding ``fig`` as an embedded PNG (and its caption).

    The PNG carries no metadata (matplotlib would write its web address into it).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(2, 1)); _ = fig.subplots()
    >>> figure_to_html(fig, "empty", "An empty plot")[:48]
    '<figure class="plot" data-plot="empty"><img src='
    """
    _check_name(name)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    width, height = (round(v) for v in fig.get_size_inches() * fig.dpi)
    encoded = base64.b64encode(buf.getvalue()).decode("ascii")
    alt = html.escape(caption or name.replace("_", " "))
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure class="plot" data-plot="{name}"><img src="data:image/png;base64,{encoded}" '
        f'alt="{alt}" width="{width}" height="{height}">{cap}</figure>'
    )


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            return "—"
        return f"{float(value):.{digits}f}"
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if value is pd.NA or value is pd.NaT:
        return "—"
    return str(value)


def table_to_html(
    frame: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    max_rows: int | None = None,
    digits: int = 4,
    css_class: str = "",
) -> str:
    """An HTML table of ``frame`` (or of a list of records), every cell escaped.

    Examples
    --------
    >>> table_to_html([{"model": "a<b", "score": 0.5}])
    '<table><thead><tr><th>model</th><th>score</th></tr></thead><tbody><tr><td>a&lt;b</td><td>0.5000</td></tr></tbody></table>'
    """
    data = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(list(frame))
    shown = data if max_rows is None else data.head(max_rows)
    cls = f' class="{html.escape(css_class)}"' if css_class else ""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v, digits))}</td>" for v in row) + "</tr>"
        for row in shown.itertuples(index=False, name=None)
    )
    more = ""
    if len(shown) < len(data):
        more = f'<p class="muted">{len(data) - len(shown):,} more rows not shown.</p>'
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{more}"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;
background:#fafafa;line-height:1.45}
header{background:#0b3d5c;color:#fff;padding:1.2rem 2rem}
header h1{margin:0;font-size:1.5rem}header p{margin:.3rem 0 0;opacity:.85}
nav{padding:.6rem 2rem;background:#e9eef2;font-size:.9rem}
nav a{color:#0b3d5c;margin-right:1rem;text-decoration:none}
main{padding:1rem 2rem 3rem;max-width:1200px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:1rem 1.4rem;margin:1rem 0}
h2{margin-top:0;font-size:1.2rem;color:#0b3d5c}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;display:block;overflow-x:auto}
th,td{border-bottom:1px solid #e1e4e8;padding:.3rem .6rem;text-align:left;white-space:nowrap}
th{background:#f3f5f7}
.plots{display:flex;flex-wrap:wrap;gap:1rem}
figure.plot{margin:0;max-width:100%}figure.plot img{max-width:100%;height:auto}
figcaption{font-size:.8rem;color:#555;max-width:640px}
.muted{color:#666;font-size:.85rem}.warn{color:#8a4b00}
ul.notes{margin:.3rem 0;padding-left:1.2rem;font-size:.9rem}
.image-grid{display:flex;flex-wrap:wrap;gap:.6rem}
.image-grid figure{margin:0;width:128px;font-size:.75rem;color:#333}
.image-grid img{width:128px;height:128px;object-fit:cover;border:1px solid #e1e4e8;border-radius:4px}
"""


def render_html(title: str, sections: Sequence[Section], *, subtitle: str = "") -> str:
    """One self-contained HTML page: a header, a table of contents and the sections.

    The page loads nothing from anywhere: CSS is inline and images are embedded.

    Examples
    --------
    >>> page = render_html("Run 3f2a", [Section("Metrics", "<p>AUC 0.9</p>")])
    >>> page.startswith("<!DOCTYPE html>") and "<h2>Metrics</h2>" in page
    True
    """
    ids: list[str] = []
    parts = []
    for i, section in enumerate(sections):
        sid = section.id or re.sub(r"[^a-z0-9]+", "-", section.title.lower()).strip("-")
        sid = sid or f"section-{i + 1}"
        if sid in ids:
            sid = f"{sid}-{i + 1}"
        ids.append(sid)
        parts.append(
            f'<section id="{html.escape(sid)}"><h2>{html.escape(section.title)}</h2>'
            f"{section.body}</section>"
        )
    nav = "".join(
        f'<a href="#{html.escape(sid)}">{html.escape(s.title)}</a>'
        for sid, s in zip(ids, sections, strict=True)
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sub = html.escape(subtitle)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{sub}{' · ' if sub else ''}"
        f"generated {stamp} by modelloop</p></header><nav>{nav}</nav>"
        f"<main>{''.join(parts)}</main></body></html>\n"
    )


# ----------------------------------------------------------------------- the evaluation


def metric_intervals(
    task: str,
    y_true: Any,
    *,
    y_pred: Any,
    proba: Any = None,
    classes: Sequence[Any] | None = None,
    cv_metrics: Mapping[str, Any] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    first: str | None = None,
    time_limit: float | None = 20.0,
    sample_weight: Any = None,
) -> pd.DataFrame:
    """Every test metric of ``task`` with a 95% bootstrap interval, beside its CV score.

    ``cv_metrics`` maps a metric to its cross-validated mean (``NAME``) and standard
    deviation over folds (``NAME_std``), as a run records it. Intervals are computed for
    metric ``first`` (the selection metric) first; once ``time_limit`` seconds are spent
    the remaining metrics get no interval and are listed in ``table.attrs['no_interval']``
    (resampling label metrics on large test splits is slow). With ``sample_weight`` every
    value and interval is weighted. A custom ``first`` metric is added to the table when
    this process can compute it (see ``known_metric``).

    Examples
    --------
    >>> table = metric_intervals("regression", [1.0, 2, 3, 4], y_pred=[1.1, 2, 2.8, 4.2],
    ...                          cv_metrics={"rmse": 0.2, "rmse_std": 0.05}, n_boot=50)
    >>> list(table.columns)
    ['metric', 'test', 'ci_low', 'ci_high', 'cv_mean', 'cv_std']
    """
    values = score_all(
        task, y_true, y_pred=y_pred, y_proba=proba, classes=classes, sample_weight=sample_weight
    )
    if first is not None and first not in values and get_metric(first).custom:
        # a custom metric not imported here (no --trust) is left out
        with contextlib.suppress(ModelloopError):
            values[first] = score(
                first,
                y_true,
                y_pred=y_pred,
                y_proba=proba if get_metric(first).needs_proba else None,
                classes=classes,
                sample_weight=sample_weight,
            )
    cv = dict(cv_metrics or {})
    rows = []
    order = sorted(values, key=lambda name: name != first)
    intervals: dict[str, tuple[float, float]] = {}
    skipped: list[str] = []
    t0 = time.monotonic()
    for name in order:
        if time_limit is not None and intervals and time.monotonic() - t0 > time_limit:
            skipped.append(name)
            continue
        intervals[name] = bootstrap_ci(
            name, y_true, y_pred=y_pred, y_proba=proba, classes=classes, n_boot=n_boot,
            seed=seed, sample_weight=sample_weight,
        )  # fmt: skip
    for name, value in values.items():
        low, high = intervals.get(name, (float("nan"), float("nan")))
        rows.append(
            {
                "metric": name,
                "test": value,
                "ci_low": low,
                "ci_high": high,
                "cv_mean": _float(cv.get(name)),
                "cv_std": _float(cv.get(f"{name}_std")),
            }
        )
    table = pd.DataFrame(rows, columns=["metric", "test", "ci_low", "ci_high", "cv_mean", "cv_std"])
    table.attrs["no_interval"] = skipped
    return table


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _plot(name: str, build: Callable[[], Figure], caption: str) -> str:
    """A figure, or a visible note saying why it could not be drawn (never a broken page)."""
    try:
        fig = build()
    except Exception as exc:  # a report with one missing plot beats no report
        return (
            f'<figure class="plot missing" data-plot="{_check_name(name)}" data-missing="true">'
            f"<figcaption>Not drawn: {html.escape(f'{type(exc).__name__}: {exc}')}"
            "</figcaption></figure>"
        )
    return figure_to_html(fig, name, caption)


def _notes(items: Sequence[str], css: str = "") -> str:
    if not items:
        return ""
    cls = f' class="notes {css}"' if css else ' class="notes"'
    return f"<ul{cls}>" + "".join(f"<li>{html.escape(str(n))}</li>" for n in items) + "</ul>"


def _profile_body(
    profile: Mapping[str, Any] | None, distribution: Mapping[str, Any] | None, target: str
) -> str:
    parts = []
    if profile:
        n_rows, n_cols = profile.get("n_rows"), profile.get("n_cols")
        if n_rows is not None:
            parts.append(f"<p>{int(n_rows):,} rows, {int(n_cols or 0):,} columns.</p>")
        columns = pd.DataFrame(list(profile.get("columns") or []))
        keep = [
            c
            for c in ("column", "role", "missing_pct", "distinct", "summary", "note")
            if c in columns
        ]
        if keep:
            parts.append(table_to_html(columns[keep], digits=2, max_rows=200))
        parts.append(_notes(list(profile.get("warnings") or []), "warn"))
    if distribution:
        parts.append(
            '<div class="plots">'
            + _plot(
                "target_distribution",
                lambda: _plots.target_distribution_figure(distribution, target=target),
                f"Rows per value of the target '{target}' in the whole dataset.",
            )
            + "</div>"
        )
    return "".join(parts) or '<p class="muted">No profile was recorded.</p>'


def evaluation_sections(
    *,
    task: str,
    metric: str,
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    classes: Sequence[Any] | None = None,
    target: str = "target",
    summary: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    profile: Mapping[str, Any] | None = None,
    target_distribution: Mapping[str, Any] | None = None,
    cv_metrics: Mapping[str, Any] | None = None,
    leaderboard: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    trials: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    importances: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    importance_note: str = "",
    explanations: Mapping[str, Any] | None = None,
    contributions: pd.DataFrame | None = None,
    contribution_values: pd.DataFrame | None = None,
    learning_curve: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    image_errors: Mapping[str, Any] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    sample_weight: Any = None,
) -> list[Section]:
    """The sections of an evaluation report, for :func:`render_html` (see
    :func:`evaluation_report` for the parameters).

    Examples
    --------
    >>> sections = evaluation_sections(task="regression", metric="rmse", y_true=[1.0, 2, 3, 4],
    ...                                y_pred=[1.1, 2, 2.8, 4.2], n_boot=20)
    >>> [s.title for s in sections]
    ['Summary', 'Data profile', 'Metrics: cross-validation vs test split', 'Test split plots']
    """
    plot_names = expected_plots(task)  # also checks the task
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    sections: list[Section] = []

    facts = [{"": k, "value": v} for k, v in (summary or {}).items()]
    facts.append({"": "test rows", "value": len(yt)})
    sections.append(Section("Summary", table_to_html(facts) + _notes(list(notes)), id="summary"))
    sections.append(
        Section("Data profile", _profile_body(profile, target_distribution, target), id="profile")
    )

    table = metric_intervals(
        task,
        yt,
        y_pred=yp,
        proba=proba,
        classes=classes,
        cv_metrics=cv_metrics,
        n_boot=n_boot,
        seed=seed,
        first=metric,
        sample_weight=sample_weight,
    )
    skipped = table.attrs.get("no_interval") or []
    table = table.rename(
        columns={
            "test": "test split",
            "ci_low": "95% CI low",
            "ci_high": "95% CI high",
            "cv_mean": "CV mean",
            "cv_std": "CV std",
        }
    )
    sections.append(
        Section(
            "Metrics: cross-validation vs test split",
            table_to_html(table)
            + f'<p class="muted">Selection metric: {html.escape(metric)}. Intervals: percentile '
            f"bootstrap over the {len(yt):,} test rows ({n_boot} resamples). CV: mean and "
            "standard deviation over the folds of the selected model (the selection metric "
            "only).</p>"
            + (
                f'<p class="muted">No interval for {html.escape(", ".join(skipped))}: the '
                "time for resampling ran out.</p>"
                if skipped
                else ""
            ),
            id="metrics",
        )
    )

    if task == "regression":
        builders: dict[str, tuple[Callable[[], Figure], str]] = {
            "predicted_vs_actual": (
                lambda: _plots.predicted_vs_actual_figure(yt, yp),
                "Each test row: the model's prediction against the true value.",
            ),
            "residuals": (
                lambda: _plots.residuals_figure(yt, yp),
                "A pattern here (a curve, a funnel) means errors depend on the prediction.",
            ),
            "residual_histogram": (
                lambda: _plots.residual_histogram_figure(yt, yp),
                "Distribution of the errors on the test split.",
            ),
        }
    else:
        if proba is None or classes is None:
            raise InvalidInputError(
                f"A {task} evaluation report needs proba and classes. Got "
                f"proba={'given' if proba is not None else None}, classes={classes!r}."
            )
        cls = list(classes)
        pr = np.asarray(proba, dtype=float)
        builders = {
            "confusion_matrix": (
                lambda: _plots.confusion_matrix_figure(yt, yp, cls),
                "Counts per true and predicted class; shading is the share of the true class.",
            ),
            "roc_curve": (
                lambda: _plots.roc_curve_figure(yt, pr, cls),
                "True against false positive rate as the decision threshold moves.",
            ),
            "pr_curve": (
                lambda: _plots.pr_curve_figure(yt, pr, cls),
                "Precision against recall as the decision threshold moves.",
            ),
            "calibration": (
                lambda: _plots.calibration_figure(yt, pr, cls),
                "Points on the diagonal: predicted probabilities can be read as frequencies.",
            ),
            "probability_histogram": (
                lambda: _plots.probability_histogram_figure(yt, pr, cls),
                "How confident the model is, by outcome.",
            ),
        }
    figures = "".join(_plot(name, *builders[name]) for name in plot_names)
    sections.append(Section("Test split plots", f'<div class="plots">{figures}</div>', id="plots"))
    if image_errors:
        sections.append(image_errors_section(image_errors, task))

    if explanations:
        sections.append(
            Section(
                "Explanations: what the model relies on",
                _explanation_body(
                    explanations,
                    contributions,
                    contribution_values,
                    _roles(profile),
                    _distinct(profile),
                ),
                id="explanations",
            )
        )
    if importances is not None and len(importances):
        sections.append(
            Section(
                "Permutation feature importance",
                '<div class="plots">'
                + _plot(
                    "permutation_importance",
                    lambda: _plots.importance_figure(pd.DataFrame(importances), metric=metric),
                    importance_note
                    or "Drop in the selection metric when one input column is shuffled.",
                )
                + "</div>",
                id="importance",
            )
        )
    if leaderboard is not None and len(leaderboard):
        board = pd.DataFrame(leaderboard)
        board = board.drop(
            columns=[c for c in ("error",) if c in board and not board[c].astype(bool).any()]
        )
        sections.append(Section("Leaderboard", table_to_html(board, max_rows=50), id="leaderboard"))
    if trials is not None and len(trials):
        greater = sign(metric) > 0
        sections.append(
            Section(
                "Optimization history",
                '<div class="plots">'
                + _plot(
                    "optimization_history",
                    lambda: _plots.optimization_history_figure(
                        trials, metric=metric, greater_is_better=greater
                    ),
                    "Left: each trial's cross-validated score and the best so far. Right: the "
                    "best score against the summed time of the trials (trials may run in "
                    "parallel).",
                )
                + "</div>",
                id="history",
            )
        )
    if learning_curve is not None and len(learning_curve):
        sections.append(
            Section(
                "Learning curve",
                '<div class="plots">'
                + _plot(
                    "learning_curve",
                    lambda: _plots.learning_curve_figure(learning_curve, metric=metric),
                    "The selected configuration refitted on growing shares of the training "
                    "rows, scored on them and on the test split. A gap that narrows as rows "
                    "grow suggests more data would help.",
                )
                + "</div>",
                id="learning-curve",
            )
        )
    return sections


def _roles(profile: Mapping[str, Any] | None) -> dict[str, str]:
    """Each column's role from the data profile (``numeric``, ``categorical``, ...)."""
    columns = (profile or {}).get("columns") or []
    return {str(c.get("column")): str(c.get("role")) for c in columns if c.get("column")}


def _distinct(profile: Mapping[str, Any] | None) -> dict[str, int]:
    """Each column's number of distinct values in the training data, from the profile."""
    columns = (profile or {}).get("columns") or []
    return {
        str(c.get("column")): int(c["distinct"])
        for c in columns
        if c.get("column") and c.get("distinct") is not None
    }


def _explanation_body(
    info: Mapping[str, Any],
    contributions: pd.DataFrame | None,
    values: pd.DataFrame | None,
    roles: Mapping[str, str] | None = None,
    distinct: Mapping[str, int] | None = None,
) -> str:
    """Global importance (always, when explanations were computed), the beeswarm summary and
    dependence plots of the most important columns (when the rows were kept). ``roles``
    (from the profile) say which columns are numbers: only those are coloured by value or
    drawn as a scatter; text and many-valued categorical columns (more than 30 distinct
    values in the training data, ``distinct``, or in the explained rows) get no dependence
    plot."""
    roles = dict(roles or {})
    many = {
        c
        for c, n in (distinct or {}).items()
        if n > _FEW_LEVELS and roles.get(c) not in ("numeric", "boolean")
    }
    if values is not None and roles:
        numeric = {c for c, r in roles.items() if r in ("numeric", "boolean")}
        values = values.copy()
        for c in values.columns:
            if c in roles and c not in numeric:
                values[c] = values[c].astype(object)  # never read as numbers
    output = str(info.get("output") or "output")
    explained = str(info.get("explained") or output)
    mean_abs = {r["feature"]: r["mean_abs"] for r in info.get("importance") or []}
    n_rows = info.get("n_rows")
    intro = (
        f"<p>Each input column's contribution to the {html.escape(explained)}, on "
        f"{n_rows} test rows: a row's base value plus its contributions is its "
        f"{html.escape(output)}. Method: {html.escape(str(info.get('detail') or info.get('method')))}"
        f".</p>"
    )
    plots = []
    if mean_abs:
        plots.append(
            _plot(
                "contribution_importance",
                lambda: _plots.contribution_importance_figure(mean_abs, output=output),
                "Mean absolute contribution of each input column: how much the model's "
                "output moves with it, on average.",
            )
        )
    if contributions is not None and not contributions.empty:
        plots.append(
            _plot(
                "contribution_summary",
                lambda: _plots.contribution_summary_figure(contributions, values, output=output),
                "One point per test row and column: where it pushed the output (right: up), "
                "coloured by the column's value.",
            )
        )
        ranked = contributions.abs().mean().sort_values(ascending=False).index
        top = [
            c
            for c in ranked
            if values is not None
            and roles.get(c, "") != "text"
            and c not in many
            and _plottable(values.get(c), numeric=roles.get(c) in (None, "numeric", "boolean"))
        ][:4]
        if top:
            plots.append(
                _plot(
                    "dependence",
                    lambda: _plots.dependence_figure(contributions, values, top, output=output),
                    "How the contribution of the most important columns changes with their "
                    "value (columns of free text or with many distinct values are left out).",
                )
            )
    return (
        intro
        + '<div class="plots">'
        + "".join(plots)
        + "</div>"
        + _notes(list(info.get("notes") or []))
    )


_FEW_LEVELS = 30  # a categorical column with more distinct values gets no dependence plot


def _plottable(values: pd.Series | None, *, numeric: bool = True) -> bool:
    """A column a dependence plot can show: mostly numbers (when it may be numeric), or at
    most 30 distinct values."""
    if values is None or values.notna().sum() == 0:
        return False
    if values.nunique() <= _FEW_LEVELS:
        return True
    numbers = pd.to_numeric(values, errors="coerce")
    return bool(numeric and numbers.notna().sum() >= 0.5 * values.notna().sum())


def evaluation_report(title: str, **data: Any) -> str:
    """One self-contained HTML page evaluating a trained model on its test split.

    Parameters
    ----------
    title : the page title.

    Other Parameters
    ----------------
    task : 'binary', 'multiclass' or 'regression'.
    metric : the selection metric.
    y_true, y_pred : true and predicted values of the test rows.
    proba, classes : class probabilities (one column per class, in ``classes`` order);
        required for classifiers.
    target : the target's name.
    summary : facts shown first (run id, model, dataset, ...).
    notes : remarks shown under the summary.
    profile : ``modelloop.data.Profile.to_dict()`` of the training data.
    target_distribution : ``{"classes": {label: count}}`` or ``{"edges", "counts"}``.
    cv_metrics : ``{metric: mean, metric_std: std}`` of the selected model.
    leaderboard : one row per trial, best first.
    trials : ``number``, ``score``, ``duration``, ``model``, ``status`` per trial.
    importances : ``feature``, ``importance``, ``std`` per input column.
    importance_note : how the importances were computed (rows, repeats).
    explanations : what the explanations of test rows explain (``output``, ``explained``,
        ``method``, ``detail``, ``n_rows``) and ``importance``: ``feature``, ``mean_abs`` per
        input column.
    contributions, contribution_values : the explained rows' contributions and values, one
        column per input column (for the summary and dependence plots).
    learning_curve : ``n_train``, ``train_score``, ``test_score`` per point.
    image_errors : for models of images: ``{"column", "n_wrong", "n_rows", "items"}``, each
        item a thumbnail ``data:`` URI (``image``) with ``true``, ``predicted`` and
        ``confidence`` (or ``error`` for regression): a grid of the worst test images.
    n_boot, seed : bootstrap resamples and seed of the confidence intervals.
    sample_weight : the test rows' weights (a run trained with sample weights): the metric
        table's values and intervals are weighted.

    Examples
    --------
    >>> page = evaluation_report("Demo", task="binary", metric="roc_auc",
    ...     y_true=[0, 1, 1, 0, 1, 0], y_pred=[0, 1, 0, 0, 1, 1],
    ...     proba=[[.8, .2], [.3, .7], [.6, .4], [.9, .1], [.2, .8], [.4, .6]],
    ...     classes=[0, 1], n_boot=20)
    >>> all(f'data-plot="{p}"' in page for p in CLASSIFIER_PLOTS)
    True
    """
    subtitle = str(data.pop("subtitle", ""))
    return render_html(title, evaluation_sections(**data), subtitle=subtitle)


def image_errors_section(errors: Mapping[str, Any], task: str) -> Section:
    """A grid of the test images the model got most wrong, with true and predicted values.

    Examples
    --------
    >>> item = {"image": "data:image/jpeg;base64,AA==", "true": "ant", "predicted": "bee",
    ...         "confidence": 0.91}
    >>> s = image_errors_section({"column": "image", "n_wrong": 1, "n_rows": 9,
    ...                           "items": [item]}, "binary")
    >>> 'data-plot="misclassified_images"' in s.body and "ant" in s.body
    True
    """
    items = list(errors.get("items") or [])
    column = html.escape(str(errors.get("column", "image")))
    figures = []
    for item in items:
        src = str(item.get("image", ""))
        if not src.startswith("data:image/"):
            continue
        true, pred = html.escape(str(item.get("true"))), html.escape(str(item.get("predicted")))
        if task == "regression":
            caption = f"true {true}, predicted {pred}"
        else:
            confidence = item.get("confidence")
            sure = f" ({float(confidence):.0%} sure)" if confidence is not None else ""
            caption = f"true <b>{true}</b>, predicted <b>{pred}</b>{sure}"
        figures.append(
            f'<figure><img src="{html.escape(src, quote=True)}" alt="test image">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    n_wrong, n_rows = errors.get("n_wrong", len(items)), errors.get("n_rows", "?")
    what = (
        f"{n_wrong} of {n_rows} test images were misclassified; the ones the model was "
        "surest of are shown first."
        if task != "regression"
        else f"The {len(figures)} test images with the largest errors, of {n_rows}."
    )
    body = (
        f'<p class="muted">Column \'{column}\'. {html.escape(what)}</p>'
        + (f'<div class="image-grid" data-plot="misclassified_images">{"".join(figures)}</div>'
           if figures else '<p>None: every test image was classified correctly.</p>')
    )  # fmt: skip
    title = "Misclassified images" if task != "regression" else "Largest errors on images"
    return Section(title, body, id="image-errors")
