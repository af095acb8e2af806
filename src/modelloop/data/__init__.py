"""Data: sources, schema inference, cleaning (conform), task detection, profiling, batches.

>>> from modelloop.data import load
>>> ds = load("titanic.csv", target="Survived")  # doctest: +SKIP
>>> ds.schema["PassengerId"].role.value  # doctest: +SKIP
'identifier'
"""

from modelloop.data._batches import iter_batches, iter_tables, numbers_or_none, sniff_format
from modelloop.data._bundled import (
    BundledDataset,
    bundled_dataset,
    bundled_datasets,
    load_bundled,
)
from modelloop.data._conform import conform
from modelloop.data._dataset import Dataset, SampleInfo, content_hash
from modelloop.data._html import parse_number_text, read_html_table
from modelloop.data._http import (
    HttpOptions,
    flatten_records,
    is_http_url,
    read_json_api,
    redact_url,
)
from modelloop.data._image_folder import (
    IMAGE_COLUMN,
    LABEL_COLUMN,
    check_images,
    image_splits,
    read_image_folder,
)
from modelloop.data._images import (
    IMAGE_EXTENSIONS,
    IMAGE_STATS,
    ImageInfo,
    decode_base64_image,
    image_bytes,
    image_digest,
    image_stats,
    is_image_path,
    open_image,
    square_image,
    to_data_uri,
    value_digest,
)
from modelloop.data._infer import infer_schema
from modelloop.data._json import json_value
from modelloop.data._load import load, read_table
from modelloop.data._profile import Profile, profile, validation_hints
from modelloop.data._rules import (
    ColumnRules,
    RuleReport,
    Rules,
    Violation,
    enforce_rules,
    load_rules,
    suggest_rules,
    validate_frame,
)
from modelloop.data._sample import available_memory, estimate_size
from modelloop.data._schema import (
    FEATURE_ROLES,
    TASKS,
    ColumnSchema,
    Role,
    Schema,
    Task,
    check_task,
)
from modelloop.data._snapshot_diff import SnapshotDiff, diff_frames
from modelloop.data._sources import is_url
from modelloop.data._sql import decode_watermark, encode_watermark, read_sql_since, watermark_of
from modelloop.data._storable import column_types, storable_frame
from modelloop.data._stream_stats import ColumnStats, StreamStats, stream_stats
from modelloop.data._task import (
    UNSUPERVISED_TASKS,
    check_target,
    detect_task,
    drop_missing_target,
)
from modelloop.data._values import MISSING_MARKERS, is_missing_marker

__all__ = [
    "FEATURE_ROLES",
    "IMAGE_COLUMN",
    "IMAGE_EXTENSIONS",
    "IMAGE_STATS",
    "LABEL_COLUMN",
    "MISSING_MARKERS",
    "TASKS",
    "UNSUPERVISED_TASKS",
    "BundledDataset",
    "ColumnRules",
    "ColumnSchema",
    "ColumnStats",
    "Dataset",
    "HttpOptions",
    "ImageInfo",
    "Profile",
    "Role",
    "RuleReport",
    "Rules",
    "SampleInfo",
    "Schema",
    "SnapshotDiff",
    "StreamStats",
    "Task",
    "Violation",
    "available_memory",
    "bundled_dataset",
    "bundled_datasets",
    "check_images",
    "check_target",
    "check_task",
    "column_types",
    "conform",
    "content_hash",
    "decode_base64_image",
    "decode_watermark",
    "detect_task",
    "diff_frames",
    "drop_missing_target",
    "encode_watermark",
    "enforce_rules",
    "estimate_size",
    "flatten_records",
    "image_bytes",
    "image_digest",
    "image_splits",
    "image_stats",
    "infer_schema",
    "is_http_url",
    "is_image_path",
    "is_missing_marker",
    "is_url",
    "iter_batches",
    "iter_tables",
    "json_value",
    "load",
    "load_bundled",
    "load_rules",
    "numbers_or_none",
    "open_image",
    "parse_number_text",
    "profile",
    "read_html_table",
    "read_image_folder",
    "read_json_api",
    "read_sql_since",
    "read_table",
    "redact_url",
    "sniff_format",
    "square_image",
    "storable_frame",
    "stream_stats",
    "suggest_rules",
    "to_data_uri",
    "validate_frame",
    "validation_hints",
    "value_digest",
    "watermark_of",
]
