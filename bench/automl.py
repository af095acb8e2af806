"""modelloop against FLAML and AutoGluon at the same time budget, in one run, on the same data.

Every system runs on the same fixed split of each dataset (80/20, stratified for
classification, by group where the dataset has groups; seed 0; id and leaky columns dropped
as ``bench/quality.py``'s cases say), with the same budget and metric (ROC AUC binary, log
loss multiclass, RMSE regression). The systems run one after another, dataset by dataset
(interleaved, their order rotated from one dataset to the next), each in a fresh process
started by this run: modelloop with the project's interpreter, the peers with their own
virtualenv (``make bench-env`` -> .bench-venv). ``bench/_system.py`` fits and measures every
system with the same code (see its docstring): seconds used from process start to the end
of the fit, a warm 10,000-row batch (rows/s), a median one-row call (ms), the model's size.

Printed per dataset and system: the test score, seconds used, rows/s, one-row ms, model MB,
and the load average (1 min) when the system started. Then, per peer: wins, ties, losses,
and the datasets where either side failed (counted apart, never as a win); a tie (equal to
four significant digits) is not a win. The mean normalized score (0 = worst, 1 = best system
on a dataset) is over the datasets where every system produced a score.

    make bench-env
    .venv/bin/python bench/automl.py --budget 60 [--datasets dev|more|all|titanic,penguins]
        [--systems modelloop,flaml,autogluon] [--no-write]

``modelloop_refit`` and ``modelloop_bag`` are modelloop with ``--final-fit refit`` and with
``--final-fit bag --min-rows-per-second 0``: what bagging the winner's fold models, rather than
one refit, does to the score and speed. ``--datasets dev`` is the nine tables of ../shared/datasets, ``more`` the twenty of
../shared/datasets/more, ``all`` both. The table goes to docs/benchmarks.md, in a section
named by the budget and the dataset selection.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write_section
from quality import ALL_CASES, CASES, DATASETS, MORE_CASES, read_case, split

from modelloop.evaluation import get_metric, score

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = {
    "modelloop": Path(sys.executable),
    "modelloop_refit": Path(sys.executable),
    "modelloop_bag": Path(sys.executable),
    "flaml": ROOT / ".bench-venv" / "bin" / "python",
    "autogluon": ROOT / ".bench-venv" / "bin" / "python",
    "autogluon_best": ROOT / ".bench-venv" / "bin" / "python",
}
SYSTEMS = tuple(PYTHONS)


def run_system(system, train, test, case, budget, workdir: Path) -> dict:
    """One system on one split, in a fresh process; its measurements and test score."""
    workdir.mkdir(parents=True, exist_ok=True)
    train_path, test_path = workdir / "train.parquet", workdir / "test.parquet"
    train.to_parquet(train_path)
    test.to_parquet(test_path)
    out = workdir / f"{system}.json"
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(
        [str(PYTHONS[system]), str(ROOT / "bench" / "_system.py"), system, str(train_path),
         str(test_path), case.target, case.task, case.metric, str(budget),
         str(workdir / system), str(out)],
        capture_output=True, text=True, timeout=budget * 5 + 600,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not out.exists():
        lines = (proc.stderr or proc.stdout or "no output").strip().splitlines()
        return {"failed": lines[-1][:200] if lines else f"exit {proc.returncode}", "load": load}
    measured = json.loads(out.read_text())
    y = test[case.target].to_numpy()
    output = np.asarray(measured["output"])
    if case.task == "regression":
        value = score(case.metric, y, y_pred=output.ravel())
    else:
        classes = np.asarray(measured["classes"]).astype(y.dtype)
        order = np.argsort(classes)
        classes, proba = classes[order], output[:, order]
        value = score(
            case.metric, y, y_pred=classes[proba.argmax(1)], y_proba=proba, classes=classes
        )
    return {**measured, "score": float(value), "wall_s": wall, "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--datasets", default="dev", help="dev, more, all, or names")
    parser.add_argument("--systems", default="modelloop,flaml,autogluon")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    if not DATASETS.exists():
        sys.exit(f"datasets not found at {DATASETS}")
    selection = {"dev": list(CASES), "more": list(MORE_CASES), "all": list(ALL_CASES)}
    keys = selection.get(args.datasets) or args.datasets.split(",")
    unknown = [k for k in keys if k not in ALL_CASES]
    if unknown:
        sys.exit(f"unknown datasets: {', '.join(unknown)}; known: {', '.join(ALL_CASES)}")
    systems = [s for s in args.systems.split(",") if s]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad:
        sys.exit(f"unknown systems: {', '.join(bad)}; known: {', '.join(SYSTEMS)}")
    missing = sorted({str(PYTHONS[s]) for s in systems if not PYTHONS[s].exists()})
    if missing:
        sys.exit(f"{', '.join(missing)} missing: run `make bench-env` first.")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    print(f"commit {commit}, budget {args.budget:g} s, {len(keys)} datasets, {systems}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, key in enumerate(keys):
            case = ALL_CASES[key]
            train, test = split(read_case(case), case, 0)
            row = {"dataset": key, "metric": case.metric, "rows": len(train) + len(test)}
            order = systems[i % len(systems) :] + systems[: i % len(systems)]
            for system in order:
                res = run_system(system, train, test, case, args.budget, Path(tmp) / key)
                row[system] = res
                if "failed" in res:
                    print(f"{key:24s} {system:15s} FAILED ({res['failed']}) load {res['load']:.1f}")
                else:
                    print(
                        f"{key:24s} {system:15s} {case.metric} {res['score']:<12.5g} "
                        f"{res['used_s']:6.1f} s {res['rows_per_s']:9.0f} rows/s "
                        f"{res['row_ms']:7.2f} ms/row {res['size_mb']:7.2f} MB "
                        + (
                            ""
                            if res.get("serve_ms") is None
                            else f"served {res['serve_ms']:.1f} ms "
                        )
                        + f"load {res['load']:.1f}  ({res['detail']})"
                        + (f" {res['timings']}" if res.get("timings") else ""),
                        flush=True,
                    )
            rows.append(row)
    text = report(rows, systems, args.budget, args.datasets, commit)
    print("\n" + text)
    if not args.no_write:
        write_section(f"automl-{args.budget:g}-{args.datasets.replace(',', '-')}", text)


def _tie(a: float, b: float) -> bool:
    return f"{a:.4g}" == f"{b:.4g}"


def report(rows, systems, budget, selection, commit) -> str:
    """The markdown table and the totals of a run."""
    cells = " | ".join(f"{s} score | s | rows/s | ms/row | MB | load" for s in systems)
    lines = [
        f"### AutoML at {budget:g} s on `{selection}` (commit {commit})",
        "",
        f"Command: `.venv/bin/python bench/automl.py --budget {budget:g} --datasets {selection} "
        f"--systems {','.join(systems)}` (every system in the same run, interleaved; `s` is "
        "the seconds from process start to the end of the fit; `load` is the 1-minute load "
        "average when the system started).",
        "",
        f"| dataset | metric | {cells} |",
        "|---|---|" + "---|" * (6 * len(systems)),
    ]
    norm: dict[str, list[float]] = {s: [] for s in systems}
    tally = {s: {"win": 0, "tie": 0, "loss": 0, "peer failed": 0, "ours failed": 0}
             for s in systems[1:]}  # fmt: skip
    used: dict[str, list[float]] = {s: [] for s in systems}
    over: dict[str, int] = {s: 0 for s in systems}
    promise = budget * 1.1 if budget >= 30 else budget + 3
    for row in rows:
        greater = get_metric(row["metric"]).greater_is_better
        parts = []
        for s in systems:
            r = row[s]
            if "failed" in r:
                parts.append(f"failed | | | | | {r['load']:.1f}")
                continue
            parts.append(
                f"{r['score']:.5g} | {r['used_s']:.1f} | {r['rows_per_s']:,.0f} | "
                f"{r['row_ms']:.2f} | {r['size_mb']:.1f} | {r['load']:.1f}"
            )
            used[s].append(r["used_s"])
            over[s] += r["used_s"] > promise
        lines.append(f"| {row['dataset']} | {row['metric']} | " + " | ".join(parts) + " |")
        ours = row[systems[0]]
        for s in systems[1:]:
            peer = row[s]
            if "failed" in ours:
                tally[s]["ours failed"] += 1
            elif "failed" in peer:
                tally[s]["peer failed"] += 1
            elif _tie(ours["score"], peer["score"]):
                tally[s]["tie"] += 1
            elif (ours["score"] > peer["score"]) == greater:
                tally[s]["win"] += 1
            else:
                tally[s]["loss"] += 1
        values = {s: row[s]["score"] for s in systems if "failed" not in row[s]}
        if len(values) == len(systems):
            lo, hi = min(values.values()), max(values.values())
            for s, v in values.items():
                if hi == lo:
                    norm[s].append(1.0)
                else:
                    n = (v - lo) / (hi - lo)
                    norm[s].append(n if greater else 1 - n)
    lines.append("")
    for s in systems[1:]:
        t = tally[s]
        decided = t["win"] + t["tie"] + t["loss"]
        rate = f"{t['win'] / decided:.0%}" if decided else "n/a"
        lines.append(
            f"- {systems[0]} against {s}: {t['win']} wins, {t['tie']} ties, {t['loss']} losses "
            f"of {decided} datasets both finished (win rate {rate}); {s} failed on "
            f"{t['peer failed']}, {systems[0]} failed on {t['ours failed']}."
        )
    n_common = len(next(iter(norm.values()))) if norm else 0
    lines.append(
        "- mean normalized score over the "
        f"{n_common} datasets every system finished: "
        + ", ".join(f"{s} {np.mean(v):.3f}" for s, v in norm.items() if v)
    )
    served = [(row["dataset"], row[systems[0]].get("serve_ms"), row[systems[0]].get("size_mb"))
              for row in rows if "failed" not in row[systems[0]]]  # fmt: skip
    if any(ms is not None for _, ms, _ in served):
        lines.append(
            f"- {systems[0]}'s final model, one row through `modelloop serve` (median of 50 "
            "requests) and size: "
            + ", ".join(
                f"{d} {'n/a' if ms is None else f'{ms:.1f} ms'} / {mb:.1f} MB"
                for d, ms, mb in served
            )
        )
    lines.append(
        "- seconds used (mean / max): "
        + ", ".join(f"{s} {np.mean(v):.1f} / {np.max(v):.1f}" for s, v in used.items() if v)
        + f"; runs over the promise of {promise:.0f} s: "
        + ", ".join(f"{s} {over[s]}" for s in systems)
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
