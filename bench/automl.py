"""modelloop against FLAML and AutoGluon at the same time budget, on every dev dataset.

Each dataset of ../shared/datasets gets the same fixed split (80/20, stratified for
classification, seed 0; id columns dropped; bank_marketing's leaky 'duration' dropped), the
same budget and the same metric (ROC AUC binary, log loss multiclass, RMSE regression).
modelloop runs in this process; the peers run in their own virtualenv (``make bench-env``
-> .bench-venv) through bench/_peer.py. Printed per dataset: each system's test score, the
time it used (fit + predict) and its batch inference rows/s; then win counts against each
peer, mean normalized score (0 = worst, 1 = best system per dataset) and the ratio of time
used. The table goes to docs/benchmarks.md.

    make bench-env
    .venv/bin/python bench/automl.py --budget 60 [--datasets titanic,penguins] [--systems flaml]

The PyTorch tabular network (model 'mlp_torch', the ``deep`` extra) joins modelloop's
portfolio and ensemble when torch is installed and the budget is at least its minimum
(``models.MIN_BUDGET``). ``--net off`` leaves it out; ``--net compare`` adds two rows per
dataset: modelloop without the network (its contribution inside the ensemble is the
difference) and the network alone (``--models mlp_torch``, tuned by the same search).

``--final-fit compare`` adds modelloop with ``--final-fit refit`` and with ``--final-fit
bag`` (and no speed floor, so every winner is bagged) beside its default ``auto``: what
bagging the winner's fold models, rather than one refit, does to the test score and speed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write_section
from quality import CASES, DATASETS, split

import modelloop as ml
from modelloop.config import Settings
from modelloop.evaluation import get_metric, score

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
PEERS = ("flaml", "autogluon", "autogluon_best")


NET = "mlp_torch"
NET_VARIANTS = {"modelloop_no_net": "without", "mlp_torch_alone": "alone"}


def net_models(task: str, variant: str) -> list[str] | None:
    """The --models of a modelloop run: None (default portfolio), without or only the net."""
    from modelloop.models import portfolio

    if variant == "alone":
        return [NET]
    if variant == "without":
        return list(dict.fromkeys(m for m, _ in portfolio(task) if m != NET))
    return None


# --final-fit compare: the same search, its winner made into the final model each way.
# The bag variant turns the speed floor off, so that every winner can be bagged.
FINAL_FIT_VARIANTS = {
    "modelloop_refit": {"final_fit": "refit"},
    "modelloop_bag": {"final_fit": "bag", "min_rows_per_second": 0},
}


def run_modelloop(train, test, case, budget, home, models=None, **options):
    """``options`` go to ``ml.train`` (``final_fit``, ``min_rows_per_second``)."""
    started = time.perf_counter()
    result = ml.train(
        train, target=case.target, task=case.task, metric=case.metric, test=test,
        time_budget=budget, register=False, settings=Settings(home=home), models=models,
        **options,
    )  # fmt: skip
    used = time.perf_counter() - started
    X = test.drop(columns=[case.target])
    batch = X.sample(10_000, replace=True, random_state=0)
    t = time.perf_counter()
    (result.model.predict if case.task == "regression" else result.model.predict_proba)(batch)
    rows_per_s = len(batch) / (time.perf_counter() - t)
    best = f"{result.best_model}, {result.final_fit}"  # 'refit' or 'bagged' fold models
    return float(result.metrics[case.metric]), used, rows_per_s, best


def run_peer(system, train, test, case, budget, workdir: Path):
    train_path, test_path = workdir / "train.parquet", workdir / "test.parquet"
    train.to_parquet(train_path)
    test.to_parquet(test_path)
    started = time.perf_counter()
    proc = subprocess.run(
        [str(PEER_PYTHON), str(ROOT / "bench" / "_peer.py"), system, str(train_path),
         str(test_path), case.target, case.task, str(budget), str(workdir / system)],
        capture_output=True, text=True, timeout=budget * 5 + 300,
    )  # fmt: skip
    used = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    y = test[case.target].to_numpy()
    if case.task == "regression":
        value = score(case.metric, y, y_pred=np.asarray(out["pred"]))
    else:
        classes = np.asarray(out["classes"]).astype(y.dtype)
        proba = np.asarray(out["proba"])
        order = np.argsort(classes)
        classes, proba = classes[order], proba[:, order]
        value = score(
            case.metric, y, y_pred=classes[proba.argmax(1)], y_proba=proba, classes=classes
        )
    rows_per_s = out["rows"] / max(out["predict_time"], 1e-9)
    return float(value), out["fit_time"] + out["predict_time"], rows_per_s, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--datasets", default=",".join(CASES))
    parser.add_argument("--systems", default=",".join(PEERS))
    parser.add_argument(
        "--net",
        choices=("on", "off", "compare"),
        default="on",
        help="the PyTorch network in modelloop's search: on (default), off, or compare "
        "(adds modelloop without it and the network alone)",
    )
    parser.add_argument(
        "--final-fit",
        choices=("default", "compare"),
        default="default",
        help="compare: adds modelloop with --final-fit refit and with --final-fit bag "
        "(no speed floor) beside its default (auto)",
    )
    args = parser.parse_args()
    if not DATASETS.exists():
        sys.exit(f"datasets not found at {DATASETS}")
    peers = [s for s in args.systems.split(",") if s in PEERS]
    if peers and not PEER_PYTHON.exists():
        print(f"{PEER_PYTHON} missing: run `make bench-env`; running modelloop only.")
        peers = []
    variants = list(NET_VARIANTS) if args.net == "compare" else []
    fits = list(FINAL_FIT_VARIANTS) if args.final_fit == "compare" else []
    systems = ["modelloop", *variants, *fits, *peers]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.datasets.split(","):
            case = CASES[key]
            frame = pd.read_csv(DATASETS / case.file, **dict(case.read))
            frame = frame.drop(columns=[*case.ids, *case.drop])
            train, test = split(frame, case, 0)
            row = {"dataset": key, "metric": case.metric}
            work = Path(tmp) / key
            work.mkdir()
            main_models = net_models(case.task, "without") if args.net == "off" else None
            runs = [("modelloop", main_models, {})]
            runs += [(v, net_models(case.task, NET_VARIANTS[v]), {}) for v in variants]
            runs += [(v, main_models, FINAL_FIT_VARIANTS[v]) for v in fits]
            for name, models, options in runs:
                try:
                    s, used, speed, best = run_modelloop(
                        train, test, case, args.budget, work / f"home-{name}", models, **options
                    )
                except Exception as exc:  # e.g. the network alone on a tiny dataset
                    row[name] = None
                    print(f"{key:18s} {name:14s} failed: {exc}")
                    continue
                row[name] = (s, used, speed)
                print(
                    f"{key:18s} {name:14s} {case.metric} {s:.4f}  {used:6.1f}s  {speed:9.0f} rows/s  ({best})"
                )
            for system in peers:
                try:
                    s, used, speed, _wall = run_peer(system, train, test, case, args.budget, work)
                    row[system] = (s, used, speed)
                    print(
                        f"{key:18s} {system:14s} {case.metric} {s:.4f}  {used:6.1f}s  {speed:9.0f} rows/s"
                    )
                except Exception as exc:  # a peer failing is a result, not a crash
                    row[system] = None
                    print(f"{key:18s} {system:14s} failed: {exc}")
            rows.append(row)
    report(rows, systems, args.budget)


def report(rows, systems, budget) -> None:
    header = (
        "| dataset | metric | "
        + " | ".join(f"{s} score | {s} time s | {s} rows/s" for s in systems)
        + " |"
    )
    lines = [
        f"### AutoML at {budget:g} s (`bench/automl.py --budget {budget:g}`)", "",
        header, "|" + "---|" * (2 + 3 * len(systems)),
    ]  # fmt: skip
    norm: dict[str, list[float]] = {s: [] for s in systems}
    wins = {s: 0 for s in systems[1:]}
    times: dict[str, list[float]] = {s: [] for s in systems}
    for row in rows:
        greater = get_metric(row["metric"]).greater_is_better
        cells = []
        values = {s: row[s][0] for s in systems if row.get(s)}
        if not values:  # every system failed on this dataset
            lines.append(
                f"| {row['dataset']} | {row['metric']} | "
                + " | ".join(["failed | | "] * len(systems))
                + " |"
            )
            continue
        lo, hi = min(values.values()), max(values.values())
        for s in systems:
            if not row.get(s):
                cells.append("failed | | ")
                continue
            v, used, speed = row[s]
            cells.append(f"{v:.4f} | {used:.1f} | {speed:,.0f}")
            n = 1.0 if hi == lo else (v - lo) / (hi - lo)
            norm[s].append(n if greater else 1 - n)
            times[s].append(used)
        ours = values.get("modelloop")
        if ours is None:
            lines.append(f"| {row['dataset']} | {row['metric']} | " + " | ".join(cells) + " |")
            continue
        for s in systems[1:]:
            if s in values and (ours >= values[s] if greater else ours <= values[s]):
                wins[s] += 1
            elif s not in values:
                wins[s] += 1  # the peer failed
        lines.append(f"| {row['dataset']} | {row['metric']} | " + " | ".join(cells) + " |")
    lines.append("")
    for s in systems[1:]:
        ratio = (
            np.mean(times["modelloop"]) / max(np.mean(times[s]), 1e-9) if times[s] else float("nan")
        )
        lines.append(
            f"- modelloop vs {s}: wins {wins[s]} of {len(rows)}; time used ratio {ratio:.2f}"
        )
    for s in systems:
        if norm[s]:
            lines.append(f"- mean normalized score {s}: {np.mean(norm[s]):.3f}")
    text = "\n".join(lines)
    print("\n" + text)
    suffix = "-net" if any(s in NET_VARIANTS for s in systems) else ""
    suffix += "-final-fit" if any(s in FINAL_FIT_VARIANTS for s in systems) else ""
    write_section(f"automl-{budget:g}{suffix}", text)


if __name__ == "__main__":
    main()
