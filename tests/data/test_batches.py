"""iter_batches(): streaming files in bounded batches with stable dtypes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv
import pytest

from modelloop.data import _batches as batches_module
from modelloop.data import conform, iter_batches, load, sniff_format
from modelloop.exceptions import InvalidInputError, UnsupportedSourceError


def _csv(path: Path, n: int = 10_000) -> Path:
    lines = ["id,x,c,flag"]
    for i in range(n):
        x = "?" if i % 997 == 0 else f"{i * 0.5}"
        c = "" if i >= 9_000 else ("a" if i % 3 else "b")  # the last batch has no 'c' at all
        lines.append(f"{i},{x},{c},{'yes' if i % 2 else 'no'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_iter_batches_csv_sizes_and_dtypes(tmp_path):
    batches = list(iter_batches(_csv(tmp_path / "big.csv"), batch_rows=1000))
    assert [len(b) for b in batches] == [1000] * 10
    dtypes = {tuple(map(str, b.dtypes)) for b in batches}
    assert len(dtypes) == 1
    assert batches[-1]["c"].isna().all()
    assert batches[0]["x"].isna().iloc[0]  # '?' is a missing marker
    assert pd.concat(batches)["id"].tolist() == [str(i) for i in range(10_000)]


def test_iter_batches_uneven_last_batch(tmp_path):
    sizes = [len(b) for b in iter_batches(_csv(tmp_path / "b.csv", 2_500), batch_rows=1000)]
    assert sizes == [1000, 1000, 500]


def test_iter_batches_reads_incrementally(tmp_path, monkeypatch):
    def no_whole_read(*args, **kwargs):
        raise AssertionError("iter_batches must not read the whole file")

    monkeypatch.setattr(pacsv, "read_csv", no_whole_read)
    monkeypatch.setattr(pd, "read_csv", no_whole_read)
    produced = []
    original = batches_module._slices

    def counting(batches, batch_rows):
        for table in original(batches, batch_rows):
            produced.append(table.num_rows)
            yield table

    monkeypatch.setattr(batches_module, "_slices", counting)
    stream = iter_batches(_csv(tmp_path / "big.csv"), batch_rows=1000)
    first = next(stream)
    assert len(first) == 1000
    assert produced == [1000]  # nothing beyond the first batch was materialised yet
    stream.close()


def test_iter_batches_conform_matches_load(tmp_path):
    path = _csv(tmp_path / "big.csv", 3_000)
    ds = load(path)
    parts = [conform(b, ds.schema, strict=False) for b in iter_batches(path, batch_rows=700)]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), ds.frame)


def test_iter_batches_schema_types_numeric_columns_as_conform_does(tmp_path):
    path = _csv(tmp_path / "big.csv", 3_000)
    ds = load(path)
    text = (tmp_path / "big.csv").read_text().replace("\n1500,750.0,", "\n1500, 750.0 ,")
    path.write_text(text)  # a padded number: its batch keeps 'x' as text
    typed = list(iter_batches(path, batch_rows=700, schema=ds.schema))
    raw = list(iter_batches(path, batch_rows=700))
    assert [str(b["x"].dtype) for b in typed] == ["float64", "float64", "str", "float64", "float64"]
    assert all(str(b["c"].dtype) == "str" for b in typed)  # only numeric columns are typed
    assert typed[0]["x"].isna().iloc[0]  # '?' is missing
    for t, r in zip(typed, raw, strict=True):
        pd.testing.assert_frame_equal(conform(t, ds.schema), conform(r, ds.schema))


def test_iter_batches_gzip_and_semicolon(tmp_path):
    path = tmp_path / "s.csv.gz"
    with gzip.open(path, "wt", encoding="cp1252") as f:
        f.write("name;v\n" + "\n".join(f"Zoë{i};{i}" for i in range(250)) + "\n")
    batches = list(iter_batches(path, batch_rows=100))
    assert [len(b) for b in batches] == [100, 100, 50]
    assert batches[0]["name"].iloc[0] == "Zoë0"


def test_iter_batches_parquet(tmp_path):
    frame = pd.DataFrame({"a": range(2_500), "b": ["x"] * 2_500})
    frame.to_parquet(tmp_path / "p.parquet", row_group_size=1000)
    batches = list(iter_batches(tmp_path / "p.parquet", batch_rows=600))
    assert sum(len(b) for b in batches) == 2_500
    assert max(len(b) for b in batches) <= 600
    assert len({tuple(map(str, b.dtypes)) for b in batches}) == 1


def test_iter_batches_jsonl(tmp_path):
    rows = [{"a": i, "b": None if i < 5 else "x"} for i in range(12)]
    rows[11]["extra"] = 1
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    batches = list(iter_batches(tmp_path / "r.jsonl", batch_rows=5))
    assert [len(b) for b in batches] == [5, 5, 2]
    assert all(str(t) == "object" for b in batches for t in b.dtypes)
    assert batches[-1].columns.tolist() == ["a", "b", "extra"]


def test_iter_batches_xlsx_falls_back_to_slicing(tmp_path):
    pd.DataFrame({"a": range(25)}).to_excel(tmp_path / "x.xlsx", index=False)
    assert [len(b) for b in iter_batches(tmp_path / "x.xlsx", batch_rows=10)] == [10, 10, 5]


def test_iter_batches_errors(tmp_path):
    (tmp_path / "x.foo").write_text("a\n1\n")
    with pytest.raises(UnsupportedSourceError, match=r"x\.foo has extension \.foo"):
        next(iter_batches(tmp_path / "x.foo"))
    with pytest.raises(InvalidInputError, match="does not exist"):
        next(iter_batches(tmp_path / "none.csv"))
    with pytest.raises(UnsupportedSourceError, match="streaming reads files only"):
        next(iter_batches("sqlite:///x.db"))
    (tmp_path / "r.csv").write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(InvalidInputError, match=r"r\.csv is not a readable table"):
        list(iter_batches(tmp_path / "r.csv"))


def test_sniff_format():
    assert sniff_format("a.csv.gz") == "csv"
    assert sniff_format("a.tsv") == "csv"
    assert sniff_format("a.pq") == "parquet"
    assert sniff_format("a.ndjson") == "jsonl"
    assert sniff_format("a.xlsx") == "excel"
    with pytest.raises(UnsupportedSourceError, match="Supported"):
        sniff_format("a.doc")
