"""Request bodies: JSON parsing, the accepted shapes, and a row type built from a model's schema.

Each served model gets a :class:`RowParser`: a pydantic ``TypedDict`` with one required,
nullable field per feature column (numbers for numeric columns, strings for categorical,
text and date columns), so a bad row is refused with a 422 that names the field, and the
OpenAPI docs show each model's columns, types and known categories. Unseen categories are
accepted (the pipeline handles them) and counted.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import orjson
from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from modelloop.data import MISSING_MARKERS, Role, Schema
from modelloop.exceptions import InvalidInputError, PayloadTooLargeError

__all__ = ["RequestRejected", "RowParser", "parse_json", "rows_of"]


class RequestRejected(InvalidInputError):
    """A request body that failed validation; carries pydantic's per-field details."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.details = details


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``; NaN/Infinity literals parse (and are refused later).

    Examples
    --------
    >>> parse_json(b'{"a": [1, 2]}')
    {'a': [1, 2]}
    """
    if not body.strip():
        raise InvalidInputError("The request body is empty. Send a JSON object.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:  # non-standard NaN / Infinity: parse, so the field holding it can be named
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidInputError(f"The request body is not valid JSON: {exc}.") from None


def _missing_to_none(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in MISSING_MARKERS:
        return None
    return value


def _finite_or_none(value: Any) -> Any:
    value = _missing_to_none(value)
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


def _field_type(role: Role, categories: tuple[str, ...] | None) -> Any:
    if role is Role.NUMERIC:
        return Annotated[
            Annotated[float, Field(allow_inf_nan=False)] | None, BeforeValidator(_finite_or_none)
        ]
    if role is Role.BOOLEAN:
        return Annotated[bool | str | None, BeforeValidator(_missing_to_none)]
    described = Field(
        description=(
            f"Known values: {', '.join(categories[:50])}. Other values are accepted (unseen)."
            if categories
            else None
        ),
        json_schema_extra={"x-categories": list(categories)} if categories else None,
    )
    return Annotated[str | None, BeforeValidator(_missing_to_none), described]


class RowParser:
    """Validates the rows of a request against one model's input schema.

    Parameters
    ----------
    schema : Schema
        The model's input schema (its feature columns are the required fields).
    name : str
        Names the row type in the OpenAPI docs.

    Examples
    --------
    >>> from modelloop.data import ColumnSchema, Role, Schema
    >>> parser = RowParser(Schema((ColumnSchema("age", Role.NUMERIC, "float64"),)), "demo")
    >>> parser.validate([{"age": "41"}])
    [{'age': 41.0}]
    """

    def __init__(self, schema: Schema, name: str) -> None:
        self.schema = schema.features()
        self.features = self.schema.feature_columns()
        fields = {c.name: _field_type(c.role, c.categories) for c in self.schema.columns}
        row = TypedDict(f"{_type_name(name)}Row", fields)  # type: ignore[misc]
        row.__pydantic_config__ = ConfigDict(  # type: ignore[attr-defined]
            extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True
        )
        self.row_type = row
        self._adapter = TypeAdapter(list[row])  # type: ignore[valid-type]
        self.categories = {
            c.name: frozenset(c.categories)
            for c in self.schema.columns
            if c.role is Role.CATEGORICAL and c.categories
        }

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of one row."""
        return TypeAdapter(self.row_type).json_schema()

    def validate(self, rows: Sequence[Any], where: str = "instances") -> list[dict[str, Any]]:
        """Typed rows (dicts of feature columns); raises :class:`RequestRejected`."""
        try:
            return self._adapter.validate_python(rows)
        except ValidationError as exc:
            from modelloop.serving._errors import details_of, validation_message

            errors = exc.errors(include_url=False)
            raise RequestRejected(
                validation_message(errors, (where,)), details_of(errors, (where,))
            ) from None

    def unseen(self, rows: Sequence[Mapping[str, Any]]) -> Counter[str]:
        """How many values of each categorical column were not seen in training."""
        counts: Counter[str] = Counter()
        for name, known in self.categories.items():
            for r in rows:
                v = r.get(name)
                if v is not None and v not in known:
                    counts[name] += 1
        return counts

    def records_from_lists(self, data: Sequence[Any], where: str) -> list[dict[str, Any]]:
        """Rows given as lists of values in feature order, as records."""
        n = len(self.features)
        out = []
        for i, values in enumerate(data):
            if not isinstance(values, list):
                raise InvalidInputError(
                    f"{where}[{i}] must be a list of {n} values in the order {self.features}. "
                    f"Got {type(values).__name__}."
                )
            if len(values) != n:
                raise InvalidInputError(
                    f"{where}[{i}] must have {n} values, in the order {self.features}. "
                    f"Got {len(values)}."
                )
            out.append(dict(zip(self.features, values, strict=True)))
        return out


def _type_name(name: str) -> str:
    return "".join(p.capitalize() for p in "".join(c if c.isalnum() else " " for c in name).split())


def _check_count(n: int, where: str, max_rows: int) -> None:
    if n == 0:
        raise InvalidInputError(f"'{where}' is empty. Send at least one row.")
    if n > max_rows:
        raise PayloadTooLargeError(
            f"'{where}' has {n} rows; this server takes at most {max_rows} per request. "
            "Split the request."
        )


def rows_of(payload: Any, parser: RowParser, max_rows: int) -> tuple[list[Any], str]:
    """The raw rows of a v1 request body, and the field they came from.

    Accepted shapes: ``{"instances": [record | list, ...]}``, ``{"dataframe_records": [...]}``
    and ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``.
    """
    if not isinstance(payload, dict):
        raise InvalidInputError(
            'The request body must be a JSON object such as {"instances": [{...}]}. '
            f"Got a JSON {type(payload).__name__}."
        )
    for key in ("instances", "dataframe_records"):
        if key in payload:
            rows = payload[key]
            if not isinstance(rows, list):
                raise InvalidInputError(
                    f"'{key}' must be a list of rows. Got {type(rows).__name__}."
                )
            _check_count(len(rows), key, max_rows)
            if all(isinstance(r, list) for r in rows):
                return parser.records_from_lists(rows, key), key
            return rows, key
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        if not isinstance(split, dict) or not isinstance(split.get("columns"), list):
            raise InvalidInputError(
                "'dataframe_split' must be an object with 'columns' (a list of names) and "
                "'data' (a list of rows)."
            )
        columns, data = split["columns"], split.get("data")
        if not isinstance(data, list):
            raise InvalidInputError("'dataframe_split.data' must be a list of rows.")
        _check_count(len(data), "dataframe_split.data", max_rows)
        rows = []
        for i, values in enumerate(data):
            if not isinstance(values, list) or len(values) != len(columns):
                raise InvalidInputError(
                    f"'dataframe_split.data[{i}]' must be a list of {len(columns)} values "
                    f"(one per column). Got {values!r:.80}."
                )
            rows.append(dict(zip(columns, values, strict=True)))
        return rows, "dataframe_split.data"
    raise InvalidInputError(
        "The request body must have 'instances' (a list of records), 'dataframe_records' or "
        f"'dataframe_split'. Got keys: {', '.join(map(str, payload)) or 'none'}."
    )


def is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
