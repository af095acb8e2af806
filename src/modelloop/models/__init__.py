"""Models: the catalog of estimators modelloop trains, with their default configurations.

Examples
--------
>>> from modelloop.models import default_candidates, get_spec
>>> [get_spec(n, "regression").family for n in default_candidates("regression")]
['linear', 'tree', 'tree', 'tree']
"""

from __future__ import annotations

from modelloop.models._bagging import FoldBag
from modelloop.models._calibration import (
    TemperatureScaled,
    apply_temperature,
    cross_fit_temperature,
    fit_temperature,
)
from modelloop.models._catalog import (
    MODELS,
    CatalogEntry,
    ModelSpec,
    accepts_sample_weight,
    catalog,
    catalog_entries,
    default_candidates,
    get_spec,
    get_unsupervised_spec,
    is_available,
    unsupervised_catalog,
)
from modelloop.models._forest import PackedForest, is_forest
from modelloop.models._output import model_output
from modelloop.models._policy import (
    EXPLORATIONS,
    RewardPolicy,
    RulePolicy,
    action_probabilities,
    check_exploration,
    crossed_columns,
    crossed_row,
    expected_reward,
    sample_actions,
)
from modelloop.models._portfolio import BALANCED, SPACES, portfolio, search_space
from modelloop.models._target import LOG1P, LogTargetRegressor, log_target, wants_log_target
from modelloop.models._threshold import (
    THRESHOLD_METRICS,
    DecisionThreshold,
    cross_fit_threshold,
    decision_threshold,
    fit_threshold,
    predicted_labels,
    thresholded,
    with_threshold,
)
from modelloop.models._torch import TabularNetClassifier, TabularNetRegressor
from modelloop.models._unsupervised import (
    UNSUPERVISED_TASKS,
    CentroidAgglomerative,
    DensityClusterer,
    kdistance_elbow,
    output_columns,
    unsupervised_output,
)

__all__ = [
    "BALANCED",
    "EXPLORATIONS",
    "LOG1P",
    "MODELS",
    "SPACES",
    "THRESHOLD_METRICS",
    "UNSUPERVISED_TASKS",
    "CatalogEntry",
    "CentroidAgglomerative",
    "DecisionThreshold",
    "DensityClusterer",
    "FoldBag",
    "LogTargetRegressor",
    "ModelSpec",
    "PackedForest",
    "RewardPolicy",
    "RulePolicy",
    "TabularNetClassifier",
    "TabularNetRegressor",
    "TemperatureScaled",
    "accepts_sample_weight",
    "action_probabilities",
    "apply_temperature",
    "catalog",
    "catalog_entries",
    "check_exploration",
    "cross_fit_temperature",
    "cross_fit_threshold",
    "crossed_columns",
    "crossed_row",
    "decision_threshold",
    "default_candidates",
    "expected_reward",
    "fit_temperature",
    "fit_threshold",
    "get_spec",
    "get_unsupervised_spec",
    "is_available",
    "is_forest",
    "kdistance_elbow",
    "log_target",
    "model_output",
    "output_columns",
    "portfolio",
    "predicted_labels",
    "sample_actions",
    "search_space",
    "thresholded",
    "unsupervised_catalog",
    "unsupervised_output",
    "wants_log_target",
    "with_threshold",
]
