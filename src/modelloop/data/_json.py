"""``json_value``: see :mod:`modelloop._json` (kept outside this package, whose import
loads pandas, so that the store can use it without pandas)."""

from __future__ import annotations

from modelloop._json import json_value

__all__ = ["json_value"]
