"""Drift detection: modelloop's drift_report against Evidently's DataDriftPreset.

Data: bank_marketing.csv from ../shared/datasets (16 features, 7 numeric and 9 categorical;
target and nothing else dropped), widened to 30 columns with 14 columns taken from an
independently shuffled copy of the rows (suffix ``_2``). Each repeat draws a reference and a
current window of ``--rows`` rows with replacement from it, then changes the current one:

* ``none``: nothing (false alarms: share of column verdicts that say drift);
* ``mean +k sd``: one numeric column (a different one each repeat) shifted by k of its
  standard deviations;
* ``freq -s``: one categorical column's most frequent category made ``s`` (absolute share)
  rarer by re-weighting the rows drawn;
* ``correlation``: ``age`` shuffled within the current window -- every column's
  distribution is unchanged, only how age goes with job, marital status, balance ... changes.

Detection rate = share of repeats whose shifted column is flagged (``correlation``: the
domain classifier for modelloop; any column or the dataset flag for Evidently). Evidently
runs in its own virtualenv (it needs pandas < 3: ``make bench-env-drift``) on the same
windows, passed as Parquet files; its time is measured inside that process, as ours is here.

    make bench-env-drift
    .venv/bin/python bench/drift.py [--rows 100000] [--repeats 5] [--speed-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section

from modelloop.data import Role, infer_schema
from modelloop.monitoring import DriftConfig, drift_report

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
EVIDENTLY_PYTHON = ROOT / ".venv-bench-drift" / "bin" / "python"
MEAN_SHIFTS = (0.05, 0.1, 0.25, 0.5, 1.0)
FREQ_SHIFTS = (0.02, 0.05, 0.1, 0.2)

EVIDENTLY_RUNNER = textwrap.dedent(
    """
    import json, sys, time
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    job = json.loads(open(sys.argv[1]).read())
    dd = DataDefinition(numerical_columns=job["numeric"], categorical_columns=job["categorical"])
    out = []
    refs = {}
    for case in job["cases"]:
        if case["reference"] not in refs:
            refs[case["reference"]] = pd.read_parquet(case["reference"])
        ref = refs[case["reference"]]
        cur = pd.read_parquet(case["current"])
        started = time.perf_counter()
        snap = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd)
        )
        seconds = time.perf_counter() - started
        columns, dataset = {}, None
        for m in snap.dict()["metrics"]:
            cfg = m["config"]
            if cfg["type"].endswith("ValueDrift"):
                value, thr = m["value"], cfg["threshold"]
                p_value = "p_value" in cfg["method"]
                columns[cfg["column"]] = bool(value < thr if p_value else value >= thr)
            elif cfg["type"].endswith("DriftedColumnsCount"):
                dataset = m["value"]["share"] >= cfg["drift_share"]
        out.append({"columns": columns, "dataset": dataset, "seconds": seconds})
    print(json.dumps(out))
    """
)


def base_table() -> pd.DataFrame:
    bank = pd.read_csv(DATASETS / "bank_marketing.csv").drop(columns=["subscribe"])
    second = bank.sample(frac=1.0, random_state=1).reset_index(drop=True).iloc[:, :14]
    second.columns = [f"{c}_2" for c in second.columns]
    return pd.concat([bank, second], axis=1)


def freq_shift(
    table: pd.DataFrame, column: str, s: float, n: int, rng: np.random.Generator
) -> pd.DataFrame:
    top = table[column].value_counts().index[0]
    is_top = (table[column] == top).to_numpy()
    p0 = is_top.mean()
    w = np.where(is_top, (p0 - s) / p0, (1 - p0 + s) / (1 - p0))
    return table.iloc[rng.choice(len(table), n, p=w / w.sum())].reset_index(drop=True)


def make_cases(table, schema, rows, repeats, folder: Path):
    numeric = [
        c
        for c in schema.feature_columns()
        if schema[c].role is Role.NUMERIC and not c.endswith("_2")
    ]
    categorical = [
        c
        for c in schema.feature_columns()
        if schema[c].role is not Role.NUMERIC and not c.endswith("_2")
    ]
    cases = []
    for r in range(repeats):
        rng = np.random.default_rng(1000 + r)
        ref = table.iloc[rng.choice(len(table), rows)].reset_index(drop=True)
        ref_path = folder / f"ref{r}.parquet"
        ref.to_parquet(ref_path)

        def draw(rng=rng):
            return table.iloc[rng.choice(len(table), rows)].reset_index(drop=True)

        scenarios = [("none", None, draw())]
        col = numeric[r % len(numeric)]
        for k in MEAN_SHIFTS:
            cur = draw()
            cur[col] = cur[col] + k * table[col].std()
            scenarios.append((f"mean +{k:g} sd", col, cur))
        col = categorical[r % len(categorical)]
        for s in FREQ_SHIFTS:
            scenarios.append((f"freq -{s:g}", col, freq_shift(table, col, s, rows, rng)))
        cur = draw()
        cur["age"] = rng.permutation(cur["age"].to_numpy())
        scenarios.append(("correlation", "age", cur))
        for i, (name, column, cur) in enumerate(scenarios):
            path = folder / f"cur{r}_{i}.parquet"
            cur.to_parquet(path)
            cases.append(
                {
                    "scenario": name,
                    "column": column,
                    "reference": str(ref_path),
                    "current": str(path),
                }
            )
    return cases, numeric, categorical


def run_ours(cases, schema, domain_for=("none", "correlation")):
    results, refs = [], {}
    for case in cases:
        ref = refs.setdefault(case["reference"], pd.read_parquet(case["reference"]))
        cur = pd.read_parquet(case["current"])
        config = DriftConfig(domain=case["scenario"] in domain_for)
        report = drift_report(ref, cur, schema, config=config)
        results.append(
            {
                "columns": {f.name: bool(f.drifted) for f in report.features},
                "domain": report.domain.drifted if report.domain else None,
                "auc": report.domain.auc if report.domain else None,
            }
        )
    return results


def time_ours(ref, cur, schema, repeats=5, domain=True) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        drift_report(ref, cur, schema, config=DriftConfig(domain=domain))
        times.append(time.perf_counter() - started)
    return min(times)


def speed(cases, schema, numeric, categorical, folder: Path) -> tuple[float, float, float]:
    """Best-of run times on the first pair: ours with and without the domain classifier,
    and Evidently's (best of 3, measured inside its own process)."""
    ref = pd.read_parquet(cases[0]["reference"])
    cur = pd.read_parquet(cases[0]["current"])
    drift_report(ref, cur, schema, config=DriftConfig())  # warm-up (imports, first calls)
    ours = time_ours(ref, cur, schema)
    ours_no_domain = time_ours(ref, cur, schema, domain=False)
    ev_timing = run_evidently([cases[0]] * 3, numeric, categorical, folder)
    return ours, ours_no_domain, min(r["seconds"] for r in ev_timing)


def speed_text(rows: int, ours: float, ours_no_domain: float, theirs: float) -> str:
    return (
        f"Run time on one {rows:,} x 30 pair (best of 5 for modelloop, best of 3 for Evidently, "
        f"each timed inside its own process): modelloop {ours:.2f} s with the domain classifier "
        f"({ours_no_domain:.2f} s without), Evidently {theirs:.2f} s: "
        f"**{theirs / ours:.1f}x faster** ({theirs / ours_no_domain:.1f}x without the domain "
        "classifier)."
    )


def run_evidently(cases, numeric, categorical, folder: Path):
    job = folder / "job.json"
    job.write_text(json.dumps({"numeric": numeric, "categorical": categorical, "cases": cases}))
    runner = folder / "runner.py"
    runner.write_text(EVIDENTLY_RUNNER)
    done = subprocess.run(
        [str(EVIDENTLY_PYTHON), str(runner), str(job)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"Evidently failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="Do not update docs/benchmarks.md.")
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help="Only time one pair against Evidently (no detection table, docs untouched).",
    )
    args = parser.parse_args()
    if not EVIDENTLY_PYTHON.exists():
        raise SystemExit(f"{EVIDENTLY_PYTHON} not found: run `make bench-env-drift` first.")
    table = base_table()
    schema = infer_schema(table)
    features = schema.feature_columns()
    assert len(features) == 30, features
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases, _, _ = make_cases(
            table, schema, args.rows, 1 if args.speed_only else args.repeats, folder
        )
        all_numeric = [c for c in features if schema[c].role is Role.NUMERIC]
        all_categorical = [c for c in features if c not in all_numeric]
        print(
            f"{len(cases)} windows of {args.rows} rows x {len(features)} columns "
            f"({len(all_numeric)} numeric, {len(all_categorical)} categorical)"
        )
        timing = speed(cases, schema, all_numeric, all_categorical, folder)
        print(speed_text(args.rows, *timing))
        if args.speed_only:
            return
        ours = run_ours(cases, schema)
        theirs = run_evidently(cases, all_numeric, all_categorical, folder)

    rows = []
    scenarios = list(dict.fromkeys(c["scenario"] for c in cases))
    for name in scenarios:
        idx = [i for i, c in enumerate(cases) if c["scenario"] == name]
        if name == "none":
            ours_rate = np.mean([np.mean(list(ours[i]["columns"].values())) for i in idx])
            ev_rate = np.mean([np.mean(list(theirs[i]["columns"].values())) for i in idx])
            dom = np.mean([bool(ours[i]["domain"]) for i in idx])
            rows.append(
                (
                    name,
                    "false alarms per column test",
                    ours_rate,
                    ev_rate,
                    f"domain classifier false alarms {dom:.0%}",
                )
            )
        elif name == "correlation":
            ours_rate = np.mean([bool(ours[i]["domain"]) for i in idx])
            ev_rate = np.mean(
                [bool(theirs[i]["dataset"]) or any(theirs[i]["columns"].values()) for i in idx]
            )
            aucs = ", ".join(f"{ours[i]['auc']:.3f}" for i in idx)
            rows.append(
                (
                    name,
                    "detected (domain classifier / any Evidently flag)",
                    ours_rate,
                    ev_rate,
                    f"domain AUC {aucs}",
                )
            )
        else:
            ours_rate = np.mean([ours[i]["columns"][cases[i]["column"]] for i in idx])
            ev_rate = np.mean([theirs[i]["columns"][cases[i]["column"]] for i in idx])
            cols = ", ".join(sorted({cases[i]["column"] for i in idx}))
            rows.append((name, "detected (shifted column flagged)", ours_rate, ev_rate, cols))

    lines = [
        f"### Drift detection (`bench/drift.py`, {args.rows:,} rows x 30 columns, {args.repeats} repeats)",
        "",
        "bank_marketing resampled into reference and current windows with controlled shifts "
        "(see the script's docstring); Evidently 0.7 `DataDriftPreset` with its defaults in its own "
        "virtualenv on the same windows.",
        "",
        "| scenario | measure | modelloop | Evidently | notes |",
        "|---|---|---:|---:|---|",
    ]
    for name, measure, a, b, note in rows:
        lines.append(f"| {name} | {measure} | {a:.0%} | {b:.0%} | {note} |")
    lines += [
        "",
        speed_text(args.rows, *timing),
        "",
        f"Command: `make bench-env-drift && .venv/bin/python bench/drift.py --rows {args.rows} --repeats {args.repeats}`",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(f"drift-{args.rows}", text)


if __name__ == "__main__":
    main()
