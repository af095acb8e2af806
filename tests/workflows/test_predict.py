"""``predict`` / ``predict_file`` with a registered model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modelloop as ml
from modelloop.data import Role, iter_batches
from modelloop.exceptions import SchemaMismatchError, UnsupportedSourceError
from modelloop.store import Store
from modelloop.workflows import load_model


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


def test_predict_file_explains_each_batch_and_model_explain_returns_a_frame(
    registered, settings, tmp_path
):
    src = tmp_path / "in.csv"
    registered.to_csv(src, index=False)
    summary = ml.predict_file(
        "reg", src, tmp_path / "out.parquet", batch_rows=70, ignore_extra=True,
        explain=ml.workflows.ExplainOptions(), settings=settings,
    )  # fmt: skip
    assert summary.explained.startswith("value, linear: Ridge: exact linear contributions")
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == ["prediction", "output_value", "base_value", "contrib_a",
                                 "contrib_b"]  # fmt: skip
    total = out["base_value"] + out["contrib_a"] + out["contrib_b"]
    np.testing.assert_allclose(total, out["prediction"], atol=1e-9)
    # the base is the mean prediction over the training rows; 'a' drives the target most
    assert abs(out["base_value"].iloc[0] - out["prediction"].mean()) < 0.5
    assert out["contrib_a"].abs().mean() > out["contrib_b"].abs().mean()
    rows = registered.drop(columns=["target"]).head(5)
    frame = ml.workflows.explain("reg", rows, settings=settings)
    np.testing.assert_allclose(frame.to_numpy(), out.iloc[:5, 1:].to_numpy(), atol=1e-12)
    assert frame.attrs["output"] == "value" and frame.attrs["method"] == "linear"
    with Store.from_settings(settings) as store:
        loaded = load_model("reg", store=store)
        assert loaded.explain(rows).equals(frame)


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


# ---------------------------------------------------------------- typed reads of CSV batches


def _text_read_scores(model, src, batch_rows: int) -> pd.DataFrame:
    """Scores as before typed reads: every CSV column as text, parsed by the enforcer."""
    batches = iter_batches(src, batch_rows=batch_rows)
    return pd.concat([model.predict_frame(b) for b in batches], ignore_index=True)


def test_predict_file_typed_read_matches_text_read_with_missing_markers(settings, tmp_path):
    rng = np.random.default_rng(1)
    n = 240
    a = rng.normal(size=n).round(3)
    df = pd.DataFrame({"a": a, "b": rng.choice(["x", "y"], size=n), "c": rng.integers(0, 9, n)})
    df["target"] = 2 * df["a"] - df["c"] + (df["b"] == "x") + rng.normal(scale=0.1, size=n)
    ml.train(
        df, target="target", name="mk", models=["ridge"], cv=2, max_trials=1, settings=settings
    )
    new = df.drop(columns=["target"]).astype(str)
    for i, marker in enumerate(["NA", "?", "", "null", "N/A"]):
        new.loc[3 + 7 * i, "a"] = marker
        new.loc[5 + 11 * i, "c"] = marker
    new.loc[130, "a"] = " 1.25 "  # padded: this batch keeps 'a' as text for the enforcer
    src = tmp_path / "new.csv"
    new.assign(row=range(n)).to_csv(src, index=False)
    model = load_model("mk", store=Store.from_settings(settings))
    batches = list(iter_batches(src, batch_rows=50, schema=model.schema, raw=["row"]))
    assert [str(b["a"].dtype) for b in batches] == [
        "float64",
        "float64",
        "str",
        "float64",
        "float64",
    ]
    assert all(str(b["c"].dtype) == "float64" and str(b["row"].dtype) == "str" for b in batches)
    assert batches[0]["a"].isna().sum() == 5  # rows 3, 10, ..., 31: each marker is missing

    ml.predict_file(
        "mk", src, tmp_path / "out.parquet", keep=["row"], batch_rows=50, settings=settings
    )
    got = pd.read_parquet(tmp_path / "out.parquet")
    expected = _text_read_scores(model, src, 50)
    assert got["row"].tolist() == [str(i) for i in range(n)]  # kept columns are copied as read
    pd.testing.assert_frame_equal(got[["prediction"]], expected, check_exact=True)
    assert got["prediction"].isna().sum() == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "target", "model"),
    [
        ("titanic", "Survived", "logistic_regression"),
        ("auto_mpg", "mpg", "ridge"),  # '?' in horsepower
        ("ames_house_prices", "SalePrice", "ridge"),  # 'NA' in many columns
    ],
)
def test_predict_file_typed_read_matches_text_read_on_real_data(
    shared_datasets, settings, tmp_path, name, target, model
):
    src = shared_datasets / f"{name}.csv"
    ml.train(src, target=target, name=name, models=[model], cv=2, max_trials=1, settings=settings)
    loaded = load_model(name, store=Store.from_settings(settings))
    numeric = [
        c for c in loaded.schema.by_role(Role.NUMERIC) if c in loaded.schema.feature_columns()
    ]
    first = next(iter_batches(src, batch_rows=300, schema=loaded.schema))
    assert numeric and all(first[c].dtype == "float64" for c in numeric)  # typed as read
    out = tmp_path / "out.parquet"
    ml.predict_file(name, src, out, batch_rows=300, ignore_extra=True, settings=settings)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), _text_read_scores(loaded, src, 300), check_exact=True
    )
