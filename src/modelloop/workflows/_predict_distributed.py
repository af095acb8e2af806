"""Score many files (a glob) into a folder of Parquet parts, locally or on a Dask cluster.

Locally each input file is streamed batch by batch (``predict_file``), one output part per
file. With ``cluster`` the files become one ``dask.dataframe`` (CSV split into blocks of
``blocksize`` bytes, Parquet by file / row group) and the fitted pipeline scores each
partition where it lives (``map_partitions``); the model is sent to each worker once.
Memory per worker is bounded by the partition size, whatever the input's total size.

The output folder appears only when every row is scored: parts are written to
``<output>.partial/`` and the folder is renamed at the end.
"""

from __future__ import annotations

import glob as globlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from modelloop.config import Settings
from modelloop.data import Role, numbers_or_none
from modelloop.exceptions import SchemaMismatchError, UnsupportedSourceError
from modelloop.store import Store
from modelloop.workflows._predict import (
    ExplainOptions,
    LoadedModel,
    check_columns,
    check_explain,
    predict_file,
    resolve_model,
    score_rows,
)

__all__ = ["PredictFilesSummary", "expand_sources", "predict_files"]

_CSV = (".csv", ".tsv", ".csv.gz", ".txt")
_PARQUET = (".parquet", ".pq")


@dataclass(frozen=True)
class PredictFilesSummary:
    """What ``predict_files`` wrote: a folder of Parquet parts."""

    model: str
    output: Path
    n_files: int
    n_rows: int
    n_parts: int
    columns: tuple[str, ...]
    cluster: str | None


def expand_sources(pattern: str | Path) -> list[str]:
    """The files a glob (or a plain path) names, sorted; an error naming the pattern if none.

    >>> expand_sources("/nonexistent/*.parquet")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.UnsupportedSourceError: No file matches '/nonexistent/*.parquet'. Check the path and the pattern (quote it so the shell does not expand it).
    """
    text = str(pattern)
    if "://" in text:  # s3://, gs://, ... : dask reads them when fsspec's driver is installed
        return [text]
    files = sorted(p for p in globlib.glob(text, recursive=True) if Path(p).is_file())
    if not files:
        raise UnsupportedSourceError(
            f"No file matches '{text}'. Check the path and the pattern (quote it so the "
            "shell does not expand it)."
        )
    return files


def _kind(files: Sequence[str]) -> str:
    kinds = set()
    for f in files:
        name = f.lower()
        if name.endswith(_PARQUET):
            kinds.add("parquet")
        elif name.endswith(_CSV):
            kinds.add("csv")
        else:
            raise UnsupportedSourceError(
                f"Cannot score '{Path(f).name}' on a cluster: only CSV and Parquet files are "
                "split into partitions."
            )
    if len(kinds) > 1:
        raise UnsupportedSourceError(
            "The files to score mix CSV and Parquet. Give one kind per command."
        )
    return kinds.pop()


def _typed_numbers(frame: pd.DataFrame, schema: Any, keep: Sequence[str]) -> pd.DataFrame:
    """Numeric feature columns read as text, as float64 where ``conform`` would agree.

    Arrow parses them once here (missing markers -> NaN), so the pipeline's enforcer does
    not; a column holding anything else stays text for the enforcer to parse or report.
    """
    typed = {}
    for col in schema.columns:
        name = col.name
        if col.role is not Role.NUMERIC or name == schema.target or name in keep:
            continue
        if name not in frame.columns or pd.api.types.is_numeric_dtype(frame[name].dtype):
            continue
        try:
            values = pa.array(frame[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            continue
        numbers = numbers_or_none(values)
        if numbers is not None:
            typed[name] = pd.Series(
                numbers.to_numpy(zero_copy_only=False), index=frame.index, dtype="float64"
            )
    return frame.assign(**typed) if typed else frame


def _score_partition(
    frame: pd.DataFrame,
    model: LoadedModel,
    keep: Sequence[str],
    explain: ExplainOptions | None = None,
) -> pd.DataFrame:
    scored = score_rows(model, _typed_numbers(frame, model.schema, keep), explain)
    if keep:
        scored = pd.concat([frame[list(keep)], scored], axis=1)
    return scored.reset_index(drop=True)


def _output_dir(output: str | Path) -> tuple[Path, Path]:
    out = Path(output)
    if out.suffix.lower() in (".csv", ".parquet", ".pq"):
        raise UnsupportedSourceError(
            f"Scoring several files writes a folder of Parquet parts: give a folder for -o, "
            f"not '{out.name}'."
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UnsupportedSourceError(f"Output folder '{out}' exists and is not empty.")
    if not out.parent.exists():
        raise UnsupportedSourceError(f"Folder '{out.parent}' for the output does not exist.")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    return out, partial


def predict_files(
    ref: str,
    pattern: str | Path,
    output: str | Path,
    *,
    keep: Sequence[str] = (),
    ignore_extra: bool = False,
    cluster: Any = None,
    batch_rows: int = 100_000,
    blocksize: str = "64MB",
    explain: ExplainOptions | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
) -> PredictFilesSummary:
    """Score every file matching ``pattern`` with a registered model into a Parquet folder.

    Parameters
    ----------
    ref : ``name``, ``name@alias`` or ``name:version``.
    pattern : a glob such as ``'data/*.parquet'`` (CSV works too), or one file.
    output : the folder to create; it gets one ``part.N.parquet`` per partition.
    cluster : ``'local[:N]'``, a scheduler address or a ``distributed.Client``; without it
        the files are streamed one after the other in this process.
    batch_rows, blocksize : rows per batch locally; bytes per CSV partition on a cluster.
    explain : also explain each row (see ``predict_file``).

    Examples
    --------
    >>> import modelloop as ml
    >>> ml.workflows.predict_files("churn@production", "in/*.parquet", "scored/",
    ...                            cluster="local:2")  # doctest: +SKIP
    """
    settings = settings or Settings()
    cluster = settings.cluster if cluster is None else cluster
    files = expand_sources(pattern)
    kind = _kind(files)
    out, partial = _output_dir(output)
    model = resolve_model(ref, settings, store)
    check_explain(model, explain)
    partial.mkdir()
    try:
        if cluster:
            # the workers get the reference rows with the model when they explain, and
            # never the function reading them from the store (it cannot leave this process)
            model = model.with_reference() if explain is not None else model.without_reference()
            n_rows, n_parts, columns = _on_cluster(
                model, files, kind, partial, keep, ignore_extra, cluster, blocksize, explain
            )
        else:
            n_rows, n_parts, columns = 0, 0, ()
            for i, f in enumerate(files):
                summary = predict_file(
                    model,
                    f,
                    partial / f"part.{i}.parquet",
                    keep=keep,
                    ignore_extra=ignore_extra,
                    batch_rows=batch_rows,
                    explain=explain,
                )
                n_rows += summary.n_rows
                n_parts += 1
                columns = summary.columns
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    spec = None if not cluster else (cluster if isinstance(cluster, str) else "client")
    return PredictFilesSummary(model.ref, out, len(files), n_rows, n_parts, columns, spec)


def _on_cluster(model, files, kind, partial, keep, ignore_extra, cluster, blocksize, explain):
    import dask
    import dask.dataframe as dd

    from modelloop.tuning import connect_cluster

    client, local = (cluster, None) if not isinstance(cluster, str) else connect_cluster(cluster)
    try:
        if kind == "csv":
            # Raw strings: the pipeline's first step types them against the training schema,
            # so a partition never guesses a column's type differently from another.
            frame = dd.read_csv(
                files, blocksize=blocksize, dtype=str, keep_default_na=False, na_values=[""]
            )
        else:
            frame = dd.read_parquet(files)
        source = Path(files[0]).name if len(files) == 1 else f"{len(files)} files"
        check_columns(list(frame.columns), model, source, keep, ignore_extra)
        head = frame.get_partition(0).head(5, compute=True)
        if head.empty:
            raise SchemaMismatchError(f"{source} has no rows to predict.")
        meta = _score_partition(head, model, keep, explain).iloc[:0]
        shared = dask.delayed(model, pure=True)  # sent to each worker once, not per partition
        scored = frame.map_partitions(_score_partition, shared, list(keep), explain, meta=meta)
        scored.to_parquet(partial, write_index=False, compute=True)
        n_rows = sum(pq_rows(p) for p in partial.glob("*.parquet"))
        return n_rows, len(list(partial.glob("*.parquet"))), tuple(meta.columns)
    finally:
        if local is not None:
            client.close()
            local.close()


def pq_rows(path: Path) -> int:
    """Rows of a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)
