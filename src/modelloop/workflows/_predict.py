"""Batch predictions with a registered model: a DataFrame, or a file streamed in chunks."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelloop.config import Settings
from modelloop.data import (
    IMAGE_COLUMN,
    Role,
    Schema,
    check_images,
    iter_batches,
    read_image_folder,
)
from modelloop.exceptions import ColumnNotFoundError, SchemaMismatchError, UnsupportedSourceError
from modelloop.models import model_output
from modelloop.store import ModelVersionRecord, Store
from modelloop.workflows._progress import OnProgress, quiet

__all__ = [
    "ExplainOptions",
    "LoadedModel",
    "PredictSummary",
    "explain",
    "load_model",
    "predict",
    "predict_file",
]

_OUTPUT_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class ExplainOptions:
    """What ``--explain`` explains: ``output`` (``'probability'``, ``'log-odds'`` or
    ``'value'``; ``None``: the model's default) for ``target_class`` (``None``: the second
    class of a binary model, each row's predicted class of a multiclass one)."""

    output: str | None = None
    target_class: Any = None


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version, loaded and checked: its record, pipeline and schema.

    ``reference`` gives the rows the model was trained on (a frame, or a function that
    reads them from the store when an explanation first needs them).
    """

    record: ModelVersionRecord
    pipeline: Any
    schema: Schema
    task: str
    classes: list[Any] | None
    rules: dict[str, Any] | None = None  # what each row must meet (``train --rules``)
    bandit: dict[str, Any] | None = None  # a decision policy's columns, actions, exploration
    reference: Any = field(default=None, repr=False, compare=False)
    _explainer: list[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.record.name}:{self.record.version}"

    def explainer(self) -> Any:
        """The model's :class:`modelloop.explain.Explainer` (made once, then reused)."""
        if not self._explainer:
            from modelloop.explain import Explainer

            self._explainer.append(
                Explainer(
                    self.pipeline,
                    self.task,
                    self.schema.feature_columns(),
                    background=self.reference,
                    name=f"'{self.ref}'",
                )
            )
        return self._explainer[0]

    def explain(
        self, frame: pd.DataFrame, *, output: str | None = None, target_class: Any = None
    ) -> pd.DataFrame:
        """Per-row contributions of each input column to the model's output.

        Columns: ``explained_class`` (classifiers), ``output_value`` (the explained
        probability, log-odds or value), ``base_value`` and one ``contrib_<column>`` per
        input column, with ``base_value + sum(contrib_*) == output_value``. ``attrs`` says
        which output and method (see :class:`modelloop.explain.Explanation`).

        >>> import modelloop as ml
        >>> ml.workflows.load_model("titanic", store=store).explain(rows)  # doctest: +SKIP
        """
        explanation = self.explainer().explain(frame, output=output, target_class=target_class)
        return explanation.frame(index=frame.index)

    def with_reference(self) -> LoadedModel:
        """The same model with its reference rows read now (to send it to other processes)."""
        if not callable(self.reference):
            return self
        return replace(self, reference=self.reference(), _explainer=[])

    def without_reference(self) -> LoadedModel:
        """The same model without its reference rows (to send it to other processes)."""
        return replace(self, reference=None, _explainer=[])

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions for raw rows: a ``prediction`` column, plus ``proba_<class>`` columns.

        Unsupervised models answer ``cluster``; ``pc1``..``pcK``; or ``anomaly_score`` and
        ``is_anomaly`` instead (see ``models.unsupervised_output``).
        """
        return model_output(self.task, self.pipeline, frame)


def load_model(ref: str, *, store: Store) -> LoadedModel:
    """Resolve ``name``, ``name@alias`` or ``name:version`` and load it (sha256 checked).

    Its reference rows are read from ``store`` only if an explanation needs them.
    """
    record, bundle = store.load_model(ref)

    def reference() -> pd.DataFrame | None:
        if not record.reference_snapshot:
            return None
        return store.reference_data(record)

    return LoadedModel(
        record=record,
        pipeline=bundle["pipeline"],
        schema=Schema.from_dict(bundle["schema"]),
        task=bundle["task"],
        classes=bundle.get("classes"),
        rules=bundle.get("rules"),
        bandit=bundle.get("bandit"),
        reference=reference,
    )


def score_rows(
    model: LoadedModel, frame: pd.DataFrame, explain: ExplainOptions | None
) -> pd.DataFrame:
    """``model.predict_frame(frame)``, followed by the explanation columns when asked
    (their ``attrs`` -- output, method -- kept on the result)."""
    out = model.predict_frame(frame)
    if explain is None:
        return out
    contributions = model.explain(frame, output=explain.output, target_class=explain.target_class)
    both = pd.concat([out, contributions], axis=1)
    both.attrs = dict(contributions.attrs)
    return both


def describe_explanation(attrs: dict[str, Any]) -> str:
    """One line on what an explanation explains and how, from its frame's ``attrs``.

    >>> describe_explanation({"output": "probability", "method": "tree_shap",
    ...                       "detail": "LGBMClassifier: TreeSHAP (LightGBM pred_contrib)"})
    'probability, tree_shap: LGBMClassifier: TreeSHAP (LightGBM pred_contrib)'
    """
    return f"{attrs.get('output')}, {attrs.get('method')}: {attrs.get('detail')}"


def check_explain(model: LoadedModel, explain: ExplainOptions | None) -> None:
    """Fail before any row is read when the model cannot be explained as asked."""
    if explain is not None:
        model.explainer().check(explain.output)


def explain(
    ref: str | LoadedModel,
    data: pd.DataFrame,
    *,
    output: str | None = None,
    target_class: Any = None,
    settings: Settings | None = None,
    store: Store | None = None,
) -> pd.DataFrame:
    """Explain the predictions of a registered model for the rows of ``data``.

    See :meth:`LoadedModel.explain` for the columns.

    >>> import modelloop as ml
    >>> ml.workflows.explain("titanic@production", frame)  # doctest: +SKIP
    """
    model = resolve_model(ref, settings, store)  # its reference rows are read when needed
    check_columns(list(data.columns), model, "the data", (), True)
    return model.explain(data, output=output, target_class=target_class)


def resolve_model(
    ref: str | LoadedModel, settings: Settings | None, store: Store | None
) -> LoadedModel:
    """``ref`` loaded from ``store``, or from the settings' store opened just for this."""
    if isinstance(ref, LoadedModel):
        return ref
    if store is not None:
        return load_model(ref, store=store)
    with Store.from_settings(settings or Settings()) as opened:
        return load_model(ref, store=opened)


def check_columns(
    columns: Sequence[str], model: LoadedModel, source: str, keep: Sequence[str], ignore_extra: bool
) -> None:
    present = set(columns)
    for col in keep:
        if col not in present:
            raise ColumnNotFoundError(
                f"Column '{col}' asked for with --keep is not in {source}. "
                f"Columns: {', '.join(list(columns)[:20])}."
            )
    missing = [c for c in model.schema.feature_columns() if c not in present]
    if missing:
        shown = ", ".join(f"'{c}'" for c in missing[:10])
        raise SchemaMismatchError(
            f"{source} lacks column(s) {shown} that model '{model.ref}' needs. "
            "Add them (empty values are allowed) and try again."
        )
    known = set(model.schema.names) | set(keep)
    extra = [c for c in columns if c not in known]
    if extra and not ignore_extra:
        shown = ", ".join(f"'{c}'" for c in extra[:10])
        raise SchemaMismatchError(
            f"{source} has column(s) {shown} that model '{model.ref}' does not know. "
            "Drop them, copy them to the output with --keep, or pass --ignore-extra."
        )


def predict(
    ref: str | LoadedModel,
    data: pd.DataFrame,
    *,
    keep: Sequence[str] = (),
    ignore_extra: bool = True,
    explain: ExplainOptions | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
) -> pd.DataFrame:
    """Predict a DataFrame with a registered model (with ``explain``: and explain it).

    >>> import modelloop as ml
    >>> ml.predict("titanic@production", frame)  # doctest: +SKIP
    """
    model = resolve_model(ref, settings, store)
    check_columns(list(data.columns), model, "the data", keep, ignore_extra)
    check_explain(model, explain)
    out = score_rows(model, data, explain)
    if keep:
        out = pd.concat([data[list(keep)], out], axis=1)
    return out


@dataclass(frozen=True)
class PredictSummary:
    """What ``predict_file`` wrote."""

    model: str
    output: Path
    n_rows: int
    n_batches: int
    columns: tuple[str, ...]
    notes: tuple[str, ...] = ()
    explained: str | None = None  # with explain: what was explained, and how


class _Writer:
    """Writes batches to CSV or Parquet at a temporary path, moved into place at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.kind = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
        self._parquet: pq.ParquetWriter | None = None
        self._first = True

    def write(self, frame: pd.DataFrame) -> None:
        if self.kind == "csv":
            frame.to_csv(
                self.partial, mode="w" if self._first else "a", header=self._first, index=False
            )
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.partial, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        self._first = False

    def commit(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        self.partial.unlink(missing_ok=True)


def _output_path(output: str | Path) -> Path:
    path = Path(output)
    if path.suffix.lower() not in _OUTPUT_SUFFIXES:
        raise UnsupportedSourceError(
            f"Cannot write predictions to '{path.name}': the output must end in .csv or .parquet."
        )
    if not path.parent.exists():
        raise UnsupportedSourceError(f"Folder '{path.parent}' for the output does not exist.")
    return path


def predict_file(
    ref: str | LoadedModel,
    source: str | Path,
    output: str | Path,
    *,
    keep: Sequence[str] = (),
    ignore_extra: bool = False,
    batch_rows: int = 100_000,
    explain: ExplainOptions | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    on_progress: OnProgress = quiet,
) -> PredictSummary:
    """Score a CSV/Parquet/JSON Lines file chunk by chunk and write predictions.

    The input is read and written in batches of ``batch_rows`` rows, so files larger than
    memory work. The output (CSV or Parquet, by its extension) has the ``keep`` columns, a
    ``prediction`` column and, for classifiers, one ``proba_<class>`` column per class
    (unsupervised models: ``cluster``, ``pc1``..``pcK`` or ``anomaly_score`` and
    ``is_anomaly`` instead). It
    is written to ``<output>.partial`` and moved into place only when every row is scored.
    With ``explain`` each row is also explained: ``explained_class`` (classifiers),
    ``output_value``, ``base_value`` and one ``contrib_<column>`` per input column (see
    :meth:`LoadedModel.explain`). ``on_progress`` hears of the model's loading and of
    the rows scored so far (see :mod:`._progress`).
    """
    out_path = _output_path(output)
    if not isinstance(ref, LoadedModel):
        on_progress(f"Loading {ref}", None, None)
    model = resolve_model(ref, settings, store)  # predict_files passes it loaded
    check_explain(model, explain)
    source_name = Path(source).name
    writer = _Writer(out_path)
    n_rows = n_batches = 0
    columns: tuple[str, ...] = ()
    explained = None
    notes: list[str] = []
    images = model.schema.by_role(Role.IMAGE)
    if Path(source).expanduser().is_dir():
        frame, notes = _image_folder(Path(source).expanduser(), model)
        keep = list(dict.fromkeys([*frame.columns, *keep]))  # the image path (and label)
        batches: Iterator[pd.DataFrame] = (
            frame.iloc[i : i + batch_rows] for i in range(0, len(frame), batch_rows)
        )
    else:
        # Numeric features come typed from the reader, so the pipeline's SchemaEnforcer
        # does not parse text again; --keep columns stay as read, to be copied out unchanged.
        batches = iter_batches(source, batch_rows=batch_rows, schema=model.schema, raw=keep)
        if images:  # image paths in a table are relative to the table's folder
            base = Path(source).expanduser().resolve().parent
            batches = (_resolved(b, images, base) for b in batches)
    total = _row_count(source)
    on_progress(f"Scoring {source_name} with {model.ref}", 0, total)
    try:
        for batch in batches:
            if n_batches == 0:
                check_columns(list(batch.columns), model, source_name, keep, ignore_extra)
            out = score_rows(model, batch, explain)
            if explained is None and explain is not None:
                explained = describe_explanation(out.attrs)
            if keep:
                out = pd.concat(
                    [batch[list(keep)].reset_index(drop=True), out.reset_index(drop=True)],
                    axis=1,
                )
            writer.write(out)
            columns = tuple(out.columns)
            n_rows += len(batch)
            n_batches += 1
            on_progress(f"Scoring {source_name} with {model.ref}", n_rows, total)
        if n_batches == 0:
            raise SchemaMismatchError(f"{source_name} has no rows to predict.")
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return PredictSummary(model.ref, out_path, n_rows, n_batches, columns, tuple(notes), explained)


def _row_count(source: str | Path) -> int | None:
    """The rows of a Parquet file, read from its footer; ``None`` for other sources."""
    path = Path(source).expanduser()
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return None
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException):
        return None  # the reader will say what is wrong with it


def _image_folder(folder: Path, model: LoadedModel) -> tuple[pd.DataFrame, list[str]]:
    """The images of a folder as rows for a model with one image column; bad ones left out."""
    images = model.schema.by_role(Role.IMAGE)
    if len(images) != 1:
        raise SchemaMismatchError(
            f"{folder} is a folder of images; model '{model.ref}' takes "
            f"{'no image column' if not images else f'{len(images)} image columns'}, so it "
            "cannot score one. Pass a table instead."
        )
    frame, notes = read_image_folder(folder)
    frame = frame.rename(columns={IMAGE_COLUMN: images[0]})
    schema = Schema((model.schema[images[0]],))
    frame, checked = check_images(frame, schema, base=None, label=f"{folder.name}/")
    # class folders give a label column: kept beside the predictions, under the target's name
    if model.schema.target and "label" in frame.columns and model.schema.target != images[0]:
        frame = frame.rename(columns={"label": model.schema.target})
    return frame, notes + checked


def _resolved(batch: pd.DataFrame, columns: list[str], base: Path) -> pd.DataFrame:
    """``batch`` with relative image paths made absolute against ``base``."""
    for name in columns:
        if name in batch.columns:
            batch[name] = [
                str(base / v)
                if isinstance(v, str) and v.strip() and not v.startswith("data:")
                and not Path(v).expanduser().is_absolute()
                else v
                for v in batch[name].tolist()
            ]  # fmt: skip
    return batch
