"""`modelloop train` works on every real dataset in ../shared/datasets with its target."""

from __future__ import annotations

import json

import pytest

# (file, target, task, drop): the targets and tasks given by ../shared/datasets/MANIFEST.md.
CASES = [
    ("titanic.csv", "Survived", "binary", ()),
    ("ames_house_prices.csv", "SalePrice", "regression", ()),
    ("penguins.csv", "species", "multiclass", ()),
    ("diamonds.csv", "price", "regression", ()),
    ("bank_marketing.csv", "subscribe", "binary", ("duration",)),
    ("credit_g_german.csv", "default", "binary", ()),
    ("wine_quality_red.csv", "quality", "multiclass", ()),
    ("auto_mpg.csv", "mpg", "regression", ()),
    ("airbnb_amsterdam.csv", "price", "regression", ()),
]


@pytest.mark.slow
@pytest.mark.parametrize(("file", "target", "task", "drop"), CASES, ids=[c[0] for c in CASES])
def test_train_on_shared_dataset(cli, tmp_path, shared_datasets, file, target, task, drop):
    drops = [arg for col in drop for arg in ("--drop", col)]
    res = cli(
        "train",
        shared_datasets / file,
        "--target",
        target,
        "--home",
        tmp_path / "h",
        "--models",
        "lightgbm",
        "--cv",
        "2",
        "--max-trials",
        "2",
        "--json",
        *drops,
    )
    assert res.code == 0, res.err
    payload = json.loads(res.out)
    assert payload["task"] == task
    assert payload["version"] == 1
    metric = payload["metric"]
    value = payload["test_metrics"][metric]
    if metric == "roc_auc":
        assert value > 0.7
    elif metric == "log_loss":
        assert value < 1.2
    else:
        assert payload["test_metrics"]["r2"] > 0.3
    scored = tmp_path / "scored.parquet"
    res = cli(
        "predict",
        f"{payload['name']}:1",
        shared_datasets / file,
        "-o",
        scored,
        "--home",
        tmp_path / "h",
        "--ignore-extra",
    )
    assert res.code == 0, res.err
