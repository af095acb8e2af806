"""profile(): a per-column summary of a dataset and warnings worth reading before training."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data._dataset import Dataset, SampleInfo
from modelloop.data._json import json_value
from modelloop.data._names import column_not_found
from modelloop.data._schema import ColumnSchema, Role
from modelloop.data._task import detect_task
from modelloop.data._values import boolean_codes

__all__ = ["Profile", "profile", "validation_hints"]

LEAK_SAMPLE = 20_000  # rows used for the leakage checks on large datasets
LEAK_CORR = 0.98
LEAK_ACCURACY = 0.99
IMBALANCE_SHARE = 0.10
RARE_CLASS_ROWS = 10
MANY_MISSING = 0.50
HIGH_CARDINALITY = 100
# A column "looks grouped" when its name reads like a key and its values repeat: at least
# this many distinct values, each seen on average at least this many times.
GROUP_MIN_DISTINCT = 5
GROUP_MIN_ROWS_PER_VALUE = 2.0
_KEY_NAME = re.compile(
    r"(^|[_\W])(id|key|uuid|guid)$|[a-z]Id$|ID$|"
    r"^(user|customer|client|patient|subject|session|account|store|shop|device|household|"
    r"family|group|site|player|team|driver|member|visitor)s?(_?(id|no|number|code|key))?$",
    re.IGNORECASE,
)


def validation_hints(frame: pd.DataFrame, schema: Any, target: str | None = None) -> list[str]:
    """Warnings that shuffled cross-validation may be optimistic on these rows: a column
    whose name reads like a key and whose values repeat (rows of one group in both the
    training and the validation rows), or a datetime column (rows ordered in time).

    >>> from modelloop.data import load
    >>> ds = load(pd.DataFrame({"patient_id": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6],
    ...                         "x": range(12), "y": [0, 1] * 6}), target="y")
    >>> validation_hints(ds.frame, ds.schema, "y")[0][:43]
    "Column 'patient_id' repeats its values (6 v"
    """
    hints = []
    n = len(frame)
    for col in schema.columns:
        if col.name == target or col.name not in frame.columns:
            continue
        s = frame[col.name]
        if col.role is Role.DATETIME:
            hints.append(
                f"Column '{col.name}' holds dates: if the model will predict rows later than "
                f"these, validate on the future with --time {col.name} (time=) rather than "
                "shuffled folds, which score it on rows between its training rows."
            )
            continue
        if col.role in (Role.CONSTANT, Role.TEXT, Role.IMAGE) or not _KEY_NAME.search(col.name):
            continue
        distinct = int(s.nunique())
        if distinct >= GROUP_MIN_DISTINCT and n >= GROUP_MIN_ROWS_PER_VALUE * distinct:
            hints.append(
                f"Column '{col.name}' repeats its values ({distinct:,} values over {n:,} "
                f"rows): if its rows belong together (one customer, patient, session), keep "
                f"each group in one fold with --group {col.name} (group=); shuffled folds "
                "score the model on groups it has already seen."
            )
    return hints


@dataclass
class Profile:
    """What :func:`profile` found: one row per column, warnings and a target summary."""

    table: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    target: dict[str, Any] | None = None
    n_rows: int = 0
    n_cols: int = 0
    # set when the dataset is a sample of a larger file: rows kept / in the file, method,
    # and which figures are exact over the whole file ('exact') or over the sample
    sample: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: NaN becomes None, numpy scalars become Python numbers."""
        return {
            "n_rows": self.n_rows,
            "n_cols": self.n_cols,
            "sample": json_value(self.sample, unknown="keep"),
            "columns": [
                {k: json_value(v, unknown="keep") for k, v in row.items()}
                for row in self.table.to_dict(orient="records")
            ],
            "warnings": list(self.warnings),
            "target": json_value(self.target, unknown="keep"),
        }


def _num(v: float) -> str:
    return f"{v:.4g}"


def _boolean_labels(col: ColumnSchema) -> dict[float, str]:
    """0.0 / 1.0 back to the column's own labels ('no' / 'yes')."""
    labels: dict[float, str] = {}
    codes = boolean_codes(col.categories)
    for cat in col.categories or ():
        code = codes.get(cat.lower())
        if code is not None:
            labels[code] = cat
    return labels


def _summary(s: pd.Series, col: ColumnSchema) -> str:
    present = s.dropna()
    if present.empty:
        return "all missing"
    role = col.role
    if role is Role.IDENTIFIER:
        return f"{present.nunique():,} distinct"
    if role is Role.NUMERIC or (role is Role.CONSTANT and pd.api.types.is_numeric_dtype(s.dtype)):
        return f"{_num(present.min())} .. {_num(present.max())} (mean {_num(present.mean())})"
    if role is Role.DATETIME:
        lo, hi, mean = present.min(), present.max(), present.mean()
        return f"{lo:%Y-%m-%d} .. {hi:%Y-%m-%d} (mean {mean:%Y-%m-%d})"
    counts = present.value_counts().head(3)
    if role is Role.BOOLEAN:
        labels = _boolean_labels(col)
        return ", ".join(f"{labels.get(k, _num(k))} ({n:,})" for k, n in counts.items())
    return ", ".join(f"{_short(k)} ({n:,})" for k, n in counts.items())


def _short(value: object, width: int = 30) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _target_info(y: pd.Series, name: str) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    present = y.dropna()
    info: dict[str, Any] = {"name": name, "missing": int(y.isna().sum())}
    if present.empty:
        info["task"] = None
        return info, [f"Target '{name}' is missing in every row."]
    task = detect_task(present)
    info["task"] = task
    if info["missing"]:
        warnings.append(
            f"Target '{name}' is missing in {info['missing']:,} row(s); they are left out "
            "of training."
        )
    if task == "regression":
        values = present.astype("float64")
        info.update(
            min=float(values.min()),
            median=float(values.median()),
            max=float(values.max()),
            mean=float(values.mean()),
        )
        return info, warnings
    counts = present.value_counts()
    info["classes"] = {_label(k): int(n) for k, n in counts.items()}
    shares = counts / len(present)
    minority = [(k, s) for k, s in shares.items() if s < IMBALANCE_SHARE]
    if minority and len(counts) >= 2:
        shown = ", ".join(f"'{_label(k)}' {s:.1%}" for k, s in minority[:5])
        warnings.append(
            f"Target '{name}' is imbalanced: class(es) {shown} of rows. Prefer ROC AUC or "
            "log loss to accuracy."
        )
    rare = [(k, int(n)) for k, n in counts.items() if n < RARE_CLASS_ROWS]
    if rare:
        shown = ", ".join(f"'{_label(k)}' ({n})" for k, n in rare[:5])
        warnings.append(
            f"Target '{name}' has rare class(es) {shown} with fewer than {RARE_CLASS_ROWS} "
            "rows: their metrics will be noisy; consider merging them."
        )
    return info, warnings


def _leaks(
    frame: pd.DataFrame, features: list[ColumnSchema], target: str, task: str | None
) -> list[str]:
    """Features from which the target can be read off almost exactly."""
    if task is None:
        return []
    sampled = len(frame) > LEAK_SAMPLE
    if sampled:
        frame = frame.sample(LEAK_SAMPLE, random_state=0)
    frame = frame[frame[target].notna()]
    n = len(frame)
    if n < 10:
        return []
    suffix = f" (checked on a sample of {LEAK_SAMPLE:,} rows)" if sampled else ""
    y = frame[target]
    y_numeric = pd.api.types.is_numeric_dtype(y.dtype)
    y_codes = pd.factorize(y)[0]
    baseline = np.bincount(y_codes).max() / n
    y_values = y.to_numpy(dtype="float64") if y_numeric else None
    out: list[str] = []
    for col in features:
        s = frame[col.name]
        if col.role in (Role.NUMERIC, Role.BOOLEAN) and y_values is not None:
            x = s.to_numpy(dtype="float64")
            ok = ~np.isnan(x)
            if ok.sum() >= 10 and np.std(x[ok]) > 0 and np.std(y_values[ok]) > 0:
                r = float(np.corrcoef(x[ok], y_values[ok])[0, 1])
                if abs(r) >= LEAK_CORR:
                    out.append(
                        f"Column '{col.name}' is nearly equal to the target '{target}' "
                        f"(correlation {r:.3f}){suffix}: a possible leak; drop it unless it "
                        "is known at prediction time."
                    )
                    continue
        if col.role not in (Role.NUMERIC, Role.BOOLEAN, Role.CATEGORICAL):
            continue
        codes, uniques = pd.factorize(s, use_na_sentinel=False)
        if len(uniques) >= 0.5 * n:
            continue
        if task == "regression":
            if y_values is None:
                continue
            means = pd.Series(y_values).groupby(codes).transform("mean").to_numpy()
            total = float(np.var(y_values))
            explained = 1 - float(np.var(y_values - means)) / total if total > 0 else 0.0
            if explained >= LEAK_ACCURACY:
                out.append(
                    f"Column '{col.name}' determines the target '{target}' (its values "
                    f"explain {explained:.1%} of the variance){suffix}: a possible leak."
                )
            continue
        if baseline >= 0.97:
            continue
        pairs = pd.DataFrame({"x": codes, "y": y_codes}).groupby(["x", "y"]).size()
        accuracy = float(pairs.groupby(level=0).max().sum()) / n
        if accuracy >= LEAK_ACCURACY:
            out.append(
                f"The target '{target}' can be read off column '{col.name}' (a per-value "
                f"majority vote is right for {accuracy:.1%} of rows){suffix}: a possible leak; "
                "drop it unless it is known at prediction time."
            )
    return out


def profile(dataset: Dataset, *, target: str | None = None) -> Profile:
    """Summarise every column of a dataset and warn about what deserves a look.

    Warnings name: suspected leaks (a feature that nearly equals or determines the
    target), class imbalance (< 10% of rows) and rare classes (< 10 rows), features more
    than half missing, identifier and constant columns that are dropped, categoricals
    with more than 100 levels, and rows that look grouped or ordered in time (see
    :func:`validation_hints`). The leakage checks use a sample of 20,000 rows on larger
    datasets and say so.

    Parameters
    ----------
    dataset : Dataset
        A loaded dataset.
    target : str, optional
        The target column; default the dataset's own.

    Examples
    --------
    >>> import pandas as pd
    >>> from modelloop.data import load
    >>> ds = load(pd.DataFrame({"x": [1.0, 2, 3, 4], "y": ["a", "b", "a", "b"]}), target="y")
    >>> p = profile(ds)
    >>> p.table["role"].tolist(), p.target["task"]
    (['numeric', 'categorical'], 'binary')
    """
    frame, schema = dataset.frame, dataset.schema
    target = target if target is not None else schema.target
    if target is not None and target not in frame.columns:
        raise column_not_found(target, list(frame.columns), dataset.name)
    n = len(frame)
    stats = dataset.sample.stats if dataset.sample is not None else None
    exact_missing: list[str] = []
    exact_numbers: list[str] = []
    rows, warnings = [], []
    for col in schema.columns:
        if col.name not in frame.columns:
            continue
        s = frame[col.name]
        missing_share = int(s.isna().sum()) / n if n else 0.0
        summary = _summary(s, col)
        whole = stats.columns.get(col.name) if stats is not None else None
        if whole is not None and stats is not None and stats.rows:
            missing_share = whole.missing / stats.rows
            exact_missing.append(col.name)
            if col.role is Role.NUMERIC and whole.mean is not None:
                summary = f"{_num(whole.min)} .. {_num(whole.max)} (mean {_num(whole.mean)})"  # type: ignore[arg-type]
                exact_numbers.append(col.name)
        rows.append(
            {
                "column": col.name,
                "role": col.role.value,
                "dtype": str(s.dtype),
                "missing_pct": round(100 * missing_share, 2),
                "distinct": int(s.nunique()),
                "summary": summary,
                "note": col.note,
            }
        )
        if col.name == target:
            continue
        if col.role in (Role.IDENTIFIER, Role.CONSTANT):
            warnings.append(f"Column '{col.name}': {col.note}.")
            continue
        if missing_share > MANY_MISSING:
            how = (
                "missing is kept as a category of its own"
                if col.role is Role.CATEGORICAL
                else "imputed, with a missing-indicator column"
            )
            warnings.append(f"Column '{col.name}' is {missing_share:.0%} missing ({how}).")
        if col.role is Role.CATEGORICAL and s.nunique() > HIGH_CARDINALITY:
            warnings.append(
                f"Column '{col.name}' is categorical with {s.nunique():,} levels; check it "
                "is not an identifier or free text."
            )
    table = pd.DataFrame(
        rows, columns=["column", "role", "dtype", "missing_pct", "distinct", "summary", "note"]
    )
    info = None
    if target is not None:
        info, target_warnings = _target_info(frame[target], target)
        features = [c for c in schema.columns if c.is_feature and c.name != target]
        warnings = _leaks(frame, features, target, info["task"]) + target_warnings + warnings
    warnings += validation_hints(frame, schema, target)
    sample = None
    if dataset.sample is not None:
        sample, note = _sample_note(dataset.sample, dataset, exact_missing, exact_numbers)
        warnings.insert(0, note)
    return Profile(
        table=table,
        warnings=warnings,
        target=info,
        n_rows=n,
        n_cols=frame.shape[1],
        sample=sample,
    )


def _sample_note(
    info: SampleInfo, dataset: Dataset, exact_missing: list[str], exact_numbers: list[str]
) -> tuple[dict[str, Any], str]:
    """What a profile of a sampled dataset states: the sample, and what is exact."""
    over_sample = ["distinct", "top values", "target", "leakage checks"]
    exact = ["rows"] if info.stats is not None else []
    if exact_missing:
        exact.append("missing_pct")
    if exact_numbers:
        exact.append("numeric min/max/mean")
    others = [
        c.name
        for c in dataset.schema.columns
        if c.role is Role.NUMERIC and c.name not in exact_numbers and c.name in dataset.frame
    ]
    block = {
        **info.to_dict(),
        "exact": exact,
        "exact_columns": {"missing_pct": exact_missing, "numeric_summary": exact_numbers},
        "over_sample": over_sample + (["missing_pct"] if not exact_missing else []),
    }
    if exact:
        whole = (
            f"Exact over all {info.rows_total:,} rows: the row count"
            + (", missing %" if exact_missing else "")
            + (" and min / max / mean of numeric columns" if exact_numbers else "")
            + (
                f" (not of {', '.join(repr(c) for c in others[:5])})"
                if others and exact_numbers
                else ""
            )
            + "; distinct counts, top values, target classes and leakage checks are over the sample."
        )
    else:
        whole = "Every figure below is over the sample."
    why = f" because {info.reason}" if info.reason else ""
    note = f"Profiled {info.describe()}{why}. {whole}"
    return block, note
