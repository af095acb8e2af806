"""train --weight and --metric module:function (with --trust) on the command line."""

from __future__ import annotations

import json
import sys
import uuid

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def data(tmp_path, monkeypatch):
    """A CSV with a weight column and a user module of metrics, in the working folder."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = (frame["a"] + rng.normal(size=200) * 0.5 > 0).astype(int)
    frame["w"] = rng.uniform(0.5, 2.0, size=200)
    frame.to_csv(tmp_path / "d.csv", index=False)
    module = f"scoring_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "import numpy as np\n"
        "def hits(y_true, y_pred, sample_weight=None):\n"
        "    same = np.asarray(y_true).astype(str) == np.asarray(y_pred).astype(str)\n"
        "    return float(np.average(same, weights=sample_weight))\n"
        "def words(y_true, y_pred):\n    return 'many'\n"
        "table = {}\n"
    )
    yield tmp_path, module
    sys.modules.pop(module, None)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metric", "{m}:hits"], "error: Metric '{m}:hits' is Python code: importing module"),
        (["--metric", "{m}:hits", "--trust"], "say whether larger values are better"),
        (["--metric", "nosuch_zz:f", "--trust", "--greater-is-better"], "no module named"),
        (["--metric", "{m}:table", "--trust", "--greater-is-better"], "must be a function"),
        (["--metric", "{m}:words", "--trust", "--greater-is-better"], "must return a number"),
        (["--weight", "zz"], "weight column 'zz' is not a column of d"),
        (["--weight", "a"], "must hold weights >= 0. Got"),
        (["--weight", "w", "--models", "knn"], "knn cannot be fitted with sample weights"),
        (["--weight", "y"], "weight column 'y' is the target"),
    ],
)
def test_train_refuses_bad_weights_and_metrics_in_one_line(cli, data, extra, message) -> None:
    folder, module = data
    args = [a.format(m=module) for a in extra]
    r = cli("train", "d.csv", "-t", "y", "--max-trials", "1", "--home", folder / "h", *args)
    assert r.code == 2, r.err
    assert message.format(m=module) in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert "Traceback" not in r.err
    assert not (folder / "h").exists()  # refused before the store was touched


@pytest.mark.slow
def test_train_with_weights_and_a_custom_metric_records_both(cli, data) -> None:
    folder, module = data
    r = cli(
        "train", "d.csv", "-t", "y", "--max-trials", "2", "--models", "logistic_regression",
        "--weight", "w", "--metric", f"{module}:hits", "--greater-is-better", "--trust",
        "--home", folder / "h", "--json", "--report", folder / "r.html",
    )  # fmt: skip
    assert r.code == 0, r.err
    page = (folder / "r.html").read_text()
    assert f"{module}:hits" in page  # the selection metric's row in the metric table
    out = json.loads(r.out)
    assert out["metric"] == f"{module}:hits"
    assert set(out["cv_metrics"]) == {f"{module}:hits", f"{module}:hits_std"}
    assert f"{module}:hits" in out["test_metrics"] and "accuracy" in out["test_metrics"]
    # the weighted accuracy and the custom weighted hit rate are the same number
    assert out["test_metrics"][f"{module}:hits"] == pytest.approx(out["test_metrics"]["accuracy"])
    from modelloop.config import Settings
    from modelloop.store import Store

    store = Store.from_settings(Settings().with_overrides(home=folder / "h"))
    try:
        run = store.get_run(out["run_id"])
        version = store.resolve(f"d:{out['version']}")
    finally:
        store.close()
    assert run.params["weight"] == "w"
    assert run.params["metric_spec"] == {"greater_is_better": True, "needs_proba": False}
    assert version.lineage["weight"] == "w"
    roles = {c["name"]: c["role"] for c in version.schema["columns"]}
    assert roles["w"] == "identifier"  # never a feature
