"""Run one peer AutoML system (FLAML or AutoGluon) on a train/test split; print JSON.

Runs inside the peers' own virtualenv (``make bench-env`` -> .bench-venv), never in the
project's: ``bench/automl.py`` calls it as a subprocess.

    .bench-venv/bin/python bench/_peer.py SYSTEM TRAIN.parquet TEST.parquet TARGET TASK BUDGET WORKDIR
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd


def main() -> None:
    system, train_path, test_path, target, task, budget, workdir = sys.argv[1:8]
    budget = float(budget)
    train = pd.read_parquet(train_path)
    test = pd.read_parquet(test_path)
    X_test = test.drop(columns=[target])
    started = time.perf_counter()
    if system == "flaml":
        from flaml import AutoML

        automl = AutoML()
        metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
        automl.fit(
            train.drop(columns=[target]),
            train[target],
            task="classification" if task != "regression" else "regression",
            metric=metric,
            time_budget=budget,
            n_jobs=2,
            seed=0,
            verbose=0,
        )
        model = automl
    else:
        from autogluon.tabular import TabularPredictor

        preset = "best_quality" if system == "autogluon_best" else "medium_quality"
        metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
        model = TabularPredictor(label=target, eval_metric=metric, path=workdir, verbosity=0)
        model.fit(train, time_limit=budget, presets=preset, num_cpus=2)
    fit_time = time.perf_counter() - started
    t = time.perf_counter()
    if task == "regression":
        pred = np.asarray(model.predict(X_test), dtype=float)
        proba, classes = None, None
    else:
        proba_frame = model.predict_proba(X_test)
        if isinstance(proba_frame, pd.DataFrame):
            classes = [c.item() if hasattr(c, "item") else c for c in proba_frame.columns]
            proba = proba_frame.to_numpy()
        else:
            classes = [c.item() if hasattr(c, "item") else c for c in model.classes_]
            proba = np.asarray(proba_frame)
        pred = None
    predict_time = time.perf_counter() - t
    print(
        json.dumps(
            {
                "fit_time": fit_time,
                "predict_time": predict_time,
                "rows": len(X_test),
                "pred": None if pred is None else pred.tolist(),
                "proba": None if proba is None else proba.tolist(),
                "classes": classes,
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
