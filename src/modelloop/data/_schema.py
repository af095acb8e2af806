"""Column roles and the input schema that travels with every dataset and model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal, get_args

from modelloop.exceptions import ConfigurationError

__all__ = ["FEATURE_ROLES", "TASKS", "ColumnSchema", "Role", "Schema", "Task", "check_task"]

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = get_args(Task)
"""The supervised tasks, in this order (the unsupervised ones: ``UNSUPERVISED_TASKS``)."""


def check_task(task: str) -> None:
    """Raise ``ConfigurationError`` unless ``task`` is one of :data:`TASKS`.

    >>> check_task("binary")
    >>> check_task("ranking")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.ConfigurationError: Task must be one of binary, multiclass, regression. Got 'ranking'.
    """
    if task not in TASKS:
        raise ConfigurationError(f"Task must be one of {', '.join(TASKS)}. Got {task!r}.")


class Role(StrEnum):
    """What a column is, as far as learning from it goes."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    IMAGE = "image"  # one image per row: a file path, a data: URI or bytes
    IDENTIFIER = "identifier"  # every value distinct and no signal: dropped, with a note
    CONSTANT = "constant"  # at most one distinct value: dropped


FEATURE_ROLES = frozenset(
    {Role.NUMERIC, Role.CATEGORICAL, Role.BOOLEAN, Role.DATETIME, Role.TEXT, Role.IMAGE}
)


@dataclass(frozen=True)
class ColumnSchema:
    """One column: its role and what was seen of it when the schema was inferred.

    ``categories`` lists the observed values of a categorical or boolean column when there
    are few enough to enumerate (the allowed values shown in request schemas); it is
    ``None`` otherwise. ``note`` says why the column got its role when that is not obvious
    (for example why it was dropped).
    """

    name: str
    role: Role
    dtype: str
    n_missing: int = 0
    n_unique: int = 0
    categories: tuple[str, ...] | None = None
    note: str = ""
    format: str | None = None  # how a datetime column's text is parsed ('ISO8601', '%d-%m-%Y')

    @property
    def is_feature(self) -> bool:
        return self.role in FEATURE_ROLES

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["role"] = self.role.value
        d["categories"] = list(self.categories) if self.categories is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnSchema:
        cats = d.get("categories")
        return cls(
            name=d["name"],
            role=Role(d["role"]),
            dtype=d.get("dtype", "object"),
            n_missing=int(d.get("n_missing", 0)),
            n_unique=int(d.get("n_unique", 0)),
            categories=tuple(cats) if cats is not None else None,
            note=d.get("note", ""),
            format=d.get("format"),
        )


@dataclass(frozen=True)
class Schema:
    """The columns of a table in order, and which one (if any) is the target."""

    columns: tuple[ColumnSchema, ...]
    target: str | None = None
    notes: tuple[str, ...] = field(default=())

    def __iter__(self) -> Iterator[ColumnSchema]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    def __getitem__(self, name: str) -> ColumnSchema:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def feature_columns(self) -> list[str]:
        """Columns a model learns from: feature roles, the target excluded, in order."""
        return [c.name for c in self.columns if c.is_feature and c.name != self.target]

    def by_role(self, role: Role) -> list[str]:
        """Feature columns with the given role, the target excluded, in order."""
        return [c.name for c in self.columns if c.role is role and c.name != self.target]

    def features(self) -> Schema:
        """The schema of the model input: feature columns only, no target."""
        keep = set(self.feature_columns())
        return Schema(tuple(c for c in self.columns if c.name in keep), target=None)

    def replace(self, column: ColumnSchema) -> Schema:
        """A copy with the column of the same name replaced."""
        cols = tuple(column if c.name == column.name else c for c in self.columns)
        return Schema(cols, target=self.target, notes=self.notes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "target": self.target,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        return cls(
            columns=tuple(ColumnSchema.from_dict(c) for c in d["columns"]),
            target=d.get("target"),
            notes=tuple(d.get("notes", ())),
        )
