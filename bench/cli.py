"""How fast the command line answers: each command against ``python -c pass``, same run.

A store is built first, in a temporary folder (not timed): the bundled Titanic data trained
by ``modelloop train`` (the default search, its first three trials: ``--max-trials 3``) and registered as
``titanic@production``, the same without the free-text Name column as ``titanic_tabular``, the same data ingested as snapshot ``titanic``, and ``--runs``
copies of the trained run's record (its parameters, leaderboard, timings and library
versions, under ten names, a third of them failed) so that ``runs list`` reads a store
with that many runs. Then every command below runs ``--repeat`` times as a fresh process
through the ``modelloop`` console script, as a user types it, alternating with the
baseline ``python -c pass`` (the interpreter's own start-up, measured in the same run so
that load on the shared machine moves both). Each command's CPU seconds (user + system,
from ``getrusage`` of the finished child) are reported too: on a loaded machine a command
waits for a core, and its wall time grows while its CPU time does not:

    --help, models list, models show, runs list, runs show, data list   (read-only)
    predict titanic@production rows.csv -o out.csv                      (--rows rows)
    predict titanic_tabular rows.csv -o out.csv --ignore-extra      (the same rows)

Reported per command: the median and best wall time, the median less the baseline's
median (what modelloop itself costs), the target and whether the median meets it. The
machine's load average is printed before and after; the table goes to docs/benchmarks.md
(section "cli") with the command, the commit and the load.

    .venv/bin/python bench/cli.py [--runs 1000] [--rows 1000] [--repeat 7] [--no-write]
                                  [--keep DIR]   (build the store there once, reuse it after)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODELLOOP = BIN / "modelloop"
TITANIC = ROOT / "src" / "modelloop" / "examples" / "titanic.csv"

# (label, arguments after `modelloop`, target seconds): the targets.
READ_ONLY_S = 1.0


def _commands(run_id: str, rows_csv: Path, out_csv: Path) -> list[tuple[str, list[str], float]]:
    return [
        ("--help", ["--help"], 0.5),
        ("models list", ["models", "list"], READ_ONLY_S),
        ("models show titanic", ["models", "show", "titanic"], READ_ONLY_S),
        ("runs list", ["runs", "list"], READ_ONLY_S),
        (f"runs show {run_id[:8]}", ["runs", "show", run_id[:8]], READ_ONLY_S),
        ("data list", ["data", "list"], READ_ONLY_S),
        (
            f"predict titanic@production ({rows_csv.name})",
            ["predict", "titanic@production", str(rows_csv), "-o", str(out_csv)],
            2.0,
        ),
        (
            f"predict titanic_tabular ({rows_csv.name})",
            ["predict", "titanic_tabular", str(rows_csv), "-o", str(out_csv), "--ignore-extra"],
            2.0,
        ),
    ]


def _tabular_model(work: Path, env: dict[str, str]) -> None:
    """The same data without its free-text column (Name), so no sentence embedding."""
    marker = work / "tabular_model"
    if marker.exists():
        return
    argv = [str(MODELLOOP), "train", str(TITANIC), "-t", "Survived", "--name", "titanic_tabular",
            "--drop", "Name", "--max-trials", "3", "--time-budget", "600", "--seed", "0"]  # fmt: skip
    print("setup:", " ".join(argv[1:]), flush=True)
    _run(argv, env, work)
    marker.write_text("titanic_tabular")


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _run(argv: list[str], env: dict[str, str], cwd: Path, cpu: list[float] | None = None) -> float:
    """Wall seconds of one run; its CPU seconds (user + system) appended to ``cpu``."""
    before = _cpu()
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if cpu is not None:
        cpu.append(_cpu() - before)
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}"
        )
    return elapsed


def _build_store(home: Path, work: Path, n_runs: int, n_rows: int, env: dict[str, str]) -> str:
    """Train, register, ingest, then copy the run ``n_runs`` times; the trained run's id."""
    import pandas as pd

    from modelloop.config import Settings
    from modelloop.store import Store

    for argv in (
        [str(MODELLOOP), "train", str(TITANIC), "-t", "Survived", "--name", "titanic",
         "--alias", "production", "--max-trials", "3", "--time-budget", "600", "--seed", "0"],
        [str(MODELLOOP), "ingest", str(TITANIC), "--name", "titanic"],
    ):  # fmt: skip
        print("setup:", " ".join(argv[1:]), flush=True)
        _run(argv, env, work)
    frame = pd.read_csv(TITANIC).drop(columns=["Survived"])
    frame.sample(n_rows, replace=len(frame) < n_rows, random_state=0).to_csv(
        work / f"rows{n_rows}.csv", index=False
    )
    with Store.from_settings(Settings(home=home)) as store:
        trained = store.list_runs(limit=1)[0]
        for i in range(n_runs - 1):
            run = store.create_run(
                name=f"model{i % 10}",
                dataset_hash=trained.dataset_hash,
                target=trained.target,
                task=trained.task,
                metric=trained.metric,
                params={**trained.params, "copy": i},
            )
            store.finish_run(
                run.id,
                status="failed" if i % 3 == 0 else "finished",
                cv_metrics=trained.cv_metrics,
                test_metrics=trained.test_metrics,
                leaderboard=trained.leaderboard,
                best_model=trained.best_model,
                timings=trained.timings,
                library_versions=trained.library_versions,
                error="stopped" if i % 3 == 0 else None,
            )
        assert store.count_runs() == n_runs, store.count_runs()
    return trained.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument(
        "--keep", type=Path, help="build the store in this folder, or reuse the one built there"
    )
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep.resolve() if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        home = work / "home"
        env = {**os.environ, "MODELLOOP_HOME": str(home)}
        env.pop("MODELLOOP_STORE_URL", None)
        env.pop("MODELLOOP_CONFIG", None)
        marker = work / "run_id"
        if marker.exists():
            run_id = marker.read_text().strip()
        else:
            run_id = _build_store(home, work, args.runs, args.rows, env)
            marker.write_text(run_id)
        _tabular_model(work, env)
        commands = _commands(run_id, work / f"rows{args.rows}.csv", work / "out.csv")
        load_before = os.getloadavg()[0]
        baseline: list[float] = []
        times: dict[str, list[float]] = {label: [] for label, _, _ in commands}
        cpu: dict[str, list[float]] = {label: [] for label, _, _ in commands}
        # Rounds: the baseline, then each command once, so slow spells of the shared
        # machine fall on all of them alike.
        for _ in range(args.repeat):
            for label, argv, _ in commands:
                baseline.append(_run([sys.executable, "-c", "pass"], env, work))
                times[label].append(_run([str(MODELLOOP), *argv], env, work, cpu[label]))
        load_after = os.getloadavg()[0]

    base = statistics.median(baseline)
    lines = [
        "## Command-line response times: `bench/cli.py`",
        "",
        f"`.venv/bin/python bench/cli.py --runs {args.runs} --rows {args.rows} --repeat {args.repeat}`"
        f" — each command a fresh process through the `modelloop` console script, {args.repeat} "
        f"times, alternating with `python -c pass` (the interpreter's start-up: median "
        f"{base:.3f} s). The store holds {args.runs:,} runs, one registered model (Titanic, "
        "the default search, its first 3 trials: `--max-trials 3`; the search chose sentence "
        "embeddings of the passengers' names), the same without the Name column "
        "(`titanic_tabular`: `--drop Name`) and one snapshot; `predict` scores "
        f"{args.rows:,} rows from a CSV file.",
        "",
        "| command | median s | best s | median − `python -c pass` s | × `python -c pass` "
        "| CPU s (median) | target s | met |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    met_all = True
    for label, _, target in commands:
        med = statistics.median(times[label])
        met = med <= target
        met_all &= met
        lines.append(
            f"| `modelloop {label}` | {med:.3f} | {min(times[label]):.3f} | "
            f"{med - base:.3f} | {med / base:.0f} | {statistics.median(cpu[label]):.2f} | "
            f"{target:g} | {'yes' if met else 'no'} |"
        )
    lines += [
        "",
        f"Load average of the machine (2 cores, shared; other jobs included): {load_before:.1f} "
        f"at the start, {load_after:.1f} at the end. Commit {commit}, "
        f"{time.strftime('%Y-%m-%d')}. {'Every target met.' if met_all else 'Not every target met (see the table).'}",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("cli", text)


if __name__ == "__main__":
    main()
