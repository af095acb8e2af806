"""Explanations: how much each input column moved each prediction.

For one row, a base value and one contribution per *input column* (encoded features --
one-hot levels, TF-IDF terms, SVD components, date parts, missing indicators, target
encodings -- summed back into the column they came from), additive:
``base_value + sum(contributions)`` is the explained output (a class probability, the
log-odds of a binary model, or a regression value). TreeSHAP for tree models (the
boosters' own native contributions), the exact linear form for linear models, and
Shapley values over the input columns with a background sample for any other model; a
blend or a bag averages its members' contributions as it averages their outputs.

>>> from modelloop.explain import Explainer, explainable_outputs
>>> explainable_outputs("multiclass")
('probability',)
"""

from __future__ import annotations

from modelloop.explain._attribution import Attribution
from modelloop.explain._explainer import (
    BACKGROUND_ROWS,
    OUTPUTS,
    PERMUTATIONS,
    Explainer,
    Explanation,
    explainable_outputs,
)
from modelloop.explain._groups import feature_groups, group_matrix
from modelloop.explain._permutation import PermutationShapley

__all__ = [
    "BACKGROUND_ROWS",
    "OUTPUTS",
    "PERMUTATIONS",
    "Attribution",
    "Explainer",
    "Explanation",
    "PermutationShapley",
    "explainable_outputs",
    "feature_groups",
    "group_matrix",
]
