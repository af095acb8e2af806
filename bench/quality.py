"""Test-set quality of `modelloop train` against a plain scikit-learn HistGradientBoosting.

For each real dataset in ../shared/datasets (see its MANIFEST.md) both systems get the same
shuffled train/test splits (stratified for classification; seeds 0, 1, 2 by default, and
the scores are averaged over them, since one test split of a few hundred rows is noisy). modelloop trains on the
training rows with its defaults and the given time budget; the baseline is
`HistGradientBoostingClassifier/Regressor()` with default settings, string columns passed as
pandas categories (ordinal codes above 255 levels), the manifest's id columns and columns with
no values at all dropped.
Both are scored on the test rows by the same metric code (modelloop.evaluation).

    .venv/bin/python bench/quality.py [--time-budget 60] [--datasets titanic,penguins]

The ratio is baseline/ours for lower-is-better metrics and ours/baseline otherwise, so a ratio
above 1 means modelloop did better. The table goes to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section

import modelloop as ml
from modelloop.config import Settings
from modelloop.evaluation import get_metric, score

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@dataclass(frozen=True)
class Case:
    file: str
    target: str
    task: str
    metric: str
    ids: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    read: tuple[tuple[str, str], ...] = ()
    group: str | None = None  # rows of one group stay on one side of the split (then dropped)


CASES = {
    "titanic": Case("titanic.csv", "Survived", "binary", "roc_auc", ids=("PassengerId",)),
    "ames_house_prices": Case(
        "ames_house_prices.csv", "SalePrice", "regression", "rmse", ids=("Id",)
    ),
    "penguins": Case("penguins.csv", "species", "multiclass", "log_loss"),
    "diamonds": Case("diamonds.csv", "price", "regression", "rmse"),
    # 'duration' is only known after the call (see MANIFEST): dropped for both systems.
    "bank_marketing": Case(
        "bank_marketing.csv", "subscribe", "binary", "roc_auc", drop=("duration",)
    ),
    "credit_g_german": Case("credit_g_german.csv", "default", "binary", "roc_auc"),
    "wine_quality_red": Case(
        "wine_quality_red.csv", "quality", "multiclass", "log_loss", read=(("sep", ";"),)
    ),
    "auto_mpg": Case("auto_mpg.csv", "mpg", "regression", "rmse"),
    "airbnb_amsterdam": Case(
        "airbnb_amsterdam.csv", "price", "regression", "rmse", ids=("id", "host_id")
    ),
}


MORE = DATASETS / "more"

# Twenty more tables (../shared/datasets/more, see its MANIFEST.md), for choosing defaults on
# about thirty datasets rather than nine. Ids, near copies of the target and the original
# train/test flag are dropped; parkinsons is split by patient.
MORE_CASES = {
    "bank_churn": Case("more/bank_churn.csv", "Exited", "binary", "roc_auc",
                       ids=("RowNumber", "CustomerId")),
    "spambase": Case("more/spambase.csv", "type", "binary", "roc_auc"),
    "wage": Case("more/wage.csv", "wage", "regression", "rmse", drop=("logwage",)),
    "life_expectancy": Case("more/life_expectancy.csv", "Life expectancy ", "regression", "rmse"),
    "soybean": Case("more/soybean.csv", "Class", "multiclass", "log_loss"),
    "orange_juice": Case("more/orange_juice.csv", "Purchase", "binary", "roc_auc"),
    "cell_segmentation": Case("more/cell_segmentation.csv", "Class", "binary", "roc_auc",
                              ids=("Cell",), drop=("Case",)),
    "vowel": Case("more/vowel.csv", "Class", "multiclass", "log_loss"),
    "sonar": Case("more/sonar.csv", "Class", "binary", "roc_auc"),
    "ionosphere": Case("more/ionosphere.csv", "Class", "binary", "roc_auc"),
    "concrete": Case("more/concrete.csv", "strength", "regression", "rmse"),
    "wisconsin_breast_cancer": Case("more/wisconsin_breast_cancer.csv", "diagnosis", "binary",
                                    "roc_auc", ids=("id",)),
    "sms_spam": Case("more/sms_spam.csv", "type", "binary", "roc_auc"),
    "mushrooms": Case("more/mushrooms.csv", "type", "binary", "roc_auc"),
    "wine_quality_white": Case("more/wine_quality_white.csv", "quality", "multiclass",
                               "log_loss", read=(("sep", ";"),)),
    "bike_sharing": Case("more/bike_sharing.csv", "cnt", "regression", "rmse", ids=("instant",)),
    "avocado": Case("more/avocado.csv", "AveragePrice", "regression", "rmse",
                    ids=("Unnamed: 0",)),
    "parkinsons": Case("more/parkinsons.csv", "total_UPDRS", "regression", "rmse",
                       drop=("motor_UPDRS",), group="subject#"),
    "hr_turnover": Case("more/hr_turnover.csv", "left", "binary", "roc_auc"),
    "college_distance": Case("more/college_distance.csv", "education", "regression", "rmse",
                             ids=("Unnamed: 0",)),
}  # fmt: skip
ALL_CASES = {**CASES, **MORE_CASES}


def read_case(case: Case) -> pd.DataFrame:
    """The case's table with its id and dropped columns removed (its group column kept)."""
    frame = pd.read_csv(DATASETS / case.file, **dict(case.read))
    return frame.drop(columns=[*case.ids, *case.drop])


def split(frame: pd.DataFrame, case: Case, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """80/20: stratified for classification, by group where the case has groups (the group
    column is then dropped)."""
    frame = frame.dropna(subset=[case.target]).reset_index(drop=True)
    if case.group is not None:
        from sklearn.model_selection import GroupShuffleSplit

        groups = frame[case.group]
        tr, te = next(
            GroupShuffleSplit(1, test_size=0.2, random_state=seed).split(frame, groups=groups)
        )
        frame = frame.drop(columns=[case.group])
        return frame.iloc[tr], frame.iloc[te]
    stratify = frame[case.target] if case.task != "regression" else None
    return train_test_split(frame, test_size=0.2, random_state=seed, stratify=stratify)


def baseline_frame(frame: pd.DataFrame, case: Case, train_levels: dict[str, list] | None = None):
    X = frame.drop(columns=[case.target, *case.ids, *case.drop])
    # Plain HistGradientBoosting crashes on a column with no values at all (airbnb's
    # neighbourhood_group), so the baseline gets those columns removed.
    X = X.loc[:, X.notna().any()] if train_levels is None else X[train_levels["__columns__"]]
    levels: dict[str, list] = (
        train_levels if train_levels is not None else {"__columns__": list(X.columns)}
    )
    for col in X.columns:
        if X[col].dtype.kind in "biuf":
            continue
        if train_levels is None:
            levels[col] = sorted(X[col].dropna().astype(str).unique())
        values = (
            X[col]
            .astype("object")
            .where(X[col].notna())
            .map(lambda v: None if v is None else str(v))
        )
        values = values.where(values.isin(levels[col]))  # levels unseen in training: missing
        cats = pd.Categorical(values, categories=levels[col])
        X[col] = (
            cats
            if len(levels[col]) <= 255
            else pd.Series(cats.codes, index=X.index).replace(-1, np.nan).astype(float)
        )
    return X, levels


def run_baseline(train: pd.DataFrame, test: pd.DataFrame, case: Case) -> tuple[float, float]:
    started = time.perf_counter()
    X_train, levels = baseline_frame(train, case)
    X_test, _ = baseline_frame(test, case, levels)
    y_train, y_test = train[case.target].to_numpy(), test[case.target].to_numpy()
    if case.task == "regression":
        model = HistGradientBoostingRegressor().fit(X_train, y_train)
        value = score(case.metric, y_test, y_pred=model.predict(X_test))
    else:
        model = HistGradientBoostingClassifier().fit(X_train, y_train)
        proba = model.predict_proba(X_test)
        value = score(
            case.metric,
            y_test,
            y_pred=model.classes_[proba.argmax(1)],
            y_proba=proba,
            classes=model.classes_,
        )
    return float(value), time.perf_counter() - started


def run_ours(
    train: pd.DataFrame, test: pd.DataFrame, case: Case, budget: float, home: Path
) -> tuple[float, float, str]:
    started = time.perf_counter()
    result = ml.train(
        train.drop(columns=list(case.drop)),
        target=case.target,
        task=case.task,
        metric=case.metric,
        test=test.drop(columns=list(case.drop)),
        time_budget=budget,
        register=False,
        settings=Settings(home=home),
    )
    return float(result.metrics[case.metric]), time.perf_counter() - started, result.best_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--datasets", default=",".join(CASES))
    parser.add_argument(
        "--seeds", default="0,1,2", help="Split seeds; scores are averaged over them."
    )
    parser.add_argument("--no-write", action="store_true", help="Do not update docs/benchmarks.md.")
    args = parser.parse_args()
    if not (DATASETS / "MANIFEST.md").is_file():
        sys.exit(f"datasets not found at {DATASETS}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.datasets.split(","):
            case = CASES[key]
            frame = pd.read_csv(DATASETS / case.file, **dict(case.read))
            runs = []
            for seed in [int(v) for v in args.seeds.split(",")]:
                train, test = split(frame, case, seed)
                base, base_time = run_baseline(train, test, case)
                ours, ours_time, best = run_ours(train, test, case, args.time_budget, Path(tmp))
                runs.append((ours, base, ours_time, base_time, best))
                print(
                    f"  {key} seed {seed}: ours {ours:.4f} baseline {base:.4f} ({best})", flush=True
                )
            ours = float(np.mean([r[0] for r in runs]))
            base = float(np.mean([r[1] for r in runs]))
            ours_time = float(np.mean([r[2] for r in runs]))
            base_time = float(np.mean([r[3] for r in runs]))
            best = ", ".join(sorted({r[4] for r in runs}))
            better = get_metric(case.metric).greater_is_better
            ratio = ours / base if better else base / ours
            rows.append((key, case.metric, ours, base, ratio, best, ours_time, base_time))
            print(
                f"{key:18s} {case.metric:8s} ours {ours:12.4f}  baseline {base:12.4f}  ratio {ratio:6.3f}  ({best}, {ours_time:.0f}s vs {base_time:.1f}s)",
                flush=True,
            )
    wins = sum(r[4] >= 1.0 for r in rows)
    lines = [
        "## Test-set quality: `modelloop train` vs plain HistGradientBoosting",
        "",
        f"Command: `.venv/bin/python bench/quality.py --time-budget {args.time_budget:g} --seeds {args.seeds}` "
        f"(both systems get the same 80/20 split per dataset and seed; scores and times are means over "
        f"the {len(args.seeds.split(','))} seeds; ratio > 1 means modelloop is better).",
        "",
        "| dataset | metric | modelloop | HGB baseline | ratio | modelloop's model | modelloop time (s) | baseline time (s) |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for key, metric, ours, base, ratio, best, t_ours, t_base in rows:
        lines.append(
            f"| {key} | {metric} | {ours:.4f} | {base:.4f} | {ratio:.3f} | {best} | {t_ours:.0f} | {t_base:.1f} |"
        )
    lines += ["", f"modelloop at least as good on {wins} of {len(rows)} datasets."]
    print(f"\nmodelloop at least as good on {wins} of {len(rows)} datasets.")
    if not args.no_write:
        write_section("quality", "\n".join(lines))


if __name__ == "__main__":
    main()
