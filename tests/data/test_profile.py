"""profile(): the per-column table and its warnings."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pandas as pd
import pytest

from modelloop.data import load, profile
from modelloop.exceptions import ColumnNotFoundError


@pytest.fixture
def synthetic() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random(n) < 0.3).astype(int)
    return pd.DataFrame(
        {
            "row_id": np.arange(n),
            "x": rng.normal(size=n),
            "status": np.where(y == 1, "closed", "open"),  # the target, spelled differently
            "mostly_missing": np.where(rng.random(n) < 0.8, None, "v"),
            "city": rng.choice(["a", "b", "c"], size=n),
            "y": y,
        }
    )


def test_profile_table(synthetic):
    p = profile(load(synthetic, target="y"))
    assert p.n_rows == 400 and p.n_cols == 6
    assert p.table.columns.tolist() == [
        "column", "role", "dtype", "missing_pct", "distinct", "summary", "note",
    ]  # fmt: skip
    row = p.table.set_index("column").loc["x"]
    assert row["role"] == "numeric" and " .. " in row["summary"] and "mean" in row["summary"]
    city = p.table.set_index("column").loc["city"]
    assert city["summary"].count("(") == 3
    assert p.table.set_index("column").loc["mostly_missing", "missing_pct"] > 70


def test_profile_warnings_leak_missing_identifier(synthetic):
    p = profile(load(synthetic, target="y"))
    text = "\n".join(p.warnings)
    assert "read off column 'status'" in text
    assert "'x'" not in text and "'city'" not in text
    assert re.search(r"Column 'mostly_missing' is \d\d% missing", text)
    assert "Column 'row_id': identifier" in text


def test_profile_numeric_leak_by_correlation():
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    frame = pd.DataFrame(
        {"leak": y * 2 + rng.normal(scale=0.01, size=300), "x": rng.normal(size=300), "y": y}
    )
    p = profile(load(frame, target="y"))
    assert any("'leak' is nearly equal to the target 'y' (correlation" in w for w in p.warnings)
    assert not any("'x'" in w for w in p.warnings)
    assert p.target["task"] == "regression" and p.target["min"] == pytest.approx(y.min())


def test_profile_imbalance_and_rare_classes():
    y = ["a"] * 190 + ["b"] * 5 + ["c"] * 5
    p = profile(load(pd.DataFrame({"x": np.arange(200) % 7, "y": y}), target="y"))
    text = "\n".join(p.warnings)
    assert "imbalanced: class(es) 'b' 2.5%, 'c' 2.5% of rows" in text
    assert "rare class(es) 'b' (5), 'c' (5)" in text
    assert p.target["classes"] == {"a": 190, "b": 5, "c": 5}


def test_profile_boolean_summary_uses_labels():
    frame = pd.DataFrame({"smoker": ["yes", "no", "no", "no"], "x": [1.0, 2, 3, 4]})
    p = profile(load(frame))
    assert p.table.set_index("column").loc["smoker", "summary"] == "no (3), yes (1)"
    assert p.target is None


def test_profile_to_dict_is_json_safe(synthetic):
    d = profile(load(synthetic, target="y")).to_dict()
    again = json.loads(json.dumps(d, allow_nan=False))
    assert again["target"]["task"] == "binary"
    assert len(again["columns"]) == 6


def test_profile_unknown_target(synthetic):
    with pytest.raises(ColumnNotFoundError, match="Did you mean 'city'"):
        profile(load(synthetic), target="cty")


def test_profile_bank_marketing_is_fast(shared_datasets):
    ds = load(shared_datasets / "bank_marketing.csv", target="subscribe")
    start = time.perf_counter()
    p = profile(ds)
    assert time.perf_counter() - start < 2.0
    assert p.target["classes"] == {"0": 39922, "1": 5289}
    assert any("checked on a sample of 20,000 rows" in w for w in p.warnings) or not any(
        "leak" in w for w in p.warnings
    )


def test_profile_airbnb_dropped_columns(shared_datasets):
    p = profile(load(shared_datasets / "airbnb_amsterdam.csv", target="price"))
    text = "\n".join(p.warnings)
    assert "Column 'neighbourhood_group': constant (all missing): dropped" in text
    assert "Column 'host_id': identifier" in text
    summary = p.table.set_index("column").loc["last_review", "summary"]
    assert summary.startswith("2011") or summary.startswith("2012")


def test_profile_of_a_sample_says_what_is_exact(tmp_path):
    rng = np.random.default_rng(1)
    n = 20_000
    frame = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n)})
    frame.loc[: n // 2 - 1, "x"] = np.nan  # the first half: exact share 50%
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    prof = profile(load(path, sample_rows=1_000, seed=0))
    assert prof.warnings[0].startswith(
        "Profiled a uniform reservoir sample of 1,000 of 20,000 rows (seed 0) because "
        "sample_rows=1,000 was asked."
    )
    assert "Exact over all 20,000 rows" in prof.warnings[0]
    row = prof.table.set_index("column").loc["x"]
    assert row["missing_pct"] == 50.0  # exact over the file, not the sample's share
    present = frame["x"].dropna()
    assert (
        row["summary"] == f"{present.min():.4g} .. {present.max():.4g} (mean {present.mean():.4g})"
    )
    sample = json.loads(json.dumps(prof.to_dict()))["sample"]
    assert (sample["rows_kept"], sample["rows_total"]) == (1_000, 20_000)
    assert sample["method"] == "uniform reservoir sample, seed 0"
    assert sample["exact_columns"]["numeric_summary"] == ["x"]
    assert "distinct" in sample["over_sample"]


def test_profile_of_a_whole_dataset_has_no_sample(synthetic):
    prof = profile(load(synthetic, target="y"))
    assert prof.sample is None and prof.to_dict()["sample"] is None
    assert not any(w.startswith("Profiled") for w in prof.warnings)


def test_validation_hints_name_key_columns_that_repeat_and_date_columns():
    from modelloop.data import validation_hints

    n = 60
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(n) % 12,  # repeats: rows of one customer
            "order_id": np.arange(n),  # every value distinct: an identifier, no hint
            "color": np.arange(n) % 5,  # repeats, but no key-like name
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "y": np.arange(n) % 2,
        }
    )
    ds = load(frame, target="y")
    hints = validation_hints(ds.frame, ds.schema, "y")
    assert len(hints) == 2
    assert "'customer_id' repeats its values (12 values over 60 rows)" in hints[0]
    assert "--group customer_id" in hints[0] and "--time when" in hints[1]
    assert any("--time when" in w for w in profile(ds).warnings)
    assert validation_hints(ds.frame, ds.schema, "customer_id")[0].startswith("Column 'when'")
