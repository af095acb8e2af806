"""Decisions: off-policy estimates against known truths, learned policies, decide's speed.

Three parts, each a table in docs/benchmarks.md:

obd  The Open Bandit Dataset's "men" sample (../shared/datasets/open_bandit_men): the same 34
     items shown by a uniform-random policy and by Bernoulli Thompson sampling, 10,000
     impressions each, with true propensities. Each policy's value is known from its own log
     (its click rate). The bts policy's value is estimated off-policy from the random log
     (and the random policy's from the bts log) by IPS, SNIPS, DR and DM
     (``evaluation.off_policy_report``; DR and DM with a reward model cross-fitted on the log,
     ``workflows.quick_reward_q``); the table gives each estimate, its error against the
     truth and whether its 95% bootstrap interval covers it. The bts policy is context-free:
     its probability of an item in a position is that item's share of the position in the
     bts log. Then a policy is learned from the random log with ``train --task bandit``
     and its held-out estimates are reported beside the random policy's value.

supervised  Each multiclass dev dataset becomes a bandit problem (actions = classes, reward 1
     for the right class): half the rows are logged by a known policy (uniform, or a
     softmax of a weak model mixed with uniform), modelloop learns a policy from that log
     (``train_bandit``, learners 'reward' and 'dr', greedy: epsilon 0), and on the other
     half, where every label is known, the policy's true value is exact (the mean
     probability it gives the right class). Beside it: the logging policy's true value, the
     supervised model's accuracy (``train`` on the same rows with every label: the
     ceiling), and each estimator's error on a log the logging policy makes on the test half.

speed  ``modelloop serve --workers 2`` answering ``POST /v1/models/obd/decide`` (a policy
     over 34 items: each decision scores 34 (context, item) rows), also with 3 candidate
     actions, against ``POST /v1/models/obd_reward/predict`` of its own reward model with one
     row (the supervised serving path), driven by wrk (``make bench-env-serving``) at
     concurrency 1, 8 and 64. Target: p99 <= 25 ms at 64 connections on 2 cores.

    .venv/bin/python bench/bandit.py [--parts obd,supervised,speed] [--budget 60]
        [--seconds 5] [--seed 0] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section

from modelloop.config import Settings
from modelloop.data import load
from modelloop.evaluation import action_text, off_policy_report
from modelloop.exceptions import TrainingError
from modelloop.workflows import quick_reward_q, read_bandit_log, train, train_bandit

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
OBD = DATASETS / "open_bandit_men"
MULTICLASS = {"penguins.csv": "species", "wine_quality_red.csv": "quality"}
ESTIMATORS = ("ips", "snips", "dr", "dm")


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _header(title: str, command: str, load_before: float) -> list[str]:
    return [
        f"## {title}",
        "",
        f"`.venv/bin/python {command}` at commit {_commit()}; load average "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (2 cores, shared).",
        "",
    ]


# -- part 1: Open Bandit ------------------------------------------------------------------


def _obd_log(name: str) -> Any:
    return read_bandit_log(
        OBD / f"{name}_men.csv",
        action="item_id",
        reward="click",
        propensity="propensity_score",
        drop=["timestamp"],
    )


def _per_position(log: Any, actions: list[int]) -> dict[float, np.ndarray]:
    """A context-free policy's probability of each item in each position: its log's shares."""
    frame = log.dataset.frame
    out = {}
    for pos, group in frame.groupby("position"):
        counts = group["item_id"].value_counts()
        out[float(pos)] = np.array([counts.get(a, 0) for a in actions], float) / len(group)
    return out


def _estimate(target_log: Any, dist: dict[float, np.ndarray], actions: list[int], seed: int) -> Any:
    """Off-policy report of a per-position policy on ``target_log``."""
    positions = target_log.dataset.frame["position"].astype(float).to_numpy()
    proba = np.vstack([dist[p] for p in positions])
    index = {action_text(a): j for j, a in enumerate(actions)}
    cols = np.array([index[action_text(a)] for a in target_log.logged_actions])
    rows = np.arange(target_log.n)
    q = quick_reward_q(target_log, rows, rows, actions, seed=seed, folds=5)
    return off_policy_report(
        target_log.rewards,
        target_log.propensities,
        proba[rows, cols],
        q_logged=q[rows, cols],
        q_policy=(proba * q).sum(axis=1),
        policy_proba=proba,
        actions=actions,
        logged_actions=target_log.logged_actions,
        n_bootstrap=1000,
        seed=seed,
    )


def part_obd(budget: float, seed: int, home: Path) -> list[str]:
    rnd, bts = _obd_log("random"), _obd_log("bts")
    actions = sorted({int(a) for a in rnd.logged_actions})
    truth = {"bts": float(np.mean(bts.rewards)), "random": float(np.mean(rnd.rewards))}
    lines = [
        "| target policy | its value (own log) | estimated from | estimator | estimate | error | "
        "95% interval | covers | ESS |",
        "|---|---:|---|---|---:|---:|---|---|---:|",
    ]
    uniform = {p: np.full(len(actions), 1 / len(actions)) for p in (1.0, 2.0, 3.0)}
    cases = [
        ("bts (Thompson sampling)", "bts", rnd, "random log", _per_position(bts, actions)),
        ("random (uniform)", "random", bts, "bts log", uniform),
    ]
    for label, key, log, where, dist in cases:
        t0 = time.monotonic()
        report = _estimate(log, dist, actions, seed)
        print(f"obd: {label} from the {where}: {time.monotonic() - t0:.0f} s", flush=True)
        for name in ESTIMATORS:
            e = report[name]
            lines.append(
                f"| {label} | {truth[key]:.4f} | {where} | {name.upper()} | {e.value:.4f} | "
                f"{e.value - truth[key]:+.4f} | [{e.low:.4f}, {e.high:.4f}] | "
                f"{'yes' if e.covers(truth[key]) else 'no'} | {report.ess:,.0f} |"
            )
        for w in report.warnings:
            print(f"  warning: {w}")
    t0 = time.monotonic()
    learned = train_bandit(
        OBD / "random_men.csv", action="item_id", reward="click", propensity="propensity_score",
        actions=OBD / "random_item_context.csv", drop=["timestamp"], learner="reward",
        time_budget=budget, seed=seed, name="obd", aliases=["production"],
        settings=Settings(home=home, seed=seed),
    )  # fmt: skip
    took = time.monotonic() - t0
    ev = learned.evaluation
    held = f"{ev.n:,} held-out random rows" if ev is not None else "none"
    lines += [
        "",
        f"Learned from the random log (`train --task bandit --learner reward --time-budget "
        f"{budget:g}`, {took:.0f} s, reward model {learned.best_model}, epsilon-greedy 0.05), "
        f"estimated on {held} (the random policy's value there: {ev.logging_value:.4f}):",
        "",
        "| estimator | estimate | 95% interval |",
        "|---|---:|---|",
    ]
    for name in ESTIMATORS:
        e = ev[name]
        lines.append(f"| {name.upper()} | {e.value:.4f} | [{e.low:.4f}, {e.high:.4f}] |")
    lines.append("")
    lines.append(
        f"46 clicks in 10,000 random impressions (about 37 in the training part) leave little "
        f"to learn from; ESS of the learned policy on the held-out rows: {ev.ess:,.0f}."
    )
    return lines


# -- part 2: supervised to bandit ---------------------------------------------------------


def _logging_policy(kind: str, X: pd.DataFrame, classes: list[Any], weak: Any) -> np.ndarray:
    k = len(classes)
    if kind == "uniform":
        return np.full((len(X), k), 1 / k)
    proba = np.asarray(weak.predict_proba(X), float)
    known = [action_text(c) for c in weak.classes_]
    out = np.zeros((len(X), k))  # a class the weak model never saw: only the uniform part
    for j, c in enumerate(classes):
        if action_text(c) in known:
            out[:, j] = proba[:, known.index(action_text(c))]
    return 0.7 * out + 0.3 / k  # every class at least 0.3 / K


def _sample(proba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cum = proba.cumsum(axis=1)
    return (cum < rng.random((len(proba), 1)) * cum[:, -1:]).sum(axis=1)


def part_supervised(budget: float, seed: int, learners: list[str], home: Path) -> list[str]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from modelloop.features import make_pipeline

    lines = [
        "| dataset | logging policy | log rows | learner | policy's true value | logging policy's "
        "| supervised (ceiling) | IPS error | SNIPS error | DR error | DR covers |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for file, target in MULTICLASS.items():
        ds = load(DATASETS / file, target=target)
        frame = ds.frame[[*ds.schema.feature_columns(), target]].dropna(subset=[target])
        y = frame[target]
        classes = sorted(y.unique().tolist())
        train_part, test_part = train_test_split(
            frame, test_size=0.5, random_state=seed, stratify=y
        )
        features = [c for c in frame.columns if c != target]
        t0 = time.monotonic()
        try:
            supervised = train(
                train_part, target, task="multiclass", test=test_part, time_budget=budget,
                seed=seed, register=False, settings=Settings(home=home, seed=seed),
            )  # fmt: skip
            ceiling = supervised.metrics.get("accuracy", float("nan"))
        except TrainingError as exc:
            print(f"{file}: supervised training failed: {exc}", flush=True)
            ceiling = float("nan")
        print(f"{file}: supervised accuracy {ceiling:.3f} ({time.monotonic() - t0:.0f} s)")
        weak_rows = train_part.sample(frac=0.1, random_state=seed)
        weak = make_pipeline(
            ds.schema, "linear", LogisticRegression(max_iter=500), task="multiclass"
        )
        weak.fit(weak_rows[features], weak_rows[target])
        for kind in ("uniform", "softmax"):
            rng = np.random.default_rng(seed)
            mu_train = _logging_policy(kind, train_part[features], classes, weak)
            mu_test = _logging_policy(kind, test_part[features], classes, weak)
            a_train = _sample(mu_train, rng)
            log = train_part[features].copy()
            log["action"] = [classes[j] for j in a_train]
            log["reward"] = (
                np.asarray(classes, dtype=object)[a_train] == train_part[target].to_numpy()
            ).astype(float)
            log["propensity"] = mu_train[np.arange(len(log)), a_train]
            y_test = test_part[target].to_numpy()
            right = np.array([classes.index(v) for v in y_test])
            logging_truth = float(np.mean(mu_test[np.arange(len(y_test)), right]))
            a_test = _sample(mu_test, rng)
            test_log = test_part[features].copy()
            test_log["action"] = [classes[j] for j in a_test]
            test_log["reward"] = (a_test == right).astype(float)
            test_log["propensity"] = mu_test[np.arange(len(y_test)), a_test]
            evaluated = read_bandit_log(
                test_log, action="action", reward="reward", propensity="propensity"
            )
            rows = np.arange(evaluated.n)
            for learner in learners:
                t0 = time.monotonic()
                try:
                    result = train_bandit(
                        log, action="action", reward="reward", propensity="propensity",
                        learner=learner, epsilon=0.0, time_budget=budget, seed=seed,
                        register=False, test_size=0.2, settings=Settings(home=home, seed=seed),
                    )  # fmt: skip
                except TrainingError as exc:  # a busy machine: say so in the table
                    print(f"{file} {kind} {learner}: failed: {exc}", flush=True)
                    lines.append(
                        f"| {file} | {kind} | {len(log):,} | {learner} | failed: no model fitted "
                        f"in {budget:g} s | {logging_truth:.3f} | {ceiling:.3f} | | | | |"
                    )
                    continue
                policy = result.model
                proba = policy.action_probabilities(test_part[features].reset_index(drop=True))
                cols = np.array([policy.index_of(c) for c in y_test])
                truth = float(np.mean(proba[np.arange(len(y_test)), cols]))
                q = quick_reward_q(evaluated, rows, rows, policy.actions_, seed=seed, folds=5)
                lc = np.array([policy.index_of(a) for a in evaluated.logged_actions])
                report = off_policy_report(
                    evaluated.rewards, evaluated.propensities, proba[rows, lc],
                    q_logged=q[rows, lc], q_policy=(proba * q).sum(axis=1), n_bootstrap=1000,
                    seed=seed,
                )  # fmt: skip
                err = {n: report[n].value - truth for n in ("ips", "snips", "dr")}
                print(
                    f"{file} {kind} {learner}: true value {truth:.3f} (logging "
                    f"{logging_truth:.3f}, ceiling {ceiling:.3f}) in {time.monotonic() - t0:.0f} s",
                    flush=True,
                )
                lines.append(
                    f"| {file} | {kind} | {len(log):,} | {learner} | {truth:.3f} | "
                    f"{logging_truth:.3f} | {ceiling:.3f} | {err['ips']:+.3f} | "
                    f"{err['snips']:+.3f} | {err['dr']:+.3f} | "
                    f"{'yes' if report['dr'].covers(truth) else 'no'} |"
                )
    lines += [
        "",
        "Values are click rates (the share of right classes): the policy's and the logging "
        "policy's are exact on the test half; the ceiling is the accuracy of `modelloop train` "
        "with every label of the same rows. Errors are estimate minus truth on a log of the test "
        "half made by the logging policy (softmax: a logistic regression fitted on 10% of the "
        "training half, mixed 70/30 with uniform).",
    ]
    return lines


# -- part 3: decide's speed ---------------------------------------------------------------


def part_speed(home: Path, seconds: float, levels: list[int], seed: int) -> list[str]:
    import serving as sv  # bench/serving.py: the server and wrk helpers
    from modelloop.store import Store
    from modelloop.workflows import load_model

    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: run `make bench-env-serving`")
    with Store.from_settings(Settings(home=home)) as store:
        policy_model = load_model("obd@production", store=store)
        policy = policy_model.pipeline
        reward_model = policy.reward_model_.estimator
        enforcer = reward_model.steps[0][1]
        schema = enforcer.schema_
        store.register_model(
            "obd_reward",
            {"pipeline": reward_model, "schema": schema.to_dict(), "task": "binary",
             "target": "__reward__", "classes": [0, 1]},
            run_id=None, schema=schema.to_dict(), task="binary", metrics={},
            aliases=["production"],
        )  # fmt: skip
    frame = pd.read_csv(OBD / "random_men.csv").sample(200, random_state=seed)
    context_cols = [str(c) for c in policy.feature_names_in_]
    contexts = json.loads(frame[context_cols].to_json(orient="records"))
    rng = np.random.default_rng(seed)
    items = policy.actions_
    bodies = {
        "decide, 34 actions": [{"context": c} for c in contexts],
        "decide, 3 candidates": [
            {"context": c, "actions": [int(a) for a in rng.choice(items, 3, replace=False)]}
            for c in contexts
        ],
        "predict, 1 row (baseline)": [  # one (context, item) row of the reward model
            {"instances": [policy.row(c, a)]}
            for c, a in zip(contexts, rng.choice(items, len(contexts)), strict=True)
        ],
    }
    paths = {
        "decide, 34 actions": "/v1/models/obd/decide",
        "decide, 3 candidates": "/v1/models/obd/decide",
        "predict, 1 row (baseline)": "/v1/models/obd_reward/predict",
    }
    workdir = Path(tempfile.mkdtemp(prefix="ml-bench-bandit-"))
    port = sv.free_port()
    cmd = [sys.executable, "-m", "modelloop", "serve", "--home", str(home), "--port", str(port),
           "--workers", "2"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    errlog = workdir / "server.log"
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=errlog.open("wb"),
        start_new_session=True,
    )  # fmt: skip
    results = []
    try:
        sv.wait_up(f"http://127.0.0.1:{port}/health", proc)
        sv.wait_listeners(port, 2, proc)
        import httpx

        for label, body in bodies.items():
            url = f"http://127.0.0.1:{port}{paths[label]}"
            ok = [httpx.post(url, json=b).status_code for b in body[:20]]
            if set(ok) != {200}:
                raise SystemExit(
                    f"{label}: answers {ok}; server log:\n{errlog.read_text()[-2000:]}"
                )
            run_dir = workdir / label.split(",")[0].replace(" ", "_") / str(len(results))
            run_dir.mkdir(parents=True)
            (run_dir / "bodies.jsonl").write_text("\n".join(json.dumps(b) for b in body) + "\n")
            for c in levels:
                r = sv.drive_wrk(wrk, url, run_dir, c, seconds, None)
                r.update(target=label, concurrency=c)
                results.append(r)
                print(
                    f"{label:26s} c={c:<3d} {r['rps']:8.1f} req/s  p50 {r['p50']:6.2f} ms  "
                    f"p99 {r['p99']:7.2f} ms  errors {r['errors']}",
                    flush=True,
                )
    finally:
        sv.stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    base = {r["concurrency"]: r for r in results if r["target"].startswith("predict")}
    lines = [
        "| request | concurrency | req/s | p50 ms | p99 ms | errors | req/s vs predict |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = (
            r["rps"] / base[r["concurrency"]]["rps"] if r["concurrency"] in base else float("nan")
        )
        lines.append(
            f"| {r['target']} | {r['concurrency']} | {r['rps']:.0f} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['errors']} | {ratio:.2f}x |"
        )
    at64 = [r for r in results if r["concurrency"] == 64 and r["target"].startswith("decide")]
    lines += [
        "",
        "wrk 4.1 (Lua script cycling through 200 bodies of random-log contexts), keep-alive "
        "connections on the loopback, nothing pinned; `modelloop serve --workers 2` with the "
        "decision log on (every decision is logged for its reward). Target: p99 <= 25 ms at "
        "64 connections: "
        + "; ".join(f"{r['target']}: {r['p99']:.1f} ms" for r in at64)
        + ". The machine is shared: its load (above) slows every figure here, the baseline's "
        "too; the ratios to predict, measured in the same run, are the figures to compare.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default="obd,supervised,speed")
    parser.add_argument("--budget", type=float, default=60.0, help="time budget of each train")
    parser.add_argument("--learners", default="reward,dr")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    parts = args.parts.split(",")
    if not (OBD / "random_men.csv").is_file():
        raise SystemExit(f"datasets not found at {DATASETS}")
    command = " ".join(["bench/bandit.py", *sys.argv[1:]])
    home = Path(tempfile.mkdtemp(prefix="ml-bench-bandit-home-"))
    try:
        if "obd" in parts or "speed" in parts:
            load_before = os.getloadavg()[0]
            body = part_obd(args.budget, args.seed, home)
            table = "\n".join(
                _header("Decisions: off-policy estimates on the Open Bandit Dataset", command,
                        load_before) + body
            )  # fmt: skip
            print(table)
            if "obd" in parts and not args.no_write:
                write_section("bandit-obd", table)
        if "supervised" in parts:
            load_before = os.getloadavg()[0]
            body = part_supervised(args.budget, args.seed, args.learners.split(","), home)
            table = "\n".join(
                _header("Decisions: learned policies on supervised data made bandit", command,
                        load_before) + body
            )  # fmt: skip
            print(table)
            if not args.no_write:
                write_section("bandit-supervised", table)
        if "speed" in parts:
            load_before = os.getloadavg()[0]
            levels = [int(c) for c in args.concurrency.split(",")]
            body = part_speed(home, args.seconds, levels, args.seed)
            table = "\n".join(_header("Decisions: decide's speed", command, load_before) + body)
            print(table)
            if not args.no_write:
                write_section("bandit-speed", table)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
