"""``export``: a registered model version written for another tool (see ``modelloop.export``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelloop.config import Settings
from modelloop.export import ExportResult, check_format, export_model
from modelloop.store import Store

__all__ = ["export"]


def export(
    ref: str,
    format: str,
    out: str | Path,
    *,
    force: bool = False,
    image: str | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    **options: Any,
) -> ExportResult:
    """Export model version ``ref`` as ``format`` into the folder ``out``; record it.

    >>> import modelloop as ml
    >>> ml.workflows.export("churn@production", "onnx", "churn-onnx")  # doctest: +SKIP
    """
    check_format(format)  # before opening anything
    if store is not None:
        return export_model(store, ref, format, out, force=force, image=image, **options)
    with Store.from_settings(settings or Settings()) as opened:
        return export_model(opened, ref, format, out, force=force, image=image, **options)
