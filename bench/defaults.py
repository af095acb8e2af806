"""What each model family scores with its library's plain defaults, against modelloop's search.

A diagnosis before any tuning: on the same split as ``bench/automl.py`` (80/20, seed 0), each
family's estimator with the defaults its library ships (``LGBMClassifier()``,
``CatBoostClassifier()``, ``RandomForestClassifier()``, ...) is fitted inside modelloop's own
preprocessing (``features.make_pipeline``) on all training rows and scored on the test rows.
In the same run, ``modelloop train`` at ``--budget`` seconds gets the same rows
(``bench/_system.py``). Where a plain default beats the whole search, the search is wasting
its budget: that is what to fix.

    .venv/bin/python bench/defaults.py --budget 60 [--datasets dev|more|all|titanic,...]
        [--families catboost,lightgbm] [--no-search] [--no-write]

Printed per dataset: each default's test score and fit seconds, modelloop's score and the
load average; a family marked ``*`` beat modelloop. The table goes to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write_section
from automl import run_system
from quality import ALL_CASES, CASES, DATASETS, MORE_CASES, read_case, split

from modelloop.data import load
from modelloop.evaluation import get_metric, score
from modelloop.features import make_pipeline

ROOT = Path(__file__).resolve().parents[1]


def _plain(family: str, task: str):
    """``(preprocessing family, estimator)`` with the library's defaults (2 threads)."""
    clf = task != "regression"
    if family == "linear":
        from sklearn.linear_model import LogisticRegression, Ridge

        return "linear", LogisticRegression(max_iter=1000) if clf else Ridge()
    if family == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        return "tree", (RandomForestClassifier if clf else RandomForestRegressor)(n_jobs=2)
    if family == "extra_trees":
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        return "tree", (ExtraTreesClassifier if clf else ExtraTreesRegressor)(n_jobs=2)
    if family == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier as C
        from sklearn.ensemble import HistGradientBoostingRegressor as R

        return "tree", (C if clf else R)()
    if family == "lightgbm":
        import lightgbm

        kind = lightgbm.LGBMClassifier if clf else lightgbm.LGBMRegressor
        return "tree", kind(n_jobs=2, verbose=-1)
    if family == "xgboost":
        import xgboost

        return "tree", (xgboost.XGBClassifier if clf else xgboost.XGBRegressor)(n_jobs=2)
    if family == "catboost":
        import catboost

        kind = catboost.CatBoostClassifier if clf else catboost.CatBoostRegressor
        return "tree", kind(thread_count=2, verbose=0, allow_writing_files=False)
    raise ValueError(family)


FAMILIES = (
    "linear", "random_forest", "extra_trees", "hist_gradient_boosting", "lightgbm", "xgboost",
    "catboost",
)  # fmt: skip


def run_default(family, train, test, case):
    dataset = load(train, target=case.target, name="train")
    X, y = dataset.features(), dataset.target_series()
    X_test = test.drop(columns=[case.target])
    # the test labels read as the training labels were (load() may type them as text)
    y_test = load(test[[case.target]], target=case.target).target_series().to_numpy()
    kind, estimator = _plain(family, case.task)
    pipe = make_pipeline(dataset.schema, kind, estimator, task=case.task)
    classes = None
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.task == "regression":
            pipe.fit(X, y.to_numpy())
        else:
            classes, codes = np.unique(y.to_numpy(), return_inverse=True)
            pipe.fit(X, codes)
    fit_s = time.perf_counter() - started
    if case.task == "regression":
        return float(score(case.metric, y_test, y_pred=pipe.predict(X_test))), fit_s
    proba = np.asarray(pipe.predict_proba(X_test), dtype=float)
    value = score(case.metric, y_test, y_pred=classes[proba.argmax(1)], y_proba=proba,
                  classes=classes)  # fmt: skip
    return float(value), fit_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--datasets", default="dev")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--no-search", action="store_true", help="only the plain defaults")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not DATASETS.exists():
        sys.exit(f"datasets not found at {DATASETS}")
    selection = {"dev": list(CASES), "more": list(MORE_CASES), "all": list(ALL_CASES)}
    keys = selection.get(args.datasets) or args.datasets.split(",")
    families = args.families.split(",")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in keys:
            case = ALL_CASES[key]
            train, test = split(read_case(case), case, 0)
            row = {"dataset": key, "metric": case.metric, "load": os.getloadavg()[0]}
            for family in families:
                try:
                    row[family] = run_default(family, train, test, case)
                except Exception as exc:  # a failure is a result, shown as such
                    row[family] = None
                    print(f"{key:24s} {family:24s} failed: {str(exc)[:120]}")
                    continue
                print(f"{key:24s} {family:24s} {row[family][0]:<12.5g} {row[family][1]:6.1f} s",
                      flush=True)  # fmt: skip
            if not args.no_search:
                res = run_system("modelloop", train, test, case, args.budget, Path(tmp) / key)
                row["modelloop"] = None if "failed" in res else (res["score"], res["used_s"])
                print(f"{key:24s} {'modelloop':24s} {res.get('score', 'failed')} "
                      f"({res.get('detail', res.get('failed'))})", flush=True)  # fmt: skip
            rows.append(row)
    systems = [*families, *([] if args.no_search else ["modelloop"])]
    lines = [
        f"### Plain defaults against the search at {args.budget:g} s on `{args.datasets}` "
        f"(commit {commit})",
        "",
        f"Command: `.venv/bin/python bench/defaults.py --budget {args.budget:g} "
        f"--datasets {args.datasets}`. Test score of each family's library defaults inside "
        "modelloop's preprocessing, fitted on all training rows (seconds in brackets), and "
        "`modelloop train` at the budget, on the same split; `*`: the default beat the "
        "search; `load`: the 1-minute load average at the start of the dataset.",
        "",
        "| dataset | metric | " + " | ".join(systems) + " | load |",
        "|---|---|" + "---|" * (len(systems) + 1),
    ]
    beaten = {f: 0 for f in families}
    for row in rows:
        greater = get_metric(row["metric"]).greater_is_better
        ours = row.get("modelloop")
        cells = []
        for s in systems:
            v = row.get(s)
            if v is None:
                cells.append("failed")
                continue
            mark = ""
            if s != "modelloop" and ours is not None and (v[0] > ours[0]) == greater \
                    and v[0] != ours[0]:  # fmt: skip
                mark = "*"
                beaten[s] += 1
            cells.append(f"{v[0]:.5g}{mark} ({v[1]:.0f})")
        lines.append(f"| {row['dataset']} | {row['metric']} | " + " | ".join(cells)
                     + f" | {row['load']:.1f} |")  # fmt: skip
    if not args.no_search:
        lines += ["", "Datasets where the plain default beat the search: "
                  + ", ".join(f"{f} {n}" for f, n in beaten.items())]  # fmt: skip
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section(f"defaults-{args.budget:g}-{args.datasets.replace(',', '-')}", text)


if __name__ == "__main__":
    main()
