"""Data: sources, schema inference, cleaning (conform), task detection, profiling, batches.

>>> from modelloop.data import load
>>> ds = load("titanic.csv", target="Survived")  # doctest: +SKIP
>>> ds.schema["PassengerId"].role.value  # doctest: +SKIP
'identifier'
"""

from modelloop.data._batches import iter_batches, sniff_format
from modelloop.data._conform import conform
from modelloop.data._dataset import Dataset
from modelloop.data._infer import infer_schema
from modelloop.data._load import load
from modelloop.data._profile import Profile, profile
from modelloop.data._schema import FEATURE_ROLES, ColumnSchema, Role, Schema, Task
from modelloop.data._task import check_target, detect_task, drop_missing_target
from modelloop.data._values import MISSING_MARKERS, is_missing_marker

__all__ = [
    "FEATURE_ROLES",
    "MISSING_MARKERS",
    "ColumnSchema",
    "Dataset",
    "Profile",
    "Role",
    "Schema",
    "Task",
    "check_target",
    "conform",
    "detect_task",
    "drop_missing_target",
    "infer_schema",
    "is_missing_marker",
    "iter_batches",
    "load",
    "profile",
    "sniff_format",
]
