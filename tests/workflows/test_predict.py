"""``predict`` / ``predict_file`` with a registered model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modelloop as ml
from modelloop.exceptions import SchemaMismatchError, UnsupportedSourceError


@pytest.fixture
def registered(settings):
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["x", "y"], size=n)})
    df["target"] = df["a"] * 2 + (df["b"] == "x") + rng.normal(scale=0.1, size=n)
    ml.train(df, target="target", name="reg", models=["ridge"], cv=2, settings=settings)
    return df


def test_predict_frame_returns_prediction_column(registered, settings):
    out = ml.predict("reg", registered.drop(columns=["target"]).head(10), settings=settings)
    assert list(out.columns) == ["prediction"]
    truth = registered["target"].head(10).to_numpy()
    assert np.abs(out["prediction"].to_numpy() - truth).max() < 1.0


def test_predict_file_streams_batches_and_keeps_columns(registered, settings, tmp_path):
    src = tmp_path / "in.csv"
    registered.assign(row=range(len(registered))).to_csv(src, index=False)
    summary = ml.predict_file(
        "reg:1", src, tmp_path / "out.parquet", keep=["row"], batch_rows=30, settings=settings
    )
    assert summary.n_rows == 200 and summary.n_batches == 7
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == ["row", "prediction"]
    assert out["row"].astype(int).tolist() == list(range(200))


def test_predict_file_rejects_unknown_output_format(registered, settings, tmp_path):
    src = tmp_path / "in.csv"
    registered.to_csv(src, index=False)
    with pytest.raises(UnsupportedSourceError, match=r"\.csv or \.parquet"):
        ml.predict_file("reg", src, tmp_path / "out.xlsx", settings=settings)


def test_predict_file_leaves_no_partial_output_on_error(registered, settings, tmp_path):
    src = tmp_path / "in.csv"
    bad = registered.drop(columns=["target"]).astype({"a": str})
    bad.loc[150, "a"] = "oops"
    bad.to_csv(src, index=False)
    with pytest.raises(Exception, match="'oops'"):
        ml.predict_file("reg", src, tmp_path / "out.csv", batch_rows=50, settings=settings)
    assert not (tmp_path / "out.csv").exists()
    assert not (tmp_path / "out.csv.partial").exists()


def test_predict_missing_column(registered, settings):
    with pytest.raises(SchemaMismatchError, match="lacks column"):
        ml.predict("reg", registered[["a"]], settings=settings)
