"""The store: SQLAlchemy tables + Alembic migrations, model files, and the registry.

One :class:`Store` keeps datasets, training runs and registered model versions (with
aliases such as ``production``) in any SQLAlchemy database -- a SQLite file under
``Settings.home`` by default -- and the models themselves as skops files whose sha256 is
checked on every load. Everything it returns is an immutable record.

:class:`Store` is a facade whose docstrings are the contract; the work is done by parts
split by concern (runs, registry, prediction log and feedback, snapshots, ...) over one
engine, each in its own module (see :mod:`modelloop.store._store`).

Example
-------
>>> import tempfile
>>> from modelloop.config import Settings
>>> from modelloop.store import Store
>>> with Store.from_settings(Settings(home=tempfile.mkdtemp())) as store:
...     store.list_models()
[]
"""

from __future__ import annotations

from modelloop.store._artifacts import MODEL_FORMAT_VERSION
from modelloop.store._exports import ExportRecord
from modelloop.store._feedback import FeedbackResult, check_label, key_text
from modelloop.store._pages import ActivityPoint, RunPage, RunSummary
from modelloop.store._predictions import PredictionRecord
from modelloop.store._records import (
    RUN_STATUSES,
    DatasetRecord,
    ModelSummary,
    ModelVersionRecord,
    RunRecord,
)
from modelloop.store._refs import ModelRef, parse_ref
from modelloop.store._rewards import RewardResult, check_reward
from modelloop.store._snapshots import SnapshotRecord, parse_snapshot_ref
from modelloop.store._store import Store
from modelloop.store._trials import TrialRecord
from modelloop.store._trust import (
    TRUSTED_TYPES,
    file_kind,
    is_pickle_name,
    load_pickle,
    load_skops,
    skops_io,
    untrusted_types,
)

__all__ = [
    "MODEL_FORMAT_VERSION",
    "RUN_STATUSES",
    "TRUSTED_TYPES",
    "ActivityPoint",
    "DatasetRecord",
    "ExportRecord",
    "FeedbackResult",
    "ModelRef",
    "ModelSummary",
    "ModelVersionRecord",
    "PredictionRecord",
    "RewardResult",
    "RunPage",
    "RunRecord",
    "RunSummary",
    "SnapshotRecord",
    "Store",
    "TrialRecord",
    "check_label",
    "check_reward",
    "file_kind",
    "is_pickle_name",
    "key_text",
    "load_pickle",
    "load_skops",
    "parse_ref",
    "parse_snapshot_ref",
    "skops_io",
    "untrusted_types",
]
