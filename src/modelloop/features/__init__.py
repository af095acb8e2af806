"""Features: preprocessing from a schema, as scikit-learn transformers and Pipelines.

>>> from modelloop.features import FAMILIES
>>> FAMILIES
('linear', 'tree', 'deep')
"""

from __future__ import annotations

from modelloop.features._categorical import MISSING_CATEGORY, MissingCategory
from modelloop.features._datetime import DatetimeFeatures
from modelloop.features._enforcer import SchemaEnforcer
from modelloop.features._preprocess import (
    FAMILIES,
    LOW_CARDINALITY,
    TEXT_COMPONENTS,
    low_cardinality_columns,
    make_pipeline,
    make_preprocessor,
)
from modelloop.features._text import TEXT_METHODS, TextFeatures, check_text_column
from modelloop.features._text_embed import embed_texts, sentence_model_available

__all__ = [
    "FAMILIES",
    "LOW_CARDINALITY",
    "MISSING_CATEGORY",
    "TEXT_COMPONENTS",
    "TEXT_METHODS",
    "DatetimeFeatures",
    "MissingCategory",
    "SchemaEnforcer",
    "TextFeatures",
    "check_text_column",
    "embed_texts",
    "low_cardinality_columns",
    "make_pipeline",
    "make_preprocessor",
    "sentence_model_available",
]
