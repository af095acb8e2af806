"""retrain with the champion's sample weights and custom metric (imported only with trust)."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelloop.exceptions import UntrustedCodeError

MODEL = "weighty"


@pytest.fixture
def champion(settings, tmp_path, monkeypatch):
    """Version 1 trained with weight column 'w' and metric '<module>:hits'; 150 labelled
    production rows logged without a weight."""
    from sklearn.linear_model import LogisticRegression

    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.store import Store

    monkeypatch.chdir(tmp_path)
    module = f"retrain_metrics_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "import numpy as np\n"
        "import sys\n"
        "sys.retrain_metric_imported = True\n"
        "def hits(y_true, y_pred, sample_weight=None):\n"
        "    same = np.asarray(y_true).astype(str) == np.asarray(y_pred).astype(str)\n"
        "    return float(np.average(same, weights=sample_weight))\n"
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300)})
    frame["y"] = np.where(frame["x"] + 0.3 * rng.normal(size=300) > 0, "yes", "no")
    frame["w"] = rng.uniform(0.5, 2.0, size=300)
    schema = infer_schema(frame, target="y", types={"w": "identifier"})
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[["x"]], frame["y"], model__sample_weight=frame["w"].to_numpy())
    metric = f"{module}:hits"
    params = {"candidates": ["logistic_regression"], "max_trials": 1, "cv": 2, "seed": 0,
              "time_budget": None, "weight": "w",
              "metric_spec": {"greater_is_better": True, "needs_proba": False}}  # fmt: skip
    with Store.from_settings(settings) as store:
        run = store.create_run(name=MODEL, dataset_hash=None, target="y", task="binary",
                               metric=metric, params=params)  # fmt: skip
        store.finish_run(run.id, status="finished")
        bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary",
                  "target": "y", "classes": ["no", "yes"], "metric": metric}  # fmt: skip
        store.register_model(
            MODEL, bundle, run_id=run.id, schema=schema.to_dict(), task="binary", metrics={},
            aliases=["production"], reference=frame, lineage={"trigger": "train", "weight": "w"},
        )  # fmt: skip
        new = pd.DataFrame({"x": rng.normal(size=150)})
        labels = np.where(new["x"] > 0, "yes", "no")
        store.log_predictions(
            [{"request_id": f"p{i}", "model_name": MODEL, "model_version": 1, "inputs": {"x": x}}
             for i, x in enumerate(new["x"])]
        )  # fmt: skip
        store.record_feedback(
            MODEL, [{"request_id": f"p{i}", "label": y} for i, y in enumerate(labels)],
            task="binary", classes=["no", "yes"],
        )  # fmt: skip
    yield metric
    sys.modules.pop(module, None)
    if hasattr(sys, "retrain_metric_imported"):
        del sys.retrain_metric_imported


def test_retrain_without_trust_refuses_the_custom_metric_and_imports_nothing(
    settings, champion
) -> None:
    from modelloop.workflows import retrain

    with pytest.raises(UntrustedCodeError, match=f"Metric '{champion}' is Python code"):
        retrain(MODEL, settings=settings)
    assert not hasattr(sys, "retrain_metric_imported")


@pytest.mark.slow
def test_retrain_with_trust_reuses_the_weights_and_the_metric(settings, champion) -> None:
    from modelloop.store import Store
    from modelloop.workflows import retrain

    trusted: Any = settings.with_overrides(trust=True)
    result = retrain(MODEL, settings=trusted, min_holdout=30)
    assert result.metric == champion
    assert champion in result.champion_metrics and champion in result.challenger_metrics
    assert any("carry no weight in column 'w'" in n for n in result.notes)
    with Store.from_settings(settings) as store:
        params = store.get_run(result.train_result.run_id).params
    assert params["weight"] == "w"
    assert params["metric_spec"] == {"greater_is_better": True, "needs_proba": False}
