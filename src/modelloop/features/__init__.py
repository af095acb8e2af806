"""Features: preprocessing from a schema, as scikit-learn transformers and Pipelines.

>>> from modelloop.features import FAMILIES
>>> FAMILIES
('linear', 'tree', 'deep', 'finetune')
"""

from __future__ import annotations

from modelloop.features._categorical import MISSING_CATEGORY, MissingCategory
from modelloop.features._datetime import DatetimeFeatures
from modelloop.features._enforcer import SchemaEnforcer
from modelloop.features._image import (
    IMAGE_COMPONENTS,
    ImageFeatures,
    cache_embeddings,
    embed_images,
    image_pixels,
    portable_image,
    portable_images,
    use_cache_dir,
)
from modelloop.features._image_net import IMAGE_MODEL, image_model_available
from modelloop.features._image_tune import TunedImageFeatures
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
    "IMAGE_COMPONENTS",
    "IMAGE_MODEL",
    "LOW_CARDINALITY",
    "MISSING_CATEGORY",
    "TEXT_COMPONENTS",
    "TEXT_METHODS",
    "DatetimeFeatures",
    "ImageFeatures",
    "MissingCategory",
    "SchemaEnforcer",
    "TextFeatures",
    "TunedImageFeatures",
    "cache_embeddings",
    "check_text_column",
    "embed_images",
    "embed_texts",
    "image_model_available",
    "image_pixels",
    "low_cardinality_columns",
    "make_pipeline",
    "make_preprocessor",
    "portable_image",
    "portable_images",
    "sentence_model_available",
    "use_cache_dir",
]
