"""Request bodies: JSON parsing, the accepted shapes, and a row type built from a model's schema.

Each served model gets a :class:`RowParser`: a pydantic ``TypedDict`` with one required,
nullable field per feature column (numbers for numeric columns, strings for categorical,
text and date columns), so a bad row is refused with a 422 that names the field, and the
OpenAPI docs show each model's columns, types and known categories. Unseen categories are
accepted (the pipeline handles them) and counted.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import orjson
from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from modelloop.data import MISSING_MARKERS, Role, Schema
from modelloop.exceptions import (
    InvalidInputError,
    MalformedRequestError,
    ModelloopError,
    PayloadTooLargeError,
)

__all__ = ["RequestRejected", "RowParser", "add_model_paths", "parse_json", "rows_of"]

log = logging.getLogger("modelloop.serving")


class RequestRejected(InvalidInputError):
    """A request body that failed validation; carries pydantic's per-field details."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.details = details


MAX_JSON_DEPTH = 1024  # arrays and objects inside each other (orjson's limit); rows need 4


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``; NaN/Infinity literals parse (and are refused later).

    A body that is not JSON, or nests arrays and objects deeper than
    :data:`MAX_JSON_DEPTH`, is a :class:`MalformedRequestError` (HTTP 400), never a
    recursion error in the parser or the validation after it.

    Examples
    --------
    >>> parse_json(b'{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> parse_json(b"[" * 1100 + b"]" * 1100)
    Traceback (most recent call last):
    ...
    modelloop.exceptions.MalformedRequestError: The request body nests arrays and objects more than 1024 levels deep; send rows of plain values.
    """
    if not body.strip():
        raise InvalidInputError("The request body is empty. Send a JSON object.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc) or "recursion" in str(exc):
            raise _too_deep() from None
        try:  # non-standard NaN / Infinity: parse, so the field holding it can be named
            return json.loads(body)
        except RecursionError:
            raise _too_deep() from None
        except (ValueError, UnicodeDecodeError):
            raise MalformedRequestError(f"The request body is not valid JSON: {exc}.") from None


def _too_deep() -> MalformedRequestError:
    log.warning("refused a request body nested more than %d levels deep", MAX_JSON_DEPTH)
    return MalformedRequestError(
        f"The request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
        "send rows of plain values."
    )


def _missing_to_none(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in MISSING_MARKERS:
        return None
    return value


def _finite_or_none(value: Any) -> Any:
    value = _missing_to_none(value)
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


def _image_value(value: Any) -> Any:
    """An image field: base64 (a string, a data: URI, or {"b64": ...}) -> the 224 x 224
    centre square the model scores, as a data: URI (also what the prediction log keeps).

    A file path is never read: a string is base64 data or it is refused.
    """
    value = _missing_to_none(value)
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"b64"}:
        value = value["b64"]
    if not isinstance(value, str):
        raise ValueError(
            'an image is a base64 string, a data:image/...;base64, URI or {"b64": "..."}; '
            f"got {type(value).__name__}"
        )
    from modelloop.data import decode_base64_image
    from modelloop.features import portable_image

    try:
        data = decode_base64_image(value, field="the value")
        return portable_image(data, paths=False)
    except InvalidInputError as exc:
        raise ValueError(
            str(exc).replace("An image of", "the value, an image of").rstrip(".")
        ) from None


def _image_size(value: Any) -> int:
    """Bytes of the image a field holds once decoded (estimated from the base64 length)."""
    if isinstance(value, dict) and isinstance(value.get("b64"), str):
        value = value["b64"]
    if not isinstance(value, str):
        return 0
    if value.startswith("data:"):
        value = value[value.find(",") + 1 :]
    return len(value) * 3 // 4


def _field_type(role: Role, categories: tuple[str, ...] | None) -> Any:
    if role is Role.IMAGE:
        return Annotated[
            str | None,
            BeforeValidator(_image_value),
            Field(
                description="An image: base64 of the file (JPEG, PNG, GIF, WebP), as a "
                'string, a data:image/...;base64, URI or {"b64": "..."}.',
                json_schema_extra={"contentEncoding": "base64", "contentMediaType": "image/*"},
            ),
        ]
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

    def __init__(self, schema: Schema, name: str, *, known: Sequence[str] | None = None) -> None:
        self.name = name
        self.schema = schema.features()
        self.features = self.schema.feature_columns()
        # columns a row may hold: the features, and the rest of the model's table (its key
        # column, identifiers, the target), which are not used
        self.known = frozenset(known if known is not None else schema.names) | set(self.features)
        fields = {c.name: _field_type(c.role, c.categories) for c in self.schema.columns}
        row = TypedDict(f"{_type_name(name)}Row", fields)  # type: ignore[misc]
        row.__pydantic_config__ = ConfigDict(  # type: ignore[attr-defined]
            extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True
        )
        self.row_type = row
        self._adapter: TypeAdapter[list[Any]] = TypeAdapter(list[row])
        self.categories = {
            c.name: frozenset(c.categories)
            for c in self.schema.columns
            if c.role is Role.CATEGORICAL and c.categories
        }
        self.images = self.schema.by_role(Role.IMAGE)

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of one row: every feature required (``null`` for missing), the
        model's other columns (key, identifiers, target) allowed, nothing else."""
        schema = TypeAdapter(self.row_type).json_schema()
        properties = schema.setdefault("properties", {})
        for name in sorted(self.known - set(self.features)):
            properties[name] = {"description": "Not used by the model (its key, an "
                                "identifier or the target); allowed, and ignored."}  # fmt: skip
        schema["additionalProperties"] = False
        return schema

    def value_schemas(self) -> list[dict[str, Any]]:
        """The JSON schema of each feature's value, in feature order (rows as lists)."""
        types = {Role.NUMERIC: {"type": ["number", "null"]}, Role.BOOLEAN: {}}
        return [types.get(self.schema[c].role, {"type": ["string", "null"]}) for c in self.features]

    def check_columns(self, rows: Sequence[Any], where: str = "instances") -> None:
        """Refuse rows holding columns the model does not know (422), as ``modelloop
        predict`` does; ``?ignore_extra=true`` skips this check."""
        known = self.known
        for i, row in enumerate(rows):
            if isinstance(row, dict) and not known.issuperset(row):
                extra = sorted(str(k) for k in row if k not in known)
                shown = ", ".join(repr(c) for c in extra[:10])
                raise RequestRejected(
                    f"{where}[{i}] has column(s) {shown} that model '{self.name}' does not "
                    "know. Drop them, or add ?ignore_extra=true to the URL to ignore them.",
                    [{"field": f"{where}[{i}].{c}", "problem": "unknown column",
                      "type": "extra_forbidden"} for c in extra[:20]],
                )  # fmt: skip

    def validate(
        self, rows: Sequence[Any], where: str = "instances", *, max_image_bytes: int | None = None
    ) -> list[dict[str, Any]]:
        """Typed rows (dicts of feature columns); raises :class:`RequestRejected`.

        Image fields become the data: URI of what the model scores; one larger than
        ``max_image_bytes`` (decoded) raises :class:`PayloadTooLargeError` (HTTP 413).
        """
        if self.images and max_image_bytes is not None:
            self._check_image_sizes(rows, where, max_image_bytes)
        try:
            return self._adapter.validate_python(rows)
        except ValidationError as exc:
            from modelloop.serving._errors import details_of, validation_message

            errors = exc.errors(include_url=False)
            raise RequestRejected(
                validation_message(errors, (where,)), details_of(errors, (where,))
            ) from None

    def _check_image_sizes(self, rows: Sequence[Any], where: str, limit: int) -> None:
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                continue
            for name in self.images:
                size = _image_size(row.get(name))
                if size > limit:
                    raise PayloadTooLargeError(
                        f"{where}[{i}].{name} is an image of about {size:,} bytes; this server "
                        f"takes images of at most {limit:,} bytes "
                        "(MODELLOOP_SERVE_MAX_IMAGE_BYTES). Send a smaller image."
                    )

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


_ROW_KEYS = ("instances", "dataframe_records", "dataframe_split")


def rows_of(payload: Any, parser: RowParser, max_rows: int) -> tuple[list[Any], str]:
    """The raw rows of a v1 request body, and the field they came from.

    Accepted shapes, exactly one per request: ``{"instances": [record | list, ...]}``,
    ``{"dataframe_records": [...]}`` and ``{"dataframe_split": {"columns": [...], "data":
    [[...], ...]}}``.
    """
    if not isinstance(payload, dict):
        raise InvalidInputError(
            'The request body must be a JSON object such as {"instances": [{...}]}. '
            f"Got a JSON {type(payload).__name__}."
        )
    given = [k for k in _ROW_KEYS if k in payload]
    if len(given) > 1:
        raise InvalidInputError(
            f"The request body has {' and '.join(repr(k) for k in given)}; send the rows in "
            "exactly one of 'instances', 'dataframe_records' or 'dataframe_split'."
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


def _body(row_ref: str, parser: RowParser, max_rows: int) -> dict[str, Any]:
    """The request body of one model version's predict routes, for the OpenAPI document:
    exactly one of the three row shapes."""
    n = len(parser.features)
    as_list = {"type": "array", "prefixItems": parser.value_schemas(), "minItems": n,
               "maxItems": n, "description": f"Values in the order {parser.features}."}  # fmt: skip
    rows = {
        "type": "array",
        "minItems": 1,
        "maxItems": max_rows,
        "items": {"anyOf": [{"$ref": row_ref}, as_list]},
    }
    split = {
        "type": "object",
        "required": ["columns", "data"],
        "additionalProperties": False,
        "properties": {
            "columns": {"type": "array", "items": {"type": "string", "enum": sorted(parser.known)}},
            "data": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_rows,
                "items": {"type": "array"},
            },
        },
    }

    def one(key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": [key], "additionalProperties": False,
                "properties": {key: value}}  # fmt: skip

    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        one("instances", rows),
                        one("dataframe_records", rows),
                        one("dataframe_split", split),
                    ]
                }
            }
        },
    }


def add_model_paths(doc: dict[str, Any], registry: Any, max_rows: int) -> None:
    """Add to an OpenAPI document one path per served model, alias and version route.

    Every served version gets its row type under ``components/schemas``; the routes
    ``/v1/models/NAME/predict``, ``.../aliases/ALIAS/predict``, ``.../versions/V/predict``
    (for the versions the server has loaded), ``/v1/models/NAME/explain`` and
    ``/v2/models/NAME/infer`` appear once per
    model with that version's request body, and ``POST /predict`` shows the default model's
    column order.
    """
    paths = doc.setdefault("paths", {})
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    generic = {
        key: paths.get(key, {}).get("post")
        for key in (
            "/v1/models/{name}/predict",
            "/v1/models/{name}/aliases/{alias}/predict",
            "/v1/models/{name}/versions/{version}/predict",
            "/v1/models/{name}/explain",
            "/v2/models/{name}/infer",
            "/predict",
        )
    }

    def row_ref(served: Any) -> str:
        key = f"{served.parser.row_type.__name__}V{served.version}"
        if key not in components:
            row_schema = served.parser.json_schema()
            for sub_key, sub in row_schema.pop("$defs", {}).items():
                components.setdefault(sub_key, sub)
            row_schema["title"] = f"{served.name} version {served.version}: one row"
            components[key] = row_schema
        return f"#/components/schemas/{key}"

    def add(template: str, path: str, served: Any, summary: str, op_id: str) -> None:
        op = generic.get(template)
        if op is None:
            return
        op = copy.deepcopy(op)
        op["summary"] = summary
        op["operationId"] = op_id
        # the path parameters are filled in; query parameters (explain's) stay
        op["parameters"] = [q for q in op.get("parameters", []) if q.get("in") == "query"]
        op["tags"] = ["models: " + served.name]
        if template.startswith("/v2"):
            inputs = ", ".join(
                f"{c} ({served.parser.schema[c].role.value})" for c in served.features
            )
            op["description"] = f"Open Inference Protocol. Inputs, one tensor per column: {inputs}."
        else:
            op["requestBody"] = _body(row_ref(served), served.parser, max_rows)
        paths[path] = {"post": op}

    for name in registry.names():
        served = registry.get(name)
        slug = _type_name(name)
        base = f"/v1/models/{name}"
        add(
            "/v1/models/{name}/predict",
            f"{base}/predict",
            served,
            f"Predict with {name} (version {served.version} now)",
            f"predict_{slug}",
        )
        versions = {served.version: served}
        try:
            aliases = registry.describe(name).get("aliases", {})
        except ModelloopError:
            aliases = {}
        for alias in sorted(aliases):
            try:
                aliased = registry.get(name, alias=alias)
            except ModelloopError:
                continue
            versions[aliased.version] = aliased
            add(
                "/v1/models/{name}/aliases/{alias}/predict",
                f"{base}/aliases/{alias}/predict",
                aliased,
                f"Predict with {name}@{alias} (version {aliased.version} now)",
                f"predict_{slug}_alias_{_type_name(alias)}",
            )
        for version, v_served in sorted(versions.items()):
            add(
                "/v1/models/{name}/versions/{version}/predict",
                f"{base}/versions/{version}/predict",
                v_served,
                f"Predict with {name} version {version}",
                f"predict_{slug}_v{version}",
            )
        add(
            "/v1/models/{name}/explain",
            f"{base}/explain",
            served,
            f"Explain {name}'s predictions (version {served.version} now)",
            f"explain_{slug}",
        )
        add(
            "/v2/models/{name}/infer",
            f"/v2/models/{name}/infer",
            served,
            f"Infer with {name} (Open Inference Protocol)",
            f"infer_{slug}",
        )
    _add_tutorial(paths, generic.get("/predict"), registry, row_ref)


def _add_tutorial(
    paths: dict[str, Any], op: dict[str, Any] | None, registry: Any, row_ref: Any
) -> None:
    """``POST /predict``: the default model's columns, in the order ``features`` takes."""
    if op is None:
        return
    try:
        served = registry.get(registry.default_name())
    except ModelloopError:
        return  # no single default model: the generic description stands
    items = served.parser.value_schemas()
    op = copy.deepcopy(op)
    op["description"] = (
        f"Predict with {served.name} (the default model). 'features' holds "
        f"{len(served.features)} values in this order: {', '.join(served.features)} (or a "
        "list of such lists, or one record); or send one record."
    )
    one = {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
    features = {
        "anyOf": [one, {"type": "array", "items": one, "minItems": 1}, {"$ref": row_ref(served)}],
        "description": f"Values of {', '.join(served.features)}, in that order; or one record.",
    }
    op["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["features"],
                            "additionalProperties": False,
                            "properties": {"features": features},
                        },
                        {"$ref": row_ref(served)},
                    ]
                }
            }
        },
    }
    paths["/predict"] = {"post": op}
