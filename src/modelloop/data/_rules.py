"""Validation rules: a small declarative file, checked with pandera, reported with example rows.

A rules file (YAML or JSON) says what a table must look like::

    rows: {min: 100, max: 1000000}        # row-count bounds
    columns:
      customer_id: {unique: true}
      age: {type: numeric, min: 0, max: 120, max_missing: 0.05}
      plan: {allowed: [basic, pro, team]}
      signup: {type: datetime, required: false}

Column rules: ``required`` (default true: the column must exist), ``type`` (numeric,
integer, boolean, datetime, string), ``min`` / ``max`` (numbers), ``allowed`` (a list of
values), ``unique`` (no value twice) and ``max_missing`` (the largest share of missing
values, 0..1). Values are judged the way :func:`~modelloop.data.load` reads them: missing
markers ('', 'NA', '?', ...) count as missing, and ``'42'`` in a text column is the number
42. The same rules check a training table, an ingested snapshot and request rows at serve
time (:func:`validate_frame` with ``row_counts=False``).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from modelloop.data._json import json_value
from modelloop.data._schema import Role
from modelloop.data._values import (
    FALSE_TOKENS,
    TRUE_TOKENS,
    as_text,
    parse_dates,
    parse_numbers,
)
from modelloop.exceptions import ConfigurationError, RuleViolationError

__all__ = [
    "COLUMN_RULES",
    "TYPES",
    "ColumnRules",
    "RuleReport",
    "Rules",
    "Violation",
    "enforce_rules",
    "load_rules",
    "suggest_rules",
    "validate_frame",
]

TYPES = ("numeric", "integer", "boolean", "datetime", "string")
COLUMN_RULES = ("required", "type", "min", "max", "allowed", "unique", "max_missing")
_TOP = ("rows", "columns")
_ROWS = ("min", "max")
_EXAMPLES = 3


@dataclass(frozen=True)
class ColumnRules:
    """The rules of one column (``None``: no such rule)."""

    name: str
    required: bool = True
    type: str | None = None
    min: float | None = None
    max: float | None = None
    allowed: tuple[Any, ...] | None = None
    unique: bool = False
    max_missing: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not self.required:
            out["required"] = False
        for key in ("type", "min", "max"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.allowed is not None:
            out["allowed"] = list(self.allowed)
        if self.unique:
            out["unique"] = True
        if self.max_missing is not None:
            out["max_missing"] = self.max_missing
        return out


@dataclass(frozen=True)
class Rules:
    """A parsed rules file: row-count bounds and per-column rules.

    Examples
    --------
    >>> rules = load_rules({"rows": {"min": 2}, "columns": {"age": {"min": 0}}})
    >>> rules.min_rows, rules.columns[0].name
    (2, 'age')
    """

    columns: tuple[ColumnRules, ...] = ()
    min_rows: int | None = None
    max_rows: int | None = None
    source: str = "rules"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        rows = {k: v for k, v in (("min", self.min_rows), ("max", self.max_rows)) if v is not None}
        if rows:
            out["rows"] = rows
        out["columns"] = {c.name: c.to_dict() for c in self.columns}
        return out

    def for_rows(self, exclude: Sequence[str] = ()) -> Rules:
        """The rules one row can be checked against: what a server applies to each request.

        Column-wide rules (``unique``, ``max_missing``) and row-count bounds need the whole
        table, so they are left out, as are the ``exclude`` columns (the target).

        Examples
        --------
        >>> rules = load_rules({"rows": {"min": 9}, "columns": {
        ...     "age": {"min": 0, "max_missing": 0.1}, "churn": {"allowed": ["no", "yes"]}}})
        >>> rules.for_rows(exclude=["churn"]).to_dict()
        {'columns': {'age': {'min': 0}}}
        """
        dropped = set(exclude)
        columns = tuple(
            replace(c, unique=False, max_missing=None)
            for c in self.columns
            if c.name not in dropped
        )
        return Rules(columns=columns, source=self.source)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


@dataclass(frozen=True)
class Violation:
    """One broken rule: which, on which column, how many rows, and a few of them."""

    rule: str
    column: str | None
    message: str
    n_rows: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "column": self.column,
            "message": self.message,
            "n_rows": self.n_rows,
            "examples": self.examples,
        }


@dataclass(frozen=True)
class RuleReport:
    """Every violation found; ``ok`` when there is none."""

    violations: tuple[Violation, ...]
    n_rows: int

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self, label: str = "the data") -> str:
        """One line naming each broken rule, its column and an example row."""
        if self.ok:
            return f"{label} passes every rule."
        parts = []
        for v in self.violations:
            example = ""
            if v.examples:
                row = v.examples[0]
                where = row.get("row")
                value = row.get(v.column) if v.column else None
                example = f" (e.g. row {where}: {v.column}={value!r})" if where is not None else ""
            parts.append(f"{v.message}{example}")
        n = len(self.violations)
        return f"{label} breaks {n} rule{'s' if n > 1 else ''}: " + "; ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "n_rows": self.n_rows,
            "violations": [v.to_dict() for v in self.violations],
        }


# -- parsing ---------------------------------------------------------------------------------


def _bad(source: str, where: str, what: str) -> ConfigurationError:
    return ConfigurationError(f"Rules file {source}: {where} {what}")


def _unknown(source: str, where: str, key: str, known: Sequence[str]) -> ConfigurationError:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return _bad(source, where, f"has unknown rule {key!r}.{hint} Known: {', '.join(known)}.")


def _number(value: Any, source: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(source, where, f"must be a number. Got {value!r}.")
    return value


def _count(value: Any, source: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(source, where, f"must be a whole number >= 0. Got {value!r}.")
    return value


def _flag(value: Any, source: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(source, where, f"must be true or false. Got {value!r}.")
    return value


def _column(name: str, spec: Any, source: str) -> ColumnRules:
    where = f"column {name!r}"
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise _bad(source, where, f"must map rule names to values. Got {spec!r}.")
    for key in spec:
        if key not in COLUMN_RULES:
            raise _unknown(source, where, str(key), COLUMN_RULES)
    kind = spec.get("type")
    if kind is not None and kind not in TYPES:
        raise _bad(source, f"{where} type", f"must be one of {', '.join(TYPES)}. Got {kind!r}.")
    low = _number(spec["min"], source, f"{where} min") if "min" in spec else None
    high = _number(spec["max"], source, f"{where} max") if "max" in spec else None
    if low is not None and high is not None and low > high:
        raise _bad(source, where, f"has min {low} > max {high}.")
    allowed = spec.get("allowed")
    if allowed is not None and (
        not isinstance(allowed, list)
        or not allowed
        or any(isinstance(v, list | dict) for v in allowed)
    ):
        raise _bad(
            source, f"{where} allowed", f"must be a non-empty list of values. Got {allowed!r}."
        )
    share = None
    if "max_missing" in spec:
        share = _number(spec["max_missing"], source, f"{where} max_missing")
        if not 0 <= share <= 1:
            raise _bad(source, f"{where} max_missing", f"must be a share in [0, 1]. Got {share!r}.")
    return ColumnRules(
        name=name,
        required=_flag(spec.get("required", True), source, f"{where} required"),
        type=kind,
        min=low,
        max=high,
        allowed=tuple(allowed) if allowed is not None else None,
        unique=_flag(spec.get("unique", False), source, f"{where} unique"),
        max_missing=share,
    )


def load_rules(rules: str | Path | Mapping[str, Any] | Rules) -> Rules:
    """Parse a rules file (.yaml, .yml or .json) or mapping; refuse unknown rules and bad values.

    Examples
    --------
    >>> load_rules({"columns": {"age": {"minimum": 0}}})
    Traceback (most recent call last):
    ...
    modelloop.exceptions.ConfigurationError: Rules file rules: column 'age' has unknown rule 'minimum'. Did you mean 'min'? Known: required, type, min, max, allowed, unique, max_missing.
    """
    if isinstance(rules, Rules):
        return rules
    source = "rules"
    if isinstance(rules, str | Path):
        path = Path(rules).expanduser()
        source = path.name
        if not path.is_file():
            raise ConfigurationError(f"Rules file {path} does not exist. Check the path.")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:  # yaml and json raise many types for a malformed file
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigurationError(f"Rules file {source} cannot be parsed: {reason}.") from None
    else:
        data = rules
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise _bad(
            source,
            "the top level",
            f"must be a mapping with 'rows' and/or 'columns'. Got {type(data).__name__}.",
        )
    for key in data:
        if key not in _TOP:
            raise _unknown(source, "the top level", str(key), _TOP)
    rows = data.get("rows") or {}
    if not isinstance(rows, Mapping):
        raise _bad(source, "rows", f"must be a mapping with min and/or max. Got {rows!r}.")
    for key in rows:
        if key not in _ROWS:
            raise _unknown(source, "rows", str(key), _ROWS)
    min_rows = _count(rows["min"], source, "rows min") if "min" in rows else None
    max_rows = _count(rows["max"], source, "rows max") if "max" in rows else None
    if min_rows is not None and max_rows is not None and min_rows > max_rows:
        raise _bad(source, "rows", f"has min {min_rows} > max {max_rows}.")
    columns = data.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise _bad(source, "columns", f"must map column names to rules. Got {columns!r}.")
    return Rules(
        columns=tuple(_column(str(n), s, source) for n, s in columns.items()),
        min_rows=min_rows,
        max_rows=max_rows,
        source=source,
    )


# -- checking (pandera) ------------------------------------------------------------------------


def _type_ok(kind: str, s: pd.Series) -> pd.Series:
    if kind == "string":
        return s.map(lambda v: isinstance(v, str)).astype(bool)
    text = as_text(s)
    if kind in ("numeric", "integer"):
        numbers = parse_numbers(text)
        ok = numbers.notna()
        return ok & (numbers % 1 == 0) if kind == "integer" else ok
    if kind == "boolean":
        return text.str.lower().isin(TRUE_TOKENS | FALSE_TOKENS).fillna(False).astype(bool)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.notna()
    return parse_dates(text, None).notna()


def _in_range(low: float | None, high: float | None, s: pd.Series) -> pd.Series:
    numbers = parse_numbers(as_text(s))
    ok = numbers.notna()  # values that are not numbers are the type rule's business
    inside = pd.Series(True, index=s.index)
    if low is not None:
        inside &= numbers >= low
    if high is not None:
        inside &= numbers <= high
    return ~ok | inside


def _allowed(values: tuple[Any, ...], s: pd.Series) -> pd.Series:
    text = as_text(s)
    allowed_text = set(as_text(pd.Series(list(values), dtype=object)).dropna())
    return text.isin(allowed_text) | text.isna()


def _checks(rule: ColumnRules) -> list[Any]:
    import pandera.pandas as pa

    checks = []
    if rule.type is not None:
        checks.append(pa.Check(lambda s, k=rule.type: _type_ok(k, s), name="type"))
    if rule.min is not None or rule.max is not None:
        checks.append(
            pa.Check(lambda s, lo=rule.min, hi=rule.max: _in_range(lo, hi, s), name="range")
        )
    if rule.allowed is not None:
        checks.append(pa.Check(lambda s, v=rule.allowed: _allowed(v, s), name="allowed"))
    if rule.unique:
        checks.append(pa.Check(lambda s: ~as_text(s).duplicated(keep=False), name="unique"))
    return checks


def _prepared(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every missing marker as a real missing value (pandera skips those)."""
    out = frame.reset_index(drop=True).copy()
    out.columns = [str(c) for c in out.columns]
    for name in out.columns:
        col = out[name]
        if not pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_datetime64_any_dtype(col):
            col = col.astype(object)
            out[name] = col.mask(as_text(col).isna(), None)
    return out


def _message(rule: ColumnRules, check: str, n: int) -> tuple[str, str]:
    rows = f"{n} row{'s' if n != 1 else ''}"
    are, share = ("is", "shares") if n == 1 else ("are", "share")
    if check == "type":
        return "type", f"column '{rule.name}' must be {rule.type}: {rows} {are} not"
    if check == "range":
        bounds = f"[{'-inf' if rule.min is None else f'{rule.min:g}'}, {'inf' if rule.max is None else f'{rule.max:g}'}]"
        return ("min" if rule.max is None else "max" if rule.min is None else "range"), (
            f"column '{rule.name}' must be in {bounds}: {rows} {are} outside"
        )
    if check == "allowed":
        shown = ", ".join(map(repr, rule.allowed or ()))[:80]
        return "allowed", f"column '{rule.name}' must be one of {shown}: {rows} {are} not"
    return "unique", f"column '{rule.name}' must be unique: {rows} {share} a value"


def _examples(frame: pd.DataFrame, index: list[int]) -> list[dict[str, Any]]:
    out = []
    for i in index[:_EXAMPLES]:
        row = {k: json_value(v, unknown="keep") for k, v in frame.iloc[i].items()}
        out.append({"row": int(i), **row})
    return out


def validate_frame(
    frame: pd.DataFrame | Sequence[Mapping[str, Any]],
    rules: Rules | Mapping[str, Any] | str | Path,
    *,
    row_counts: bool = True,
) -> RuleReport:
    """Check a table (or request rows) against rules; every violation, with example rows.

    Parameters
    ----------
    frame : a DataFrame, or a list of records (request rows).
    rules : a :class:`Rules`, a mapping in the rules-file layout, or the path of a rules file.
    row_counts : check the ``rows`` bounds (turn off for a handful of request rows).

    Examples
    --------
    >>> df = pd.DataFrame({"age": ["31", "200", "NA"], "plan": ["pro", "gold", "pro"]})
    >>> report = validate_frame(df, {"columns": {"age": {"max": 120}, "plan": {"allowed": ["pro"]}}})
    >>> [(v.rule, v.column, v.n_rows) for v in report.violations]
    [('max', 'age', 1), ('allowed', 'plan', 1)]
    """
    import pandera.errors as pe
    import pandera.pandas as pa

    rules = load_rules(rules)
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame.from_records(list(frame))
    data = _prepared(frame)
    violations: list[Violation] = []
    n = len(data)
    if row_counts and rules.min_rows is not None and n < rules.min_rows:
        violations.append(
            Violation("rows.min", None, f"it must have at least {rules.min_rows} rows: it has {n}")
        )
    if row_counts and rules.max_rows is not None and n > rules.max_rows:
        violations.append(
            Violation("rows.max", None, f"it must have at most {rules.max_rows} rows: it has {n}")
        )
    by_name = {r.name: r for r in rules.columns}
    for rule in rules.columns:
        if rule.name not in data.columns:
            if rule.required:
                violations.append(
                    Violation("required", rule.name, f"column '{rule.name}' is required but absent")
                )
            continue
        if rule.max_missing is not None and n:
            share = float(data[rule.name].isna().mean())
            if share > rule.max_missing + 1e-12:
                missing = data.index[data[rule.name].isna()].tolist()
                violations.append(
                    Violation(
                        "max_missing",
                        rule.name,
                        f"column '{rule.name}' may be at most {rule.max_missing:.1%} missing: "
                        f"{share:.1%} is",
                        len(missing),
                        _examples(frame.reset_index(drop=True), missing),
                    )
                )
    schema = pa.DataFrameSchema(
        {
            r.name: pa.Column(checks=_checks(r), nullable=True, required=False, coerce=False)
            for r in rules.columns
            if r.name in data.columns and _checks(r)
        }
    )
    try:
        schema.validate(data, lazy=True)
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            rule = by_name[str(column)]
            index = sorted({int(i) for i in group["index"].dropna()})
            name, message = _message(rule, str(check), len(index))
            violations.append(
                Violation(
                    name,
                    rule.name,
                    message,
                    len(index),
                    _examples(frame.reset_index(drop=True), index),
                )
            )
    order = {r.name: i for i, r in enumerate(rules.columns)}
    violations.sort(key=lambda v: (v.column is not None, order.get(v.column or "", -1)))
    return RuleReport(tuple(violations), n)


def enforce_rules(
    frame: pd.DataFrame | Sequence[Mapping[str, Any]],
    rules: Rules | Mapping[str, Any] | str | Path,
    *,
    label: str = "the data",
    row_counts: bool = True,
) -> RuleReport:
    """:func:`validate_frame`, raising :class:`RuleViolationError` (with the report) on any violation.

    Examples
    --------
    >>> enforce_rules(pd.DataFrame({"x": [1, 1]}), {"columns": {"x": {"unique": True}}}, label="t.csv")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.RuleViolationError: t.csv breaks 1 rule: column 'x' must be unique: 2 rows share a value (e.g. row 0: x=1).
    """
    report = validate_frame(frame, rules, row_counts=row_counts)
    if not report.ok:
        raise RuleViolationError(report.summary(label), report)
    return report


# -- suggesting ---------------------------------------------------------------------------------

_ROLE_TYPES = {
    Role.NUMERIC: "numeric",
    Role.BOOLEAN: "boolean",
    Role.DATETIME: "datetime",
}
_MAX_ALLOWED = 20


def suggest_rules(frame: pd.DataFrame, *, source: str = "data") -> Rules:
    """Rules that ``frame`` passes, inferred from it: a starting point to edit.

    Every column is required; numbers get their type and observed range, few-valued
    columns their allowed values, distinct identifiers ``unique``, and each column a
    missing share a little above what was seen. The row count must be at least half of now.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 2, 3, 4], "plan": ["a", "b", "a", "b"], "x": [0.5, 1, 2, 3]})
    >>> suggest_rules(df).to_dict()["columns"]["plan"]
    {'allowed': ['a', 'b'], 'max_missing': 0.0}
    """
    from modelloop.data._infer import infer

    schema, cleaned = infer(frame, source=source)
    columns = []
    for col in schema.columns:
        raw = frame[col.name]
        missing = float(cleaned[col.name].isna().mean()) if len(cleaned) else 0.0
        spec: dict[str, Any] = {"name": col.name}
        kind = _ROLE_TYPES.get(col.role)
        if kind == "numeric":
            numbers = parse_numbers(as_text(raw)).dropna()
            if len(numbers) and (numbers % 1 == 0).all():
                kind = "integer"
            if len(numbers):
                cast = int if kind == "integer" else float
                spec["min"], spec["max"] = cast(numbers.min()), cast(numbers.max())
        if kind:
            spec["type"] = kind
        few = col.categories is not None and len(col.categories) <= _MAX_ALLOWED
        if col.role in (Role.CATEGORICAL, Role.BOOLEAN) and few:
            spec["allowed"] = tuple(col.categories or ())
        if col.role is Role.IDENTIFIER:
            spec["unique"] = True
        spec["max_missing"] = 0.0 if missing == 0 else round(min(1.0, missing * 1.5 + 0.01), 3)
        columns.append(ColumnRules(**spec))
    return Rules(columns=tuple(columns), min_rows=max(1, len(frame) // 2), source=source)
