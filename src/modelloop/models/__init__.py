"""Models: the catalog of estimators modelloop trains, with their default configurations.

>>> from modelloop.models import default_candidates, get_spec
>>> [get_spec(n, "regression").family for n in default_candidates("regression")]
['linear', 'tree', 'tree', 'tree']
"""

from __future__ import annotations

from modelloop.models._catalog import (
    MODELS,
    ModelSpec,
    catalog,
    default_candidates,
    get_spec,
)
from modelloop.models._portfolio import SPACES, portfolio, search_space

__all__ = [
    "MODELS",
    "SPACES",
    "ModelSpec",
    "catalog",
    "default_candidates",
    "get_spec",
    "portfolio",
    "search_space",
]
