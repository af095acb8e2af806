"""Crash consistency of ``modelloop train``: killed with ``kill -9`` at random points.

Not a speed benchmark: it measures whether the store stays whole when a ``train`` dies at
any moment. A store first gets version 1 of a model from a ``train`` that finishes (on the
first 600 rows of a table); then, for each kill point, a second ``train`` of the same model
on all 900 rows (which would register version 2 with its own reference snapshot, and move
the alias) is started and killed with SIGKILL after a random share of the time a whole
``train`` takes, or (``--at-writes``) the moment it starts a given write: a run file, the
reference snapshot, the model file, or either moved into place before its row is committed. What the next ``train`` does first (``Store.recover``) is then run, and the store
is checked:

- no run is left ``running``; a run whose process was killed is ``interrupted``;
- no temporary file is left in ``artifacts/tmp``; every model file and snapshot file on
  disk belongs to a version or snapshot row (nothing orphaned), and every version's file
  exists, matches its sha256 and loads;
- the alias points at a version that loads (1, or 2 when the kill came after the
  registration committed).

Run from the repository root::

    .venv/bin/python bench/kill_train.py --points 12 --at-writes 2 --seed 0

It prints one line per kill point and the counts; exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "tests" / "data" / "files" / "accounts.csv"


def _train(home: Path, table: Path) -> list[str]:
    return [sys.executable, "-m", "modelloop", "train", str(table), "--target", "churn",
            "--name", "accounts", "--alias", "production", "--id-column", "account",
            "--models", "logistic_regression,lightgbm", "--max-trials", "3", "--cv", "2",
            "--time-budget", "60", "--seed", "0", "--home", str(home)]  # fmt: skip


# The writes a train makes while it registers its model, by what their names look like.
WRITES = {
    "run files": lambda name, folder: (
        folder == "tmp" and "-run-" in name and name.endswith(".partial")
    ),
    "snapshot": lambda name, folder: folder == "tmp" and name.endswith(".parquet.partial"),
    "snapshot placed": lambda name, folder: folder == "snapshots" and name.endswith(".parquet"),
    "model file": lambda name, folder: folder == "tmp" and name.endswith(".skops.partial"),
    "model placed": lambda name, folder: folder == "models" and name.endswith(".skops"),
}


def _kill_at_write(proc: subprocess.Popen, home: Path, kind: str, known: set[str]) -> str:
    """Kill ``proc`` as soon as a write of ``kind`` shows in its store; what happened."""
    match = WRITES[kind]
    folders = {f: home / "artifacts" / f for f in ("tmp", "models", "snapshots")}
    while proc.poll() is None:
        for folder, path in folders.items():
            try:
                names = os.listdir(path) if folder == "tmp" else [p.name for p in path.rglob("*")]
            except OSError:
                continue
            if any(match(n, folder) and n not in known for n in names):
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                return f"killed at its {kind} write"
        time.sleep(0.001)
    return f"finished before its {kind} write was seen"


def _check(home: Path) -> tuple[list[str], dict[str, int]]:
    """Recover as the next ``train`` would, then every check; returns (problems, counts)."""
    from modelloop.config import Settings
    from modelloop.store import Store
    from modelloop.store._artifacts import file_sha256

    problems: list[str] = []
    with Store.from_settings(Settings(home=home)) as store:
        interrupted, removed = store.recover()
        runs = store.list_runs()
        running = [r.id for r in runs if r.status == "running"]
        if running:
            problems.append(f"{len(running)} run(s) still running")
        versions = store.list_versions("accounts")
        referenced = {v.artifact_path for v in versions}
        referenced |= {s.artifact_path for s in store.list_snapshots()}
        for v in versions:
            path = store.artifact_path(v)
            if not path.is_file():
                problems.append(f"version {v.version}: its file is missing")
            elif file_sha256(path) != v.sha256:
                problems.append(f"version {v.version}: its file does not match its sha256")
            else:
                store.load_model(f"accounts:{v.version}")
        alias = store.get_model_version("accounts", alias="production")
        store.load_model(alias.ref)
        artifacts = store.artifacts_dir
        tmp = (
            [p.name for p in (artifacts / "tmp").iterdir()] if (artifacts / "tmp").is_dir() else []
        )
        if tmp:
            problems.append(f"left in tmp: {tmp}")
        for folder, pattern in (("models", "*.skops"), ("snapshots", "*.parquet")):
            for path in (artifacts / folder).rglob(pattern):
                if path.relative_to(artifacts).as_posix() not in referenced:
                    problems.append(f"orphan {path.relative_to(artifacts)}")
    counts = {
        "interrupted": len(interrupted),
        "swept": len(removed),
        "versions": len(versions),
        "alias": alias.version,
        "runs": len(runs),
    }
    return problems, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=12, help="kill points to try")
    parser.add_argument(
        "--at-writes", type=int, default=0, help="kill points at each kind of write"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="kill-train-") as scratch:
        base = Path(scratch) / "base"
        started = time.monotonic()
        # version 1 from the first 600 rows; the killed trains see all 900 (so their
        # reference snapshot is a new file, not the one version 1 already wrote)
        first = Path(scratch) / "first.csv"
        first.write_text("".join(TABLE.read_text().splitlines(keepends=True)[:601]))
        subprocess.run(_train(base, first), check=True, stdout=subprocess.DEVNULL)
        whole = time.monotonic() - started
        print(f"one whole train: {whole:.1f} s (version 1 registered)")
        known = {p.name for p in (base / "artifacts").rglob("*")}
        plan: list[float | str] = [rng.uniform(0.05, 1.0) * whole for _ in range(args.points)]
        plan += [kind for kind in WRITES for _ in range(args.at_writes)]
        failed = 0
        for point, when in enumerate(plan):
            home = Path(scratch) / f"point{point}"
            subprocess.run(["cp", "-a", str(base), str(home)], check=True)
            proc = subprocess.Popen(
                _train(home, TABLE), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if isinstance(when, str):
                ended = _kill_at_write(proc, home, when, known)
            else:
                try:
                    proc.wait(when)
                    ended = f"finished before the kill at {when:.1f} s"
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(30)
                    ended = f"killed after {when:.1f} s"
            problems, counts = _check(home)
            failed += bool(problems)
            print(f"point {point + 1:2d}: {ended}; {counts}; "
                  + ("OK" if not problems else "PROBLEMS: " + "; ".join(problems)))  # fmt: skip
    print(f"{len(plan)} kill points, {failed} with problems; load average at end: "
          f"{os.getloadavg()}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
