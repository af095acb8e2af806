"""Evaluation: the only home of metrics (looked up by name), plots and HTML reports.

>>> from modelloop.evaluation import score, default_metric
>>> score(default_metric("regression"), [1.0, 2.0], y_pred=[1.0, 4.0])
1.4142135623730951
"""

from __future__ import annotations

from modelloop.evaluation._bootstrap import bootstrap_ci
from modelloop.evaluation._cluster_plots import (
    cluster_scores,
    plot_explained_variance,
    plot_groups,
    projection_2d,
    summarize_groups,
)
from modelloop.evaluation._inspect import (
    learning_curve,
    permutation_importance,
    score_model,
    threshold_labels,
)
from modelloop.evaluation._metrics import (
    METRICS,
    TASKS,
    Metric,
    UndefinedMetricError,
    default_metric,
    get_metric,
    is_better,
    metrics_for_task,
    score,
    score_all,
    sign,
)
from modelloop.evaluation._plots import (
    OKABE_ITO,
    calibration_figure,
    confusion_matrix_figure,
    importance_figure,
    learning_curve_figure,
    optimization_history_figure,
    pr_curve_figure,
    predicted_vs_actual_figure,
    probability_histogram_figure,
    residual_histogram_figure,
    residuals_figure,
    roc_curve_figure,
    target_distribution_figure,
)
from modelloop.evaluation._report import (
    CLASSIFIER_PLOTS,
    COMMON_PLOTS,
    REGRESSION_PLOTS,
    Section,
    evaluation_report,
    evaluation_sections,
    expected_plots,
    figure_to_html,
    metric_intervals,
    render_html,
    table_to_html,
)

__all__ = [
    "CLASSIFIER_PLOTS",
    "COMMON_PLOTS",
    "METRICS",
    "OKABE_ITO",
    "REGRESSION_PLOTS",
    "TASKS",
    "Metric",
    "Section",
    "UndefinedMetricError",
    "bootstrap_ci",
    "calibration_figure",
    "cluster_scores",
    "confusion_matrix_figure",
    "default_metric",
    "evaluation_report",
    "evaluation_sections",
    "expected_plots",
    "figure_to_html",
    "get_metric",
    "importance_figure",
    "is_better",
    "learning_curve",
    "learning_curve_figure",
    "metric_intervals",
    "metrics_for_task",
    "optimization_history_figure",
    "permutation_importance",
    "plot_explained_variance",
    "plot_groups",
    "pr_curve_figure",
    "predicted_vs_actual_figure",
    "probability_histogram_figure",
    "projection_2d",
    "render_html",
    "residual_histogram_figure",
    "residuals_figure",
    "roc_curve_figure",
    "score",
    "score_all",
    "score_model",
    "sign",
    "summarize_groups",
    "table_to_html",
    "target_distribution_figure",
    "threshold_labels",
]
