"""``modelloop profile`` of a file bigger than the asked sample."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def test_profile_command_shows_the_sample(cli, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=5_000), "y": rng.choice(["a", "b"], 5_000)})
    path = tmp_path / "f.parquet"
    frame.to_parquet(path, index=False)
    result = cli("profile", path, "--target", "y", "--sample-rows", "400")
    assert result.code == 0, result.err
    assert "sample of 400 of 5,000 rows" in result.out
    assert "'y'-stratified reservoir sample of 400 of 5,000 rows" in " ".join(result.err.split())
    as_json = cli("profile", path, "--sample-rows", "400", "--json")
    payload = json.loads(as_json.out)
    assert payload["n_rows"] == 400
    assert payload["sample"]["rows_total"] == 5_000


def test_profile_command_small_file_is_whole(cli, tmp_path):
    path = tmp_path / "f.csv"
    pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "a"]}).to_csv(path, index=False)
    result = cli("profile", path, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["sample"] is None
