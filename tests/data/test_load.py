"""load(): every source type, the cleaned frame, the hash and every error."""

from __future__ import annotations

import bz2
import gzip
import json
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelloop.data import Role, load
from modelloop.exceptions import (
    ColumnNotFoundError,
    ConfigurationError,
    EmptyDataError,
    InvalidInputError,
    UnsupportedSourceError,
)

FILES = Path(__file__).parent / "files"
SMALL = "a,b,when\n1,x,2020-01-05\n2,y,2020-02-06\n3,x,\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _check_small(ds) -> None:
    assert ds.frame["a"].tolist() == [1.0, 2.0, 3.0]
    assert ds.frame["b"].tolist() == ["x", "y", "x"]
    assert ds.schema["a"].role is Role.NUMERIC


# --- sources -----------------------------------------------------------------------------


def test_load_csv_semicolon_sniffed(tmp_path):
    ds = load(_write(tmp_path / "s.csv", SMALL.replace(",", ";")))
    _check_small(ds)
    assert ds.schema["when"].role is Role.DATETIME
    assert ds.frame["when"].dtype == "datetime64[ns]"
    assert ds.frame["when"].isna().tolist() == [False, False, True]


def test_load_tsv_and_explicit_delimiter(tmp_path):
    _check_small(load(_write(tmp_path / "s.tsv", SMALL.replace(",", "\t"))))
    _check_small(load(_write(tmp_path / "s.txt", SMALL.replace(",", "|")), delimiter="|"))


@pytest.mark.parametrize("ext", ["gz", "bz2", "zip"])
def test_load_compressed_csv(tmp_path, ext):
    path = tmp_path / f"small.csv.{ext}"
    if ext == "gz":
        with gzip.open(path, "wt") as f:
            f.write(SMALL)
    elif ext == "bz2":
        with bz2.open(path, "wt") as f:
            f.write(SMALL)
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("small.csv", SMALL)
    ds = load(path)
    _check_small(ds)
    assert ds.name == "small"


def test_load_cp1252_with_accents():
    ds = load(FILES / "accents_cp1252.csv")
    assert ds.frame["name"].iloc[0] == "José"
    assert "Zürich" in ds.frame["city"].tolist()
    assert ds.frame["score"].dtype == "float64"


def test_load_crlf_and_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b,when\r\n1,x,2020-01-05\r\n2,y,2020-02-06\r\n3,x,\r\n")
    ds = load(path)
    assert ds.frame.columns.tolist() == ["a", "b", "when"]
    _check_small(ds)


def test_load_quoted_newlines(tmp_path):
    ds = load(_write(tmp_path / "q.csv", 'a,b\n1,"two\nlines"\n2,x\n3,"y, z"\n'))
    assert ds.frame["b"].tolist() == ["two\nlines", "x", "y, z"]


def test_load_parquet(tmp_path):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"], "when": ["2020-01-05", None, ""]})
    frame.to_parquet(tmp_path / "p.parquet")
    _check_small(load(tmp_path / "p.parquet"))


def test_load_json_records_and_columns(tmp_path):
    records = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 3, "b": "x"}]
    (tmp_path / "r.json").write_text(json.dumps(records))
    _check_small(load(tmp_path / "r.json"))
    (tmp_path / "c.json").write_text(json.dumps({"a": [1, 2, 3], "b": ["x", "y", "x"]}))
    _check_small(load(tmp_path / "c.json"))


def test_load_jsonl(tmp_path):
    lines = ['{"a": 1, "b": "x"}', "", '{"a": 2, "b": "y"}', '{"a": 3, "b": "x"}']
    _write(tmp_path / "l.jsonl", "\n".join(lines))
    _check_small(load(tmp_path / "l.jsonl"))


def test_load_xlsx_by_sheet_name_and_index(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"z": [0]}).to_excel(writer, sheet_name="other", index=False)
        pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"]}).to_excel(
            writer, sheet_name="data", index=False
        )
    _check_small(load(path, sheet="data"))
    _check_small(load(path, sheet=1))
    with pytest.raises(InvalidInputError, match=r"book.xlsx has no sheet 'nope'\. Sheets: 'other'"):
        load(path, sheet="nope")


@pytest.fixture
def sqlite_db(tmp_path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as con:
        pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"]}).to_sql("t", con, index=False)
    return path


def test_load_sqlite_table_and_query(sqlite_db):
    ds = load(f"sqlite:///{sqlite_db}", table="t")
    _check_small(ds)
    assert ds.name == "t"
    assert ds.source.endswith("table t")
    ds = load(f"sqlite:///{sqlite_db}", query="SELECT a, b FROM t WHERE a > 1")
    assert ds.frame["a"].tolist() == [2.0, 3.0]


def test_load_sqlite_errors(sqlite_db, tmp_path):
    url = f"sqlite:///{sqlite_db}"
    with pytest.raises(InvalidInputError, match=r"table= \(--table\) or query= \(--query\)"):
        load(url)
    with pytest.raises(InvalidInputError, match=r"has no table 'nope'\. Tables: 't'"):
        load(url, table="nope")
    with pytest.raises(InvalidInputError, match="could not be read"):
        load(url, query="SELECT * FROM missing_table")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load(f"sqlite:///{tmp_path / 'none.db'}", table="t")


def test_load_dataframe_is_copied():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"]}, index=[10, 11, 12])
    ds = load(frame)
    _check_small(ds)
    assert ds.name == "dataframe" and ds.source == "DataFrame"
    ds.frame.loc[0, "a"] = 99.0
    assert frame["a"].tolist() == [1, 2, 3]


# --- cleaning -----------------------------------------------------------------------------


def test_load_missing_markers_become_na(tmp_path):
    text = "n,c\n1,a\nNA,N/A\n?,null\n  ,#N/A\n5,b\nnan,missing\n7,a\n"
    ds = load(_write(tmp_path / "m.csv", text))
    assert ds.frame["n"].isna().sum() == 4
    assert ds.frame["c"].isna().sum() == 4
    assert ds.frame["c"].dtype == object


def test_load_boolean_becomes_float_0_1(tmp_path):
    ds = load(_write(tmp_path / "b.csv", "flag,x\nyes,1\nno,2\nYes,3\n,4\n"))
    assert ds.schema["flag"].role is Role.BOOLEAN
    assert ds.frame["flag"].tolist()[:3] == [1.0, 0.0, 1.0]
    assert np.isnan(ds.frame["flag"].iloc[3])


def test_load_identifier_and_constant_columns_are_kept(tmp_path):
    rows = "\n".join(f"{i},{i * 0.37:.2f},k" for i in range(1, 31))
    ds = load(_write(tmp_path / "i.csv", "row,x,k\n" + rows + "\n"))
    assert ds.schema["row"].role is Role.IDENTIFIER
    assert ds.schema["k"].role is Role.CONSTANT
    assert ds.frame["row"].dtype == "int64"
    assert ds.features().columns.tolist() == ["x"]
    assert any("'row'" in n for n in ds.schema.notes)


def test_load_drop_and_types(tmp_path):
    ds = load(_write(tmp_path / "s.csv", SMALL), drop=["when"], types={"a": "categorical"})
    assert ds.frame.columns.tolist() == ["a", "b"]
    assert ds.schema["a"].role is Role.CATEGORICAL
    assert ds.frame["a"].tolist() == ["1", "2", "3"]


def test_load_nrows(tmp_path):
    rows = "\n".join(f"{i},{i % 3}" for i in range(500))
    ds = load(_write(tmp_path / "n.csv", "a,b\n" + rows + "\n"), nrows=7)
    assert ds.n_rows == 7


def test_load_unnamed_empty_columns_are_dropped(tmp_path):
    ds = load(_write(tmp_path / "u.csv", "a,,b,\n1,,x,\n2,,y,\n3,,x,\n"))
    assert ds.frame.columns.tolist() == ["a", "b"]


def test_load_target_sets_schema_target(tmp_path):
    ds = load(_write(tmp_path / "s.csv", SMALL), target="b")
    assert ds.schema.target == "b"
    assert ds.target_series().tolist() == ["x", "y", "x"]
    assert "b" not in ds.features().columns


def test_load_text_target_keeps_its_labels(tmp_path):
    ds = load(_write(tmp_path / "t.csv", "x,churn\n1,yes\n2,no\n3,yes\n"), target="churn")
    assert ds.frame["churn"].tolist() == ["yes", "no", "yes"]


def test_load_stray_strings_in_numeric_column_become_missing(tmp_path):
    values = [str(i) for i in range(40)]
    values[5] = "oops"
    ds = load(
        _write(
            tmp_path / "s.csv", "v,w\n" + "\n".join(f"{v},{i % 2}" for i, v in enumerate(values))
        )
    )
    assert ds.schema["v"].role is Role.NUMERIC
    assert np.isnan(ds.frame["v"].iloc[5])
    assert "1 non-numeric value(s) such as 'oops' treated as missing" in ds.schema["v"].note


# --- hash ---------------------------------------------------------------------------------


def test_load_hash_is_stable_and_content_sensitive(tmp_path):
    path = _write(tmp_path / "s.csv", SMALL)
    first, second = load(path), load(path)
    assert first.hash == second.hash and len(first.hash) == 64
    changed = load(_write(tmp_path / "t.csv", SMALL.replace("2,y", "2,z")))
    assert changed.hash != first.hash


def test_load_hash_ignores_index_labels_and_source():
    frame = pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]})
    assert load(frame).hash == load(frame.set_axis([7, 9])).hash


def test_load_hash_same_content_csv_and_parquet(tmp_path):
    frame = pd.DataFrame({"a": [1.5, 2.5, None], "b": ["x", "y", "x"]})
    frame.to_csv(tmp_path / "f.csv", index=False)
    frame.to_parquet(tmp_path / "f.parquet")
    assert load(tmp_path / "f.csv").hash == load(tmp_path / "f.parquet").hash


# --- errors -------------------------------------------------------------------------------


def test_load_missing_file(tmp_path):
    with pytest.raises(InvalidInputError, match=r"nope\.csv does not exist"):
        load(tmp_path / "nope.csv")


def test_load_unsupported_extension(tmp_path):
    with pytest.raises(
        UnsupportedSourceError, match=r"x\.foo has extension \.foo.*Supported: \.csv"
    ):
        load(_write(tmp_path / "x.foo", "a\n1\n"))


def test_load_unsupported_object():
    with pytest.raises(UnsupportedSourceError, match="Got list instead"):
        load([1, 2, 3])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"e\.csv is empty"),
        ("   \n\n", r"e\.csv is empty"),
        ("a,b,c\n", "a header but no rows"),
    ],
)
def test_load_empty_files(tmp_path, text, match):
    with pytest.raises(EmptyDataError, match=match):
        load(_write(tmp_path / "e.csv", text))


def test_load_empty_json_and_dataframe(tmp_path):
    with pytest.raises(EmptyDataError, match="no rows"):
        load(_write(tmp_path / "e.json", "[]"))
    with pytest.raises(EmptyDataError, match="has no columns"):
        load(pd.DataFrame(index=[0, 1]))


def test_load_png_renamed_csv(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(InvalidInputError, match=r"x\.csv is not a readable table: .*PNG"):
        load(path)


def test_load_binary_garbage(tmp_path):
    path = tmp_path / "g.csv"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(InvalidInputError, match=r"g\.csv is not a readable table: .*binary"):
        load(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [("42", "holds a JSON int"), ('{"a": 1}', "object of scalars"), ("{oops", "invalid JSON")],
)
def test_load_json_that_is_not_a_table(tmp_path, text, match):
    with pytest.raises(InvalidInputError, match=rf"j\.json is not a readable table: .*{match}"):
        load(_write(tmp_path / "j.json", text))


def test_load_jsonl_bad_line(tmp_path):
    with pytest.raises(InvalidInputError, match="line 2 is not JSON"):
        load(_write(tmp_path / "l.jsonl", '{"a": 1}\n{oops\n'))


def test_load_ragged_rows(tmp_path):
    with pytest.raises(InvalidInputError, match=r"r\.csv is not a readable table"):
        load(_write(tmp_path / "r.csv", "a,b\n1,2\n3,4,5\n"))


def test_load_duplicate_column_names(tmp_path):
    with pytest.raises(InvalidInputError, match=r"duplicate column name.*'a'"):
        load(_write(tmp_path / "d.csv", "a,b,a\n1,2,3\n"))
    with pytest.raises(InvalidInputError, match="duplicate column name"):
        load(pd.DataFrame([[1, 2]], columns=["x", "x"]))


def test_load_target_not_found_suggests_closest(shared_datasets):
    with pytest.raises(
        ColumnNotFoundError,
        match=r"Column 'Survivd' is not in titanic\.csv\. Did you mean 'Survived'\? Columns: 'PassengerId'",
    ):
        load(shared_datasets / "titanic.csv", target="Survivd")


def test_load_long_column_list_is_truncated(tmp_path):
    header = ",".join(f"c{i}" for i in range(60))
    path = _write(tmp_path / "w.csv", header + "\n" + ",".join("1" * 60) + "\n")
    with pytest.raises(ColumnNotFoundError, match=r"\.\.\. \(60 in all\)"):
        load(path, target="zzz")


def test_load_drop_unknown_column(tmp_path):
    with pytest.raises(ColumnNotFoundError, match="Did you mean 'when'"):
        load(_write(tmp_path / "s.csv", SMALL), drop=["wen"])


def test_load_bad_role_name(tmp_path):
    with pytest.raises(
        ConfigurationError, match=r"names no role\. Valid roles: numeric, categorical"
    ):
        load(_write(tmp_path / "s.csv", SMALL), types={"a": "number"})


def test_load_mixed_garbage_column():
    with pytest.raises(
        InvalidInputError,
        match=r"Column 'age' of mixed_garbage\.csv mixes numbers and text: 77% .* 'forty' in row 4"
        r".*types=\{'age': 'categorical'\}.*--drop age",
    ):
        load(FILES / "mixed_garbage.csv")


def test_load_mixed_garbage_resolved_by_types_or_drop():
    ds = load(FILES / "mixed_garbage.csv", types={"age": "categorical"})
    assert ds.frame["age"].iloc[3] == "forty"
    ds = load(FILES / "mixed_garbage.csv", types={"age": "numeric"})
    assert ds.frame["age"].isna().sum() == 7
    assert "age" not in load(FILES / "mixed_garbage.csv", drop=["age"]).frame


def test_load_mixed_target_is_not_an_error(tmp_path):
    values = ["1", "2", "low", "3", "high", "medium", "4", "5", "6", "7"]
    text = "x,y\n" + "\n".join(f"{i},{v}" for i, v in enumerate(values))
    ds = load(_write(tmp_path / "t.csv", text), target="y")
    assert ds.schema["y"].role is Role.CATEGORICAL


def test_a_column_named_with_the_files_surrounding_spaces_is_found():
    # Column names are read stripped; the names a user copies from the file still work.
    frame = pd.DataFrame({"Life expectancy ": [70.0, 71.5, 69.0, 80.1], " x": [1, 2, 3, 4],
                          "z ": [0, 1, 0, 1]})  # fmt: skip
    ds = load(frame, target="Life expectancy ", drop=["z "], types={" x": "numeric"})
    assert ds.schema.target == "Life expectancy"
    assert list(ds.frame.columns) == ["Life expectancy", "x"]
