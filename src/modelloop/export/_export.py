"""``export_model``: a registered model version, written in a format another tool consumes.

Every format writes into a fresh folder (see :mod:`._output`): nothing is left at the
output path unless the whole export succeeded, and an output folder that exists and is not
empty is refused unless ``force``. The export is then recorded in the store (format,
sha256 of its manifest, path, modelloop version), and ``modelloop models show`` lists it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelloop.data import Schema
from modelloop.exceptions import ExportError
from modelloop.export._environment import modelloop_version
from modelloop.export._output import output_folder, write_manifest
from modelloop.store import ExportRecord, ModelVersionRecord, Store

__all__ = ["FORMATS", "ExportContext", "ExportResult", "check_format", "export_model"]

FORMATS = ("onnx", "mlflow", "docker", "kubernetes", "kfp")


@dataclass(frozen=True)
class ExportContext:
    """What a format writer gets: the version, its loaded bundle and file, and options."""

    record: ModelVersionRecord
    bundle: dict[str, Any]
    model_file: Path
    store: Store
    trained_with: dict[str, str]
    image: str
    destination: Path
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> Schema:
        return Schema.from_dict(self.bundle["schema"])

    @property
    def task(self) -> str:
        return str(self.bundle["task"])

    @property
    def slug(self) -> str:
        """The model name as a Kubernetes / image name part (lowercase, dashes)."""
        import re

        slug = re.sub(r"[^a-z0-9-]+", "-", self.record.name.lower()).strip("-")
        return (slug or "model")[:40]

    def reference_rows(self, n: int = 200) -> Any:
        """Up to ``n`` training rows kept with the version (None when it has none)."""
        if not self.record.reference_snapshot:
            return None
        frame = self.store.reference_data(self.record)
        return frame.head(n)


@dataclass(frozen=True)
class ExportResult:
    """What was written, where, and its record in the store."""

    format: str
    path: Path
    sha256: str
    files: list[str]
    record: ExportRecord
    notes: list[str] = field(default_factory=list)


def check_format(fmt: str) -> str:
    """``fmt`` lowercased, or an ``ExportError`` listing the valid formats."""
    value = str(fmt).strip().lower()
    if value not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}; valid formats: {', '.join(FORMATS)}.")
    return value


def _writer(fmt: str) -> Callable[[Path, ExportContext], dict[str, Any]]:
    if fmt == "onnx":
        from modelloop.export._onnx_export import write_onnx

        return write_onnx
    if fmt == "mlflow":
        from modelloop.export._mlflow import write_mlflow

        return write_mlflow
    if fmt == "docker":
        from modelloop.export._docker import write_docker

        return write_docker
    if fmt == "kubernetes":
        from modelloop.export._kubernetes import write_kubernetes

        return write_kubernetes
    from modelloop.export._kfp import write_kfp

    return write_kfp


def export_model(
    store: Store,
    ref: str,
    fmt: str,
    out: str | Path,
    *,
    force: bool = False,
    image: str | None = None,
    **options: Any,
) -> ExportResult:
    """Write model version ``ref`` (``name``, ``name@alias``, ``name:3``) as ``fmt`` in ``out``.

    ``image`` names the container image the docker build context makes and the Kubernetes
    manifests and the Kubeflow pipeline run (default ``modelloop-<name>:<version>``).

    Raises
    ------
    ExportError
        An unknown format, an output folder that is not empty (without ``force``), or a
        model (a part of it) the format cannot hold; nothing is written then.

    Examples
    --------
    >>> export_model(store, "churn@production", "onnx", "churn-onnx")  # doctest: +SKIP
    ExportResult(format='onnx', path=PosixPath('.../churn-onnx'), ...)
    """
    fmt = check_format(fmt)
    record, bundle = store.load_model(ref)
    if not isinstance(bundle, dict) or "pipeline" not in bundle:
        raise ExportError(
            f"Model {record.ref} was not registered by modelloop's train (it holds a "
            f"{type(bundle).__name__}); only modelloop models can be exported."
        )
    trained_with: dict[str, str] = {}
    if record.run_id:
        run = store.get_run(record.run_id)
        trained_with = {str(k): str(v) for k, v in (run.library_versions or {}).items()}
    context = ExportContext(
        record=record,
        bundle=bundle,
        model_file=store.model_file(record),
        store=store,
        trained_with=trained_with,
        image=image or default_image(record),
        destination=Path(out).expanduser().absolute(),
        options=dict(options),
    )
    writer = _writer(fmt)
    with output_folder(out, force=force) as folder:
        details = writer(folder, context)
        sha256 = write_manifest(folder)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    final = Path(out).expanduser().absolute()
    notes = list(details.pop("notes", []))
    saved = store.record_export(
        record,
        format=fmt,
        sha256=sha256,
        path=str(final),
        modelloop_version=modelloop_version(),
        details={**details, "files": len(files), "notes": notes},
    )
    return ExportResult(fmt, final, sha256, files, saved, notes)


def default_image(record: ModelVersionRecord) -> str:
    """``modelloop-<name>:<version>``, the image name in lowercase."""
    import re

    slug = re.sub(r"[^a-z0-9._-]+", "-", record.name.lower()).strip("-.") or "model"
    return f"modelloop-{slug}:{record.version}"
