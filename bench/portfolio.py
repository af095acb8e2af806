"""Candidate portfolio configurations, cross-validated on about thirty datasets.

How the portfolio's entries and their order are chosen: each candidate configuration (a
catalog model with fixed parameters) is cross-validated exactly as a search trial is
(``tuning._worker``: the same preprocessing, folds and early stopping) on the training split
of every dataset of ``bench/quality.py`` (the nine dev tables and the twenty of
../shared/datasets/more), never on a test split. Large tables are subsampled to ``--rows``
rows. Printed per configuration: its mean normalized CV score (1 = best configuration on a
dataset, 0 = worst), how often it is the best or within 1 % of the best, its mean rank, and
the CPU seconds its folds took (CPU time, so that a busy machine does not change it).

    .venv/bin/python bench/portfolio.py [--datasets all] [--rows 8000] [--folds 5]
        [--configs lightgbm,catboost_1000] [--jobs 2] [--out results.jsonl] [--no-write]

Results are appended to ``--out`` as JSON lines (one per dataset and configuration), so an
interrupted run can be continued; the table is written to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write_section
from quality import ALL_CASES, CASES, MORE_CASES, read_case, split

ROOT = Path(__file__).resolve().parents[1]
BOOST = {"n_estimators": 3000}

# name -> (catalog model, estimator parameters); classification and regression share them
# (logistic_regression stands for ridge on a regression task).
CONFIGS: dict[str, tuple[str, dict]] = {
    "lightgbm": ("lightgbm", {**BOOST, "learning_rate": 0.05}),
    "lightgbm_large": ("lightgbm", {**BOOST, "learning_rate": 0.03, "num_leaves": 127,
                                    "min_child_samples": 10, "colsample_bytree": 0.6}),
    "lightgbm_small": ("lightgbm", {**BOOST, "learning_rate": 0.05, "num_leaves": 8,
                                    "min_child_samples": 30, "reg_lambda": 5.0}),
    "lightgbm_fast": ("lightgbm", {**BOOST, "learning_rate": 0.1}),
    "catboost": ("catboost", {"iterations": 3000, "learning_rate": 0.06}),
    "catboost_1000": ("catboost", {"iterations": 1000, "learning_rate": 0.08}),
    "catboost_d4": ("catboost", {"iterations": 2000, "learning_rate": 0.08, "depth": 4}),
    "xgboost": ("xgboost", {**BOOST, "learning_rate": 0.05, "max_depth": 6}),
    "xgboost_d4": ("xgboost", {**BOOST, "learning_rate": 0.08, "max_depth": 4,
                               "min_child_weight": 2.0, "colsample_bytree": 0.8}),
    "extra_trees": ("extra_trees", {"min_samples_leaf": 2}),
    "extra_trees_mf05": ("extra_trees", {"min_samples_leaf": 1, "max_features": 0.5}),
    "random_forest": ("random_forest", {}),
    "hist_gradient_boosting": ("hist_gradient_boosting", {}),
    "linear": ("logistic_regression", {}),
    "linear_c01": ("logistic_regression", {"C": 0.1}),
    "knn": ("knn", {}),
}  # fmt: skip


def _config(name: str, task: str) -> tuple[str, dict]:
    model, params = CONFIGS[name]
    if task == "regression":
        if model == "logistic_regression":
            model, params = "ridge", ({"alpha": 10.0} if params.get("C") == 0.1 else {})
        elif model == "extra_trees" and name == "extra_trees":
            params = {**params, "max_features": 0.5}  # the regression portfolio's setting
    return model, params


def run_one(key: str, name: str, rows: int, folds: int) -> dict:
    """One configuration on one dataset's training split: its CV score and CPU seconds."""
    import warnings

    from modelloop.data import load
    from modelloop.evaluation import get_metric
    from modelloop.tuning import make_folds
    from modelloop.tuning._worker import Job, run_request

    warnings.simplefilter("ignore")
    case = ALL_CASES[key]
    train, _ = split(read_case(case), case, 0)  # the test split is never looked at
    if len(train) > rows:
        train = train.sample(rows, random_state=0)
    dataset = load(train.reset_index(drop=True), target=case.target, name=key)
    X, y = dataset.features(), dataset.target_series()
    model, params = _config(name, case.task)
    payload = {
        "X": X, "y": np.asarray(y), "schema": dataset.schema, "task": case.task,
        "metric": case.metric, "folds": make_folds(y, case.task, folds, seed=0), "seed": 0,
        "n_jobs": 1,
    }  # fmt: skip
    cpu = time.process_time()
    wall = time.perf_counter()
    try:
        out = run_request("trial", Job(0, model, params, measure_latency=False), payload)
        score = float(np.mean(out.fold_scores)) if out.status == "ok" else None
        error = out.reason
    except Exception as exc:  # a failure is a result, recorded as such
        score, error = None, f"{type(exc).__name__}: {exc}"[:200]
    return {
        "dataset": key, "config": name, "metric": case.metric, "score": score,
        "greater": get_metric(case.metric).greater_is_better, "error": error,
        "cpu_s": round(time.process_time() - cpu, 3), "wall_s": round(time.perf_counter() - wall, 3),
        "rows": len(train),
    }  # fmt: skip


def summarize(results: list[dict], configs: list[str]) -> str:
    """The markdown table over the datasets where every configuration ran."""
    by_dataset: dict[str, dict[str, dict]] = {}
    for r in results:
        by_dataset.setdefault(r["dataset"], {})[r["config"]] = r
    stats = {c: {"norm": [], "best": 0, "near": 0, "rank": [], "cpu": 0.0, "failed": 0}
             for c in configs}  # fmt: skip
    complete = 0
    for runs in by_dataset.values():
        if not all(c in runs for c in configs):
            continue
        complete += 1
        scores = {c: runs[c]["score"] for c in configs if runs[c]["score"] is not None}
        greater = next(iter(runs.values()))["greater"]
        for c in configs:
            stats[c]["cpu"] += runs[c]["cpu_s"]
            if runs[c]["score"] is None:
                stats[c]["failed"] += 1
        if not scores:
            continue
        values = np.array(list(scores.values()))
        best, worst = (values.max(), values.min()) if greater else (values.min(), values.max())
        order = sorted(scores, key=lambda c: -scores[c] if greater else scores[c])
        for c in configs:
            v = scores.get(c)
            if v is None:
                stats[c]["norm"].append(0.0)
                stats[c]["rank"].append(len(configs))
                continue
            stats[c]["norm"].append(1.0 if best == worst else (v - worst) / (best - worst))
            stats[c]["best"] += v == best
            gap = (best - v) if greater else (v - best)
            stats[c]["near"] += gap <= 0.01 * abs(best)
            stats[c]["rank"].append(order.index(c) + 1)
    lines = [
        f"| configuration | mean normalized CV score | best on | within 1 % of best | "
        f"mean rank | CPU s (all {complete} datasets) | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    ranked = sorted(configs, key=lambda c: -np.mean(stats[c]["norm"] or [0]))
    for c in ranked:
        s = stats[c]
        lines.append(
            f"| {c} | {np.mean(s['norm'] or [0]):.3f} | {s['best']} | {s['near']} | "
            f"{np.mean(s['rank'] or [0]):.1f} | {s['cpu']:.0f} | {s['failed']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="all")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--rows", type=int, default=8000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / ".bench-portfolio.jsonl"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    selection = {"dev": list(CASES), "more": list(MORE_CASES), "all": list(ALL_CASES)}
    keys = selection.get(args.datasets) or args.datasets.split(",")
    configs = args.configs.split(",")
    out = Path(args.out)
    done = set()
    results = []
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            if r["config"] in configs and r["dataset"] in keys:
                results.append(r)
                done.add((r["dataset"], r["config"]))
    todo = [(k, c) for k in keys for c in configs if (k, c) not in done]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    print(f"commit {commit}; {len(todo)} runs to do, {len(done)} kept from {out}", flush=True)
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool, out.open("a") as sink:
        futures = [pool.submit(run_one, k, c, args.rows, args.folds) for k, c in todo]
        for future in futures:
            r = future.result()
            results.append(r)
            sink.write(json.dumps(r) + "\n")
            sink.flush()
            print(f"{r['dataset']:24s} {r['config']:24s} {r['score']} "
                  f"cpu {r['cpu_s']:.1f}s {r['error'] or ''}", flush=True)  # fmt: skip
    table = summarize(results, configs)
    load = os.getloadavg()[0]
    text = (
        f"### Portfolio candidates, cross-validated on `{args.datasets}` (commit {commit})\n\n"
        f"Command: `.venv/bin/python bench/portfolio.py --datasets {args.datasets} --rows "
        f"{args.rows} --folds {args.folds}`; {args.folds}-fold CV on each dataset's training "
        f"split (at most {args.rows} rows), as a search trial; CPU seconds, not wall time "
        f"(load {load:.1f} at the end, {time.perf_counter() - started:.0f} s wall).\n\n" + table
    )
    print("\n" + text)
    if not args.no_write:
        write_section(f"portfolio-{args.datasets}", text)


if __name__ == "__main__":
    main()
