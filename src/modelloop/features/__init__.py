"""Features: preprocessing from a schema, as scikit-learn transformers and Pipelines.

>>> from modelloop.features import FAMILIES
>>> FAMILIES
('linear', 'tree')
"""

from __future__ import annotations

from modelloop.features._categorical import MISSING_CATEGORY, MissingCategory
from modelloop.features._datetime import DatetimeFeatures
from modelloop.features._enforcer import SchemaEnforcer
from modelloop.features._preprocess import (
    FAMILIES,
    LOW_CARDINALITY,
    TEXT_COMPONENTS,
    make_pipeline,
    make_preprocessor,
)
from modelloop.features._text import TextFeatures

__all__ = [
    "FAMILIES",
    "LOW_CARDINALITY",
    "MISSING_CATEGORY",
    "TEXT_COMPONENTS",
    "DatetimeFeatures",
    "MissingCategory",
    "SchemaEnforcer",
    "TextFeatures",
    "make_pipeline",
    "make_preprocessor",
]
