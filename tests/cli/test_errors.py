"""Every bad input named by the foundation issue: one clear line, exit status 2, store unchanged."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def small_home(tmp_path_factory) -> Path:
    """A store holding one small model 'toy' (version 1), trained on synthetic data."""
    from modelloop.cli import main

    home = tmp_path_factory.mktemp("toy-home")
    data = tmp_path_factory.mktemp("toy-data") / "toy.csv"
    rng = pd.Series(range(200))
    frame = pd.DataFrame(
        {
            "x": rng * 0.5,
            "colour": ["red", "green", "blue", "red"] * 50,
            "label": ["yes" if v % 3 else "no" for v in range(200)],
        }
    )
    frame.to_csv(data, index=False)
    assert (
        main(
            [
                "train",
                str(data),
                "--target",
                "label",
                "--home",
                str(home),
                "--models",
                "logistic_regression",
                "--cv",
                "2",
            ]
        )
        == 0
    )
    return home


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def assert_clean_error(res, *fragments: str) -> None:
    assert res.code == 2, (res.code, res.out, res.err)
    assert "Traceback" not in res.err
    message = " ".join(res.err.split())
    for fragment in fragments:
        assert fragment in message, message
    assert message.startswith("error:")


def test_misspelled_target_suggests_closest_column(cli, tmp_path, snapshot):
    data = write(tmp_path / "d.csv", "age,income,churn\n1,2,yes\n3,4,no\n")
    home = tmp_path / "h"
    res = cli("train", data, "--target", "chrun", "--home", home)
    assert_clean_error(res, "'chrun'", "Did you mean 'churn'?")
    assert snapshot(home)["db"] is None


def test_empty_file_is_refused(cli, tmp_path, snapshot):
    data = write(tmp_path / "empty.csv", "")
    res = cli("train", data, "--target", "y", "--home", tmp_path / "h")
    assert_clean_error(res, "empty.csv")
    assert snapshot(tmp_path / "h")["db"] is None


def test_header_only_file_is_refused(cli, tmp_path):
    data = write(tmp_path / "head.csv", "a,b,y\n")
    assert_clean_error(cli("train", data, "--target", "y", "--home", tmp_path / "h"), "head.csv")


def test_file_that_is_not_a_table_is_refused(cli, tmp_path):
    data = tmp_path / "image.csv"
    data.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    assert_clean_error(cli("train", data, "--target", "y", "--home", tmp_path / "h"), "image.csv")


def test_unsupported_extension_is_refused(cli, tmp_path):
    data = write(tmp_path / "notes.docx", "hello")
    assert_clean_error(
        cli("train", data, "--target", "y", "--home", tmp_path / "h"), "notes.docx", ".csv"
    )


def test_missing_file_is_refused(cli, tmp_path):
    assert_clean_error(
        cli("train", tmp_path / "nope.csv", "--target", "y", "--home", tmp_path / "h"), "nope.csv"
    )


def test_target_all_missing_is_refused(cli, tmp_path, snapshot):
    rows = "\n".join(f"{i},{i % 3}," for i in range(30))
    data = write(tmp_path / "d.csv", "a,b,y\n" + rows + "\n")
    res = cli("train", data, "--target", "y", "--home", tmp_path / "h")
    assert_clean_error(res, "'y'", "missing")
    assert snapshot(tmp_path / "h")["db"] is None


def test_target_with_one_class_is_refused(cli, tmp_path):
    rows = "\n".join(f"{i},{i % 3},yes" for i in range(30))
    data = write(tmp_path / "d.csv", "a,b,y\n" + rows + "\n")
    assert_clean_error(
        cli("train", data, "--target", "y", "--home", tmp_path / "h"), "single class", "'yes'"
    )


def test_column_of_mixed_garbage_is_refused(cli, tmp_path):
    junk = ["1", "abc", "2.5", "#$%", "7", "zz top", "3", "??x", "4", "k9"] * 6
    frame = pd.DataFrame({"a": range(60), "junk": junk, "y": [0, 1] * 30})
    frame.to_csv(tmp_path / "d.csv", index=False)
    res = cli("train", tmp_path / "d.csv", "--target", "y", "--home", tmp_path / "h")
    assert_clean_error(res, "'junk'", "--types junk=categorical")


def test_train_rules_violation_is_refused_before_the_store_is_touched(cli, tmp_path, snapshot):
    rows = "\n".join(f"{i % 20},{i % 2}" for i in range(40))
    data = write(tmp_path / "d.csv", "a,y\n" + rows + "\n")
    rules = write(tmp_path / "rules.yaml", "columns:\n  a: {max: 10}\n")
    res = cli("train", data, "--target", "y", "--rules", rules, "--home", tmp_path / "h")
    assert_clean_error(res, "column 'a'", "18 rows")
    assert snapshot(tmp_path / "h")["db"] is None


def test_time_budget_must_be_positive(cli, tmp_path, snapshot):
    rows = "\n".join(f"{i},{i % 2}" for i in range(40))
    data = write(tmp_path / "d.csv", "a,y\n" + rows + "\n")
    for budget in ("0", "-5"):
        res = cli("train", data, "--target", "y", "--time-budget", budget, "--home", tmp_path / "h")
        assert_clean_error(res, "time_budget", "> 0")
    assert snapshot(tmp_path / "h")["db"] is None


def test_unknown_model_name_is_refused(cli, small_home, tmp_path, snapshot):
    before = snapshot(small_home)
    data = write(tmp_path / "p.csv", "x,colour\n1,red\n")
    res = cli("predict", "tyo", data, "-o", tmp_path / "o.csv", "--home", small_home)
    assert_clean_error(res, "'tyo'", "Did you mean 'toy'")
    assert snapshot(small_home) == before


def test_unknown_version_and_alias_are_refused(cli, small_home, tmp_path):
    data = write(tmp_path / "p.csv", "x,colour\n1,red\n")
    assert_clean_error(
        cli("predict", "toy:7", data, "-o", tmp_path / "o.csv", "--home", small_home),
        "version 7",
        "1",
    )
    assert_clean_error(
        cli("predict", "toy@staging", data, "-o", tmp_path / "o.csv", "--home", small_home),
        "staging",
    )


def test_prediction_file_missing_a_column_is_refused(cli, small_home, tmp_path, snapshot):
    before = snapshot(small_home)
    data = write(tmp_path / "p.csv", "x\n1\n2\n")
    res = cli("predict", "toy", data, "-o", tmp_path / "o.csv", "--home", small_home)
    assert_clean_error(res, "p.csv", "'colour'")
    assert not (tmp_path / "o.csv").exists()
    assert snapshot(small_home) == before


def test_prediction_file_with_extra_columns_is_refused_unless_ignored(cli, small_home, tmp_path):
    data = write(tmp_path / "p.csv", "x,colour,shoe_size\n1,red,42\n2,blue,40\n")
    res = cli("predict", "toy", data, "-o", tmp_path / "o.csv", "--home", small_home)
    assert_clean_error(res, "'shoe_size'", "--ignore-extra")
    ok = cli(
        "predict", "toy", data, "-o", tmp_path / "o.csv", "--home", small_home, "--ignore-extra"
    )
    assert ok.code == 0, ok.err
    assert len(pd.read_csv(tmp_path / "o.csv")) == 2


def test_prediction_with_unseen_category_and_gzip_input_works(cli, small_home, tmp_path):
    path = tmp_path / "p.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("x,colour\n1,purple\n2,\n")
    res = cli("predict", "toy", path, "-o", tmp_path / "o.parquet", "--home", small_home)
    assert res.code == 0, res.err
    assert len(pd.read_parquet(tmp_path / "o.parquet")) == 2


def test_predict_explain_adds_contributions_that_add_up(cli, small_home, tmp_path):
    data = write(tmp_path / "p.csv", "x,colour\n1,red\n2,\n30,blue\n")
    res = cli("predict", "toy", data, "-o", tmp_path / "o.csv", "--home", small_home, "--explain")
    assert res.code == 0, res.err
    assert "Explained: probability, linear: LogisticRegression" in " ".join(res.out.split())
    out = pd.read_csv(tmp_path / "o.csv")
    contribs = ["contrib_x", "contrib_colour"]
    assert list(out.columns[-4:]) == ["output_value", "base_value", *contribs]
    total = out["base_value"] + out[contribs].sum(axis=1)
    assert (total - out["proba_yes"]).abs().max() < 1e-6  # 'yes' is the second class
    assert set(out["explained_class"]) == {"yes"}


def test_predict_explain_refuses_what_the_model_cannot_be_explained_as(
    cli, small_home, tmp_path, snapshot
):
    before = snapshot(small_home)
    data = write(tmp_path / "p.csv", "x,colour\n1,red\n")
    args = ("predict", "toy", data, "-o", tmp_path / "o.csv", "--home", small_home, "--explain")
    res = cli(*args, "--explain-output", "value")
    assert_clean_error(
        res,
        "Model 'toy:1' (binary) cannot be explained as value:",
        "Available: probability, log-odds.",
    )
    res = cli(*args, "--explain-class", "maybe")
    assert_clean_error(res, "Model 'toy:1' has no class 'maybe' to explain. Classes: no, yes.")
    res = cli(*args[:-1], "--explain-output", "log-odds")
    assert_clean_error(res, "--explain-output and --explain-class need --explain.")
    assert not (tmp_path / "o.csv").exists()
    assert snapshot(small_home) == before


def test_non_numeric_value_in_numeric_column_names_row(cli, small_home, tmp_path):
    data = write(tmp_path / "p.csv", "x,colour\n1,red\nforty,blue\n")
    res = cli("predict", "toy", data, "-o", tmp_path / "o.csv", "--home", small_home)
    assert_clean_error(res, "'x'", "numeric", "'forty'", "row 2")


def test_unknown_metric_and_task_are_refused(cli, tmp_path):
    rows = "\n".join(f"{i},{i % 2}" for i in range(40))
    data = write(tmp_path / "d.csv", "a,y\n" + rows + "\n")
    assert_clean_error(
        cli("train", data, "--target", "y", "--metric", "acc", "--home", tmp_path / "h"),
        "'acc'",
        "accuracy",
    )
    assert_clean_error(
        cli("train", data, "--target", "y", "--task", "ranking", "--home", tmp_path / "h"),
        "ranking",
    )


def test_debug_shows_traceback(cli, tmp_path):
    data = write(tmp_path / "d.csv", "age,churn\n1,yes\n2,no\n")
    res = cli("--debug", "train", data, "--target", "chrun", "--home", tmp_path / "h")
    assert res.code == 2
    assert "Traceback" in res.err
