"""``predict_files``: a glob of CSV/Parquet files into a folder of parts, locally and on Dask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelloop as ml
from modelloop.exceptions import SchemaMismatchError, UnsupportedSourceError
from modelloop.store import Store
from modelloop.workflows import load_model, predict_files
from modelloop.workflows._predict_distributed import _score_partition, _typed_numbers


@pytest.fixture
def registered(settings):
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["x", "y"], size=n)})
    df["target"] = np.where(df["a"] + (df["b"] == "x") > 0.5, "yes", "no")
    ml.train(
        df,
        target="target",
        name="clf",
        models=["logistic_regression"],
        cv=2,
        time_budget=None,
        max_trials=1,
        settings=settings,
    )
    return df.drop(columns=["target"]).assign(row=range(n))


def _split(frame: pd.DataFrame, folder: Path, kind: str, parts: int = 3) -> None:
    folder.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        piece = frame.iloc[chunk]
        if kind == "csv":
            piece.to_csv(folder / f"in-{i}.csv", index=False)
        else:
            piece.to_parquet(folder / f"in-{i}.parquet", index=False)


def _read(folder: Path) -> pd.DataFrame:
    parts = sorted(folder.glob("*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_predict_files_local_glob_writes_one_part_per_file(registered, settings, tmp_path, kind):
    _split(registered, tmp_path / "in", kind)
    summary = predict_files(
        "clf", str(tmp_path / "in" / f"*.{kind}"), tmp_path / "out", keep=["row"], settings=settings
    )
    assert (summary.n_files, summary.n_rows, summary.n_parts) == (3, 300, 3)
    out = _read(tmp_path / "out")
    assert sorted(out["row"].astype(int)) == list(range(300))
    assert {"prediction", "proba_no", "proba_yes"} <= set(out.columns)
    expected = ml.predict("clf", registered.drop(columns=["row"]), settings=settings)
    got = out.assign(row=out["row"].astype(int)).sort_values("row")["prediction"].tolist()
    assert got == expected["prediction"].tolist()
    assert not (tmp_path / "out.partial").exists()


@pytest.mark.slow
def test_predict_files_on_local_cluster_scores_every_row_once(registered, settings, tmp_path):
    from modelloop.tuning import connect_cluster

    expected = ml.predict("clf", registered.drop(columns=["row"]), settings=settings)
    client, cluster = connect_cluster("local:2")
    try:
        for kind in ("csv", "parquet"):
            _split(registered, tmp_path / kind, kind)
            summary = predict_files(
                "clf",
                str(tmp_path / kind / f"*.{kind}"),
                tmp_path / f"out-{kind}",
                keep=["row"],
                cluster=client,
                blocksize="4KB",  # several partitions per CSV file
                settings=settings,
            )
            assert summary.n_rows == 300 and summary.cluster == "client"
            out = _read(tmp_path / f"out-{kind}")
            assert sorted(out["row"].astype(int)) == list(range(300))
            got = out.assign(row=out["row"].astype(int)).sort_values("row")
            np.testing.assert_allclose(
                got["proba_yes"].to_numpy(), expected["proba_yes"].to_numpy()
            )
        assert summary.n_parts >= 3
    finally:
        client.close()
        cluster.close()


def test_predict_files_names_missing_matches_and_bad_outputs(registered, settings, tmp_path):
    with pytest.raises(UnsupportedSourceError, match="No file matches"):
        predict_files("clf", str(tmp_path / "none" / "*.csv"), tmp_path / "o", settings=settings)
    _split(registered, tmp_path / "in", "csv")
    with pytest.raises(UnsupportedSourceError, match="folder of Parquet parts"):
        predict_files("clf", str(tmp_path / "in" / "*.csv"), tmp_path / "o.csv", settings=settings)


def test_predict_files_leaves_no_output_when_a_file_is_bad(registered, settings, tmp_path):
    _split(registered, tmp_path / "in", "csv")
    registered.drop(columns=["a"]).to_csv(tmp_path / "in" / "in-9.csv", index=False)
    with pytest.raises(SchemaMismatchError, match="'a'"):
        predict_files(
            "clf", str(tmp_path / "in" / "*.csv"), tmp_path / "out", keep=["row"], settings=settings
        )
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "out.partial").exists()


def test_predict_cli_glob_writes_a_folder(registered, settings, tmp_path, capsys):
    from modelloop.cli import main

    _split(registered, tmp_path / "in", "parquet")
    code = main(
        [
            "predict",
            "clf",
            str(tmp_path / "in" / "*.parquet"),
            "-o",
            str(tmp_path / "out"),
            "--home",
            str(settings.home),
            "--ignore-extra",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "Scored 300 rows of 3 file(s)" in capsys.readouterr().out
    assert len(_read(tmp_path / "out")) == 300


def test_score_partition_types_numbers_as_the_enforcer_would(registered, settings):
    # A CSV partition as dd.read_csv(dtype=str, na_values=[""]) gives it: text, markers kept.
    frame = registered.astype(str)
    frame.loc[[2, 40], "a"] = ["NA", "?"]
    frame.loc[7, "a"] = ""
    with Store.from_settings(settings) as store:
        model = load_model("clf", store=store)
    typed = _typed_numbers(frame, model.schema, keep=["row"])
    assert typed["a"].dtype == "float64" and typed["a"].isna().sum() == 3
    assert typed["b"].tolist() == frame["b"].tolist() and typed["row"].dtype == frame["row"].dtype
    scored = _score_partition(frame, model, ["row"])
    pd.testing.assert_frame_equal(
        scored.drop(columns=["row"]), model.predict_frame(frame), check_exact=True
    )
    padded = frame.copy()
    padded.loc[0, "a"] = " 0.5 "  # not a plain number: left as text for the enforcer
    assert _typed_numbers(padded, model.schema, keep=())["a"].dtype == frame["a"].dtype
