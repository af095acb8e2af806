"""Validation rules: parsing, checking with example rows, suggesting."""

from __future__ import annotations

import pandas as pd
import pytest

from modelloop.data import enforce_rules, load_rules, suggest_rules, validate_frame
from modelloop.exceptions import ConfigurationError, RuleViolationError

FRAME = pd.DataFrame(
    {
        "id": ["1", "2", "2", "4"],
        "age": ["31", "200", "NA", "x"],
        "plan": ["pro", "gold", "pro", "basic"],
        "when": ["2024-01-01", "2024-02-01", "soon", None],
    }
)


def test_load_rules_reads_yaml(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rows: {min: 2, max: 10}\ncolumns:\n  age: {type: numeric, min: 0}\n")
    rules = load_rules(path)
    assert (rules.min_rows, rules.max_rows) == (2, 10)
    assert rules.columns[0].type == "numeric" and rules.source == "rules.yaml"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"columns": {"age": {"minimum": 0}}}, r"unknown rule 'minimum'. Did you mean 'min'\?"),
        ({"colums": {}}, r"unknown rule 'colums'. Did you mean 'columns'\?"),
        ({"columns": {"age": {"min": "zero"}}}, r"column 'age' min must be a number. Got 'zero'"),
        ({"columns": {"age": {"type": "float"}}}, r"type must be one of numeric, integer"),
        ({"columns": {"age": {"max_missing": 2}}}, r"max_missing must be a share in \[0, 1\]"),
        ({"columns": {"p": {"allowed": "a"}}}, r"allowed must be a non-empty list"),
        ({"columns": {"p": {"unique": "yes"}}}, r"unique must be true or false"),
        ({"rows": {"min": 5, "max": 1}}, r"rows has min 5 > max 1"),
        ([1, 2], r"the top level must be a mapping"),
    ],
)
def test_load_rules_refuses_unknown_rules_and_type_errors(spec, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_rules(spec)


def test_load_rules_malformed_yaml(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("columns: [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"Rules file bad.yaml cannot be parsed"):
        load_rules(path)


def test_load_rules_missing_file(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_rules(tmp_path / "nope.yaml")


def test_validate_frame_reports_rule_column_and_example_rows() -> None:
    report = validate_frame(
        FRAME,
        {
            "rows": {"min": 5},
            "columns": {
                "id": {"unique": True},
                "age": {"type": "numeric", "max": 120, "max_missing": 0.1},
                "plan": {"allowed": ["pro", "basic"]},
                "when": {"type": "datetime"},
                "email": {},
            },
        },
    )
    found = {(v.rule, v.column): v for v in report.violations}
    assert set(found) == {
        ("rows.min", None),
        ("unique", "id"),
        ("max_missing", "age"),
        ("type", "age"),
        ("max", "age"),
        ("allowed", "plan"),
        ("type", "when"),
        ("required", "email"),
    }
    assert [e["row"] for e in found[("unique", "id")].examples] == [1, 2]
    assert found[("max", "age")].examples[0]["age"] == "200"
    assert found[("allowed", "plan")].examples[0]["plan"] == "gold"
    assert found[("type", "when")].n_rows == 1


def test_validate_frame_passes_clean_data_and_optional_columns() -> None:
    report = validate_frame(
        FRAME.iloc[:2], {"columns": {"age": {"min": 0}, "x": {"required": False}}}
    )
    assert report.ok and report.summary("t") == "t passes every rule."


def test_validate_frame_request_rows_skip_row_counts() -> None:
    rows = [{"age": 30, "plan": "pro"}]
    rules = {"rows": {"min": 100}, "columns": {"age": {"type": "integer"}}}
    assert validate_frame(rows, rules, row_counts=False).ok
    assert not validate_frame(rows, rules).ok


def test_enforce_rules_raises_one_line_with_example() -> None:
    with pytest.raises(
        RuleViolationError,
        match=r"t.csv breaks 1 rule: column 'plan' must be one of 'pro': 2 rows are not \(e.g. row 1: plan='gold'\)",
    ) as info:
        enforce_rules(FRAME, {"columns": {"plan": {"allowed": ["pro"]}}}, label="t.csv")
    assert info.value.report.violations[0].n_rows == 2


def test_boolean_and_integer_types() -> None:
    frame = pd.DataFrame({"b": ["yes", "no", "maybe"], "n": ["1", "2.5", "3"]})
    report = validate_frame(
        frame, {"columns": {"b": {"type": "boolean"}, "n": {"type": "integer"}}}
    )
    assert [(v.column, v.examples[0]["row"]) for v in report.violations] == [("b", 2), ("n", 1)]


def test_suggest_rules_proposes_rules_the_data_passes() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(40)],
            "age": [20 + i % 30 for i in range(40)],
            "plan": ["pro", "basic"] * 20,
            "score": [0.5 * i if i % 10 else None for i in range(40)],
        }
    )
    rules = suggest_rules(frame)
    spec = rules.to_dict()
    assert spec["columns"]["age"] == {"type": "integer", "min": 20, "max": 49, "max_missing": 0.0}
    assert spec["columns"]["plan"]["allowed"] == ["basic", "pro"]
    assert spec["columns"]["customer_id"]["unique"] is True
    assert 0.1 < spec["columns"]["score"]["max_missing"] < 0.2
    assert validate_frame(frame, rules).ok
    assert load_rules(__import__("yaml").safe_load(rules.to_yaml())) == rules.__class__(
        columns=rules.columns, min_rows=rules.min_rows, max_rows=None, source="rules"
    )
