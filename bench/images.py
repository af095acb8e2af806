"""Image classification: modelloop against two plain baselines, on hymenoptera (ants vs bees).

The set is PyTorch's transfer-learning tutorial's (../shared/datasets/images/hymenoptera:
244 training images, one of them a placeholder that loading skips, and 153 validation
images). Everything is trained on train/ and scored on val/, in one run:

* (a) logistic regression on the raw pixels, each image's centre square downscaled to
  32 x 32 RGB and standardised (scikit-learn, C chosen from 0.001-1 by 5-fold CV);
* (b) frozen EfficientNet-Lite0 features (modelloop's own forward pass of the packaged
  ImageNet weights) and a plain logistic regression on them (standardised, C=1);
* (c) `modelloop train hymenoptera/ --target label --time-budget 60` and `... 300`, each
  from a fresh embedding cache (so each pays for embedding its images), run as the CLI.

Accuracy and log loss are on val/. Time is wall-clock for the whole fit: (a) decoding and
fitting, (b) embedding and fitting, (c) the `train` command (its own time; the process
start-up is reported apart). Images/s at prediction is measured through `modelloop serve
--workers 2` on the model trained at 300 s: concurrent clients post one base64 image per
request (`POST /v1/models/NAME/predict`), 4 distinct variants of each validation image
(mirrored and cropped, so that no image repeats and the server's memory of embeddings
never answers), and the rate counts answered images over wall time. The anchor of the
issue: PyTorch's tutorial reports about 0.93-0.95 validation accuracy for an ImageNet
ResNet-18 on this set.

    .venv/bin/python bench/images.py [--budgets 60,300] [--clients 8] [--no-write]

The table goes to docs/benchmarks.md (section `images`).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import accuracy_score, log_loss
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section

from modelloop.data import load, open_image, square_image

ROOT = Path(__file__).resolve().parents[1]
DATA = (
    Path(os.environ.get("MODELLOOP_BENCH_DATASETS", ROOT.parent / "shared" / "datasets"))
    / "images"
    / "hymenoptera"
)
BIN = Path(sys.executable).parent


def _split(name: str) -> tuple[list[str], np.ndarray]:
    ds = load(DATA / name, target="label")
    return ds.frame["image"].tolist(), ds.frame["label"].to_numpy()


def _scores(y: np.ndarray, classes: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    pred = classes[proba.argmax(axis=1)]
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "log_loss": float(log_loss(y, proba, labels=classes)),
    }


def raw_pixels(train: tuple, val: tuple) -> dict[str, float]:
    t0 = time.perf_counter()

    def pixels(files: list[str]) -> np.ndarray:
        return np.stack(
            [
                np.asarray(square_image(open_image(f, reduce_to=64).image, 32), np.float32).ravel()
                for f in files
            ]
        )

    scaler = StandardScaler().fit(pixels(train[0]))
    model = LogisticRegressionCV(
        Cs=[0.001, 0.01, 0.1, 1.0],
        cv=5,
        max_iter=3000,
        l1_ratios=(0.0,),
        use_legacy_attributes=False,
    )
    model.fit(scaler.transform(pixels(train[0])), train[1])
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    proba = model.predict_proba(scaler.transform(pixels(val[0])))
    predict_s = time.perf_counter() - t1
    return {
        **_scores(val[1], model.classes_, proba),
        "seconds": fit_s,
        "images_per_s": len(val[0]) / predict_s,
    }


def frozen_features(train: tuple, val: tuple, cache: Path) -> dict[str, float]:
    os.environ["MODELLOOP_CACHE_DIR"] = str(cache)  # empty: every image is embedded
    from modelloop.features import embed_images

    t0 = time.perf_counter()
    X = embed_images(train[0], n_threads=2)
    scaler = StandardScaler().fit(X)
    model = LogisticRegression(C=1.0, max_iter=3000).fit(scaler.transform(X), train[1])
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    proba = model.predict_proba(scaler.transform(embed_images(val[0], n_threads=2)))
    predict_s = time.perf_counter() - t1
    return {
        **_scores(val[1], model.classes_, proba),
        "seconds": fit_s,
        "images_per_s": len(val[0]) / predict_s,
    }


def modelloop_train(budget: int, home: Path, cache: Path) -> dict[str, float]:
    env = {**os.environ, "MODELLOOP_HOME": str(home), "MODELLOOP_CACHE_DIR": str(cache)}
    cmd = [str(BIN / "modelloop"), "train", str(DATA), "--target", "label",
           "--time-budget", str(budget), "--name", f"hymenoptera{budget}", "--json"]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"
        return {"failed": message, "wall_s": wall}
    out = json.loads(done.stdout)
    test = out["test_metrics"]
    return {
        "accuracy": test["accuracy"],
        "log_loss": test["log_loss"],
        "seconds": out["timings"]["total_s"],
        "wall_s": wall,
        "best": out["best_model"],
        "embed_s": out["timings"].get("embed_s", 0.0),
    }


def _variants(files: list[str]) -> list[str]:
    """Four distinct JPEGs per image (as is, mirrored, a 90 % crop, both), base64."""
    from PIL import ImageOps

    out = []
    for f in files:
        img = open_image(f).image
        w, h = img.size
        crop = img.crop((w // 20, h // 20, w - w // 20, h - h // 20))
        for v in (img, ImageOps.mirror(img), crop, ImageOps.mirror(crop)):
            buf = io.BytesIO()
            v.save(buf, format="JPEG", quality=90)
            out.append(base64.b64encode(buf.getvalue()).decode())
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_rate(home: Path, cache: Path, name: str, images: list[str], clients: int) -> dict:
    import httpx

    port = _free_port()
    env = {**os.environ, "MODELLOOP_HOME": str(home), "MODELLOOP_CACHE_DIR": str(cache),
           "MODELLOOP_SERVE_LOG_PREDICTIONS": "0"}  # fmt: skip
    proc = subprocess.Popen(
        [str(BIN / "modelloop"), "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1/models/{name}/predict"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the server did not come up")
            time.sleep(0.5)
        with httpx.Client(timeout=60) as c:  # each worker loads torch and the weights once
            for img in images[:4]:
                c.post(url, json={"instances": [{"image": img}]}).raise_for_status()
        todo = list(range(4, len(images)))
        lock = threading.Lock()
        latencies: list[float] = []
        errors: list[str] = []

        def client() -> None:
            with httpx.Client(timeout=120) as c:
                while True:
                    with lock:
                        if not todo:
                            return
                        i = todo.pop()
                    t = time.perf_counter()
                    r = c.post(url, json={"instances": [{"image": images[i]}]})
                    if r.status_code != 200:
                        errors.append(r.text[:200])
                    latencies.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return {
        "images_per_s": len(latencies) / wall,
        "p50_ms": float(np.percentile(latencies, 50) * 1000),
        "p95_ms": float(np.percentile(latencies, 95) * 1000),
        "n": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="60,300")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--no-write", action="store_true", help="Do not update docs/benchmarks.md.")
    parser.add_argument("--commit", help="The commit to report (default: git's HEAD here).")
    args = parser.parse_args()
    if not (DATA / "train").is_dir():
        sys.exit(f"hymenoptera not found at {DATA}")
    budgets = [int(b) for b in args.budgets.split(",")]
    commit = args.commit or subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
        check=False,
    ).stdout.strip()  # fmt: skip
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-images-"))
    train, val = _split("train"), _split("val")
    print(f"train {len(train[0])} images, val {len(val[0])}; load {load_before[0]:.1f}")
    rows: dict[str, dict] = {}
    rows["raw pixels + logistic regression"] = raw_pixels(train, val)
    print(rows)
    rows["frozen EfficientNet-Lite0 + logistic regression"] = frozen_features(
        train, val, work / "cache-frozen"
    )
    print(rows)
    for b in budgets:
        rows[f"modelloop train --time-budget {b}"] = modelloop_train(
            b, work / "home", work / f"cache-{b}"
        )
        print(rows)
    variants = _variants(val[0])
    served_budget = next(
        (
            b
            for b in reversed(budgets)
            if "failed" not in rows[f"modelloop train --time-budget {b}"]
        ),
        None,
    )
    if served_budget is None:
        sys.exit("no modelloop model was trained: nothing to serve")
    served = serve_rate(
        work / "home", work / "cache-serve", f"hymenoptera{served_budget}", variants, args.clients
    )
    print(served)
    load_after = os.getloadavg()
    base = rows["frozen EfficientNet-Lite0 + logistic regression"]
    lines = [
        "## Images: hymenoptera (ants vs bees), train/ -> val/",
        "",
        "244 training images (one placeholder, skipped by loading) and 153 validation images "
        "of PyTorch's transfer-learning tutorial; every system trained on train/ and scored on "
        "val/ in the same run. Time is wall-clock for the whole fit (for modelloop: the "
        "`train` command's own total, embedding included, from an empty embedding cache). "
        "Anchor: the tutorial reports about 0.93-0.95 val accuracy for a fine-tuned ImageNet "
        "ResNet-18.",
        "",
        "    .venv/bin/python bench/images.py",
        "",
        f"Commit {commit}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        "(2 shared CPU cores).",
        "",
        "| system | val accuracy | val log loss | fit s | accuracy vs frozen+LR | model |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, r in rows.items():
        if "failed" in r:
            lines.append(f"| {name} | — | — | {r['wall_s']:.1f} | — | {r['failed']} |")
            continue
        lines.append(
            f"| {name} | {r['accuracy']:.3f} | {r['log_loss']:.3f} | {r['seconds']:.1f} | "
            f"{r['accuracy'] / base['accuracy']:.3f} | {r.get('best', '')} |"
        )
    lines += [
        "",
        f"Prediction through `modelloop serve --workers 2` (model of the {served_budget} s run, "
        f"{args.clients} concurrent clients, one base64 JPEG per request, {served['n']} "
        "distinct images): "
        f"**{served['images_per_s']:.1f} images/s**, latency p50 {served['p50_ms']:.0f} ms, "
        f"p95 {served['p95_ms']:.0f} ms. In-process (no HTTP, 2 threads): frozen "
        f"EfficientNet-Lite0 + LR {base['images_per_s']:.1f} images/s, raw pixels + LR "
        f"{rows['raw pixels + logistic regression']['images_per_s']:.1f} images/s.",
    ]
    body = "\n".join(lines)
    print()
    print(body)
    if not args.no_write:
        write_section("images", body)


if __name__ == "__main__":
    main()
