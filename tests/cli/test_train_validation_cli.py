"""``modelloop train --group/--time/--gap``: one-line errors (exit 2) and warnings up front."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def visits(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "patient_id": rng.integers(0, 12, n),
            "visit_date": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "x": rng.normal(size=n),
            "y": rng.integers(0, 2, n),
        }
    )
    path = tmp_path / "visits.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group", "nope"], "error: The group column 'nope' is not a column of visits"),
        (
            ["--group", "patient_id", "--time", "visit_date"],
            "error: Validation is by group or by time, not both",
        ),
        (["--time", "visit_date", "--gap", "soon"], "error: gap must be a number of rows"),
        (["--group", "patient_id", "--cv", "12"], "error: Group column 'patient_id' has"),
        (
            ["--task", "clustering", "--time", "visit_date"],
            "error: --group, --time and --gap apply to",
        ),
    ],
)
def test_train_validation_errors_are_one_line_with_exit_2(cli, tmp_path, visits, args, message):
    home = tmp_path / "home"
    target = [] if "clustering" in args else ["--target", "y"]
    r = cli("train", visits, *target, "--max-trials", "1", "--home", home, *args)
    assert r.code == 2, r.err
    last = r.err.strip().splitlines()[-1]  # after any warning about the data
    assert last.startswith(message), r.err
    assert "Traceback" not in r.err and not home.exists()


def test_train_help_shows_the_validation_options(cli):
    r = cli("train", "--help")
    text = " ".join(r.out.split())
    for option in ("--group", "--time", "--gap"):
        assert option in text
    assert "7D," in text


def test_profile_warns_about_grouped_and_time_ordered_rows(cli, visits):
    r = cli("profile", visits, "--target", "y")
    assert r.code == 0
    err = " ".join(r.err.split())
    assert "--group patient_id" in err and "--time visit_date" in err
