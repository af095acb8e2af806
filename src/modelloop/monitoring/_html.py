"""The drift report as one self-contained HTML page (``modelloop monitor --html``).

Built from the report alone (its histograms are computed with the tests), with the page and
figure helpers of :mod:`modelloop.evaluation`: no outside request, images embedded.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from modelloop.evaluation import OKABE_ITO, Section, figure_to_html, render_html, table_to_html

if TYPE_CHECKING:
    from modelloop.monitoring._alerts import Alert
    from modelloop.monitoring._drift import DriftReport, FeatureDrift

__all__ = ["drift_html"]

_MAX_HISTOGRAMS = 12


def _plot_name(name: str) -> str:
    safe = "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")
    return f"hist-{safe or 'column'}"


def _histogram_figure(feature: FeatureDrift) -> Figure:
    h = feature.histogram
    fig = Figure(figsize=(5.2, 3.2), dpi=100, layout="constrained")
    ax = fig.subplots()
    ref, cur = np.asarray(h["reference"]), np.asarray(h["current"])
    if h["kind"] == "numeric":
        edges = np.asarray(h["edges"])
        centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
        ax.bar(centers, ref, width=width, color=OKABE_ITO[0], alpha=0.5, label="reference")
        ax.step(edges[:-1], cur, where="post", color=OKABE_ITO[3], linewidth=2, label="current")
        ax.set_xlabel(feature.name)
    else:
        x = np.arange(len(ref))
        ax.bar(x - 0.2, ref, width=0.4, color=OKABE_ITO[0], label="reference")
        ax.bar(x + 0.2, cur, width=0.4, color=OKABE_ITO[3], hatch="//", label="current")
        ax.set_xticks(x, [str(c)[:14] for c in h["categories"]], rotation=45, ha="right")
    ax.set_ylabel("share of rows")
    stat = "—" if feature.statistic is None else f"{feature.statistic:.3f}"
    ax.set_title(f"{feature.name}: {feature.test} {stat}", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def _time_figure(windows: Sequence[dict[str, Any]], metric: str | None) -> Figure:
    fig = Figure(figsize=(6.4, 3.4), dpi=100, layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(windows))
    share = [w.get("drift_share") for w in windows]
    ax.plot(
        x,
        [np.nan if s is None else s for s in share],
        marker="o",
        color=OKABE_ITO[3],
        label="share of drifted features",
    )
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("window (oldest first)")
    ax.set_ylabel("drift share")
    if metric:
        ax2 = ax.twinx()
        exp = [w.get("expected", {}).get(metric) for w in windows]
        act = [w.get("actual", {}).get(metric) for w in windows]
        ax2.plot(
            x,
            [np.nan if v is None else v for v in exp],
            linestyle="--",
            marker="s",
            color=OKABE_ITO[0],
            label=f"estimated {metric}",
        )
        ax2.plot(
            x,
            [np.nan if v is None else v for v in act],
            linestyle=":",
            marker="^",
            color=OKABE_ITO[2],
            label=f"measured {metric}",
        )
        ax2.set_ylabel(metric)
        ax2.legend(loc="lower right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Drift and performance over time", fontsize=10)
    return fig


def _summary(report: DriftReport, alerts: Sequence[Alert]) -> str:
    rows: list[dict[str, Any]] = [
        {"what": "reference rows", "value": report.n_reference},
        {"what": "current rows", "value": report.n_current},
        {
            "what": "drifted features",
            "value": f"{len(report.drifted_features)} of {len(report.features)} ({report.drift_share:.0%})",
        },
    ]
    if report.domain is not None:
        auc = "—" if report.domain.auc is None else f"{report.domain.auc:.3f}"
        rows.append({"what": "domain classifier AUC", "value": f"{auc} ({report.domain.verdict})"})
    if report.prediction is not None:
        p = report.prediction
        stat = "—" if p.statistic is None else f"{p.statistic:.3f}"
        rows.append({"what": "prediction drift", "value": f"{p.test} {stat} ({p.verdict})"})
    shift = report.attribution
    if shift is not None:
        rows.append({"what": "what the model relies on", "value": shift.verdict})
    perf = report.performance
    if perf is not None:
        value = "—" if perf.current_value is None else f"{perf.current_value:.4f}"
        train = "—" if perf.training is None else f"{perf.training:.4f}"
        rows.append({"what": f"{perf.metric} at training", "value": train})
        rows.append({"what": f"{perf.metric} now", "value": f"{value} ({perf.source or 'n/a'})"})
    body = table_to_html(rows)
    if alerts:
        items = "".join(f"<li>{html.escape(a.message)}</li>" for a in alerts)
        body += f'<p class="warn"><b>Alerts</b></p><ul class="notes">{items}</ul>'
    else:
        body += '<p class="muted">No alert rule fired.</p>'
    return body


def drift_html(
    report: DriftReport,
    *,
    title: str = "Drift report",
    subtitle: str = "",
    alerts: Sequence[Alert] = (),
) -> str:
    """The report as a self-contained HTML page.

    Sections: summary (with the alerts), the per-feature table, reference-vs-current
    histograms of the drifted features, and drift share and metric per window over time.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from modelloop.data import infer_schema
    >>> from modelloop.monitoring import DriftConfig, drift_report
    >>> ref = pd.DataFrame({"x": np.random.default_rng(0).normal(size=300)})
    >>> r = drift_report(ref, ref.assign(x=ref["x"] + 3), infer_schema(ref),
    ...                  config=DriftConfig(domain=False))
    >>> 'data-plot="hist-x"' in drift_html(r)
    True
    """
    sections = [Section("Summary", _summary(report, alerts))]
    table = report.to_frame()
    sections.append(Section("Features", table_to_html(table)))
    shown = [f for f in report.features if f.drifted and f.histogram][:_MAX_HISTOGRAMS]
    if report.prediction is not None and report.prediction.histogram:
        shown.append(report.prediction)
    if shown:
        figs = "".join(figure_to_html(_histogram_figure(f), _plot_name(f.name)) for f in shown)
        body = f'<div class="plots">{figs}</div>'
    else:
        body = '<p class="muted">No feature drifted.</p>'
    sections.append(Section("Reference vs current", body))
    if report.attribution is not None:
        sections.append(Section("What the model relies on", _attribution_body(report.attribution)))
    if report.windows:
        metric = report.performance.metric if report.performance is not None else None
        fig = _time_figure(report.windows, metric)
        sections.append(
            Section(
                "Over time",
                figure_to_html(fig, "over-time") + table_to_html(_window_rows(report.windows)),
            )
        )
    return render_html(title, sections, subtitle=subtitle)


def _attribution_body(shift: Any) -> str:
    rows = [
        {
            "column": c.name,
            "reference mean |contribution|": c.reference,
            "current mean |contribution|": c.current,
            "reference share": c.reference_share,
            "current share": c.current_share,
            "change": c.change,
        }
        for c in shift.moved
    ]
    intro = (
        f'<p class="muted">Each input column\'s share of the mean absolute contribution to '
        f"the {html.escape(shift.output or 'output')} ({html.escape(shift.method or '')}), on "
        f"{shift.n_reference} reference and {shift.n_current} current rows explained. "
        f"{html.escape(shift.verdict)}.</p>"
    )
    return intro + table_to_html(rows, digits=4)


def _window_rows(windows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for w in windows:
        row = {k: w.get(k) for k in ("label", "start", "end", "n", "n_labeled", "drift_share")}
        for k, v in (w.get("expected") or {}).items():
            row[f"estimated {k}"] = v
        for k, v in (w.get("actual") or {}).items():
            row[f"measured {k}"] = v
        rows.append(row)
    return rows
