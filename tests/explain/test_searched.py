"""Models as the search makes them (tuning.search): blends, bags and wrapped models add up."""

from __future__ import annotations

import numpy as np
import pytest

from modelloop.explain import Explainer

from .conftest import FEATURES, TARGETS, mixed_schema


@pytest.mark.slow
@pytest.mark.parametrize(("task", "metric", "final_fit"), [("binary", "f1", "bag")])
def test_the_searchs_final_model_adds_up(task, metric, final_fit, frame) -> None:
    # a bag of fold models of a blend (with temperatures and a tuned threshold, f1)
    from modelloop.tuning import search

    data = frame.head(160)
    found = search(
        data[FEATURES], data[TARGETS[task]], schema=mixed_schema(TARGETS[task]), task=task,
        metric=metric, candidates=["lightgbm", "logistic_regression"], cv=2, max_trials=2,
        final_fit=final_fit, seed=0,
    )  # fmt: skip
    model = found.model
    X = data[FEATURES].head(30)
    e = Explainer(model, task, FEATURES, background=data[FEATURES], name="searched").explain(X)
    if task == "regression":
        np.testing.assert_allclose(e.output_values, model.predict(X), atol=1e-6, rtol=1e-9)
    else:
        proba = model.predict_proba(X)
        classes = list(np.asarray(model.classes_))
        idx = [classes.index(c) for c in e.explained_class]
        np.testing.assert_allclose(e.output_values, proba[np.arange(len(X)), idx], atol=1e-6)
    assert e.detail  # says how each model of the final one was explained
