"""The HTML report of a run or model version, for the dashboard to embed.

Reports are made by ``modelloop.workflows.report(ref, output, store=...)`` (the same file
``modelloop report`` writes). Making one takes a while (plots, permutation importance), so
each is made once, on the first request, and kept in a small in-memory cache; pages embed it
in an ``<iframe>`` so that they render before the report is ready.
"""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelloop.exceptions import ModelloopError
from modelloop.store import Store

__all__ = ["ReportCache", "report_function"]


def report_function() -> Callable[..., Any] | None:
    """``modelloop.workflows.report`` when this installation has it, else ``None``."""
    try:
        from modelloop import workflows
    except ImportError:  # pragma: no cover - workflows is part of the package
        return None
    found = getattr(workflows, "report", None)
    return found if callable(found) else None


class ReportCache:
    """Reports by reference (a run id or ``'name:version'``), made once, the latest kept.

    Parameters
    ----------
    store : Store
        Where runs and model versions are read from.
    size : int
        How many reports to keep in memory.
    """

    def __init__(self, store: Store, size: int = 16) -> None:
        self.store = store
        self.size = size
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[str, threading.Lock] = {}

    @property
    def available(self) -> bool:
        """Whether this installation can make reports."""
        return report_function() is not None

    def get(self, ref: str) -> str:
        """The report HTML for ``ref``; ``ModelloopError`` when it cannot be made."""
        with self._lock:
            if ref in self._cache:
                self._cache.move_to_end(ref)
                return self._cache[ref]
            making = self._making.setdefault(ref, threading.Lock())
        with making:  # one request makes it; the others wait for it
            with self._lock:
                if ref in self._cache:
                    return self._cache[ref]
            html = self._make(ref)
            with self._lock:
                self._cache[ref] = html
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
                self._making.pop(ref, None)
        return html

    def _make(self, ref: str) -> str:
        make = report_function()
        if make is None:
            raise ModelloopError(
                "This installation of modelloop cannot make HTML reports yet "
                "(modelloop.workflows.report is missing)."
            )
        with tempfile.TemporaryDirectory(prefix="modelloop-report-") as tmp:
            output = Path(tmp) / "report.html"
            make(ref, output, store=self.store)
            return output.read_text(encoding="utf-8")
