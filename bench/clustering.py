"""Clustering quality and time of `modelloop train --task clustering` against plain k-means.

Datasets with known classes, the class column hidden from both systems:

* penguins (../shared/datasets/penguins.csv, 3 species),
* wine quality red (../shared/datasets/wine_quality_red.csv, 6 quality grades: a hard case,
  the grades are not clusters),
* wine (scikit-learn's wine recognition data, bundled with modelloop: 3 cultivars).

modelloop picks the algorithm and the number of clusters itself (silhouette); the baseline is
`sklearn.cluster.KMeans(n_clusters=<true number of classes>)`, told the answer's size, on the
same standardized features (modelloop's fitted preprocessing: imputation, scaling, one-hot).
Quality is the adjusted Rand index (ARI) of the clusters against the classes; time is
wall-clock seconds for the whole `train` call (loading, every candidate, summaries, store)
against the baseline's fit. Both run in the same process, one after the other.

    .venv/bin/python bench/clustering.py [--seeds 0,1,2]

The table goes to docs/benchmarks.md (section `clustering`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section

import modelloop as ml
from modelloop.config import Settings
from modelloop.data import load_bundled

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _datasets() -> dict[str, tuple[pd.DataFrame, str]]:
    out: dict[str, tuple[pd.DataFrame, str]] = {}
    if (DATASETS / "penguins.csv").exists():
        out["penguins"] = (pd.read_csv(DATASETS / "penguins.csv"), "species")
        out["wine_quality_red"] = (
            pd.read_csv(DATASETS / "wine_quality_red.csv", sep=";"),
            "quality",
        )
    out["wine (cultivars)"] = (load_bundled("wine"), "cultivar")
    return out


def run(name: str, frame: pd.DataFrame, target: str, seed: int, home: Path) -> dict[str, object]:
    y = frame[target].astype(str).to_numpy()
    X = frame.drop(columns=[target])
    settings = Settings(home=home / f"{name.split()[0]}-{seed}")
    t0 = time.perf_counter()
    result = ml.train(X, task="clustering", register=False, seed=seed, settings=settings)
    ours_s = time.perf_counter() - t0
    ours = result.model.predict(X)

    Xt = result.model[:-1].transform(X)  # the same standardized features
    k = len(np.unique(y))
    t0 = time.perf_counter()
    base = KMeans(n_clusters=k, random_state=seed).fit_predict(Xt)
    base_s = time.perf_counter() - t0
    return {
        "dataset": name,
        "rows": len(X),
        "classes": k,
        "chosen": f"{result.best_model} k={result.metrics['n_clusters']}",
        "silhouette": result.metrics["silhouette"],
        "ari_ours": adjusted_rand_score(y, ours),
        "ari_base": adjusted_rand_score(y, base),
        "ours_s": ours_s,
        "base_s": base_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (frame, target) in _datasets().items():
            for seed in seeds:
                row = run(name, frame, target, seed, Path(tmp))
                rows.append(row)
                print(
                    f"{name:18s} seed {seed}: ours ARI {row['ari_ours']:.3f} ({row['chosen']}, "
                    f"{row['ours_s']:.1f}s)  k-means(k={row['classes']}) ARI "
                    f"{row['ari_base']:.3f} ({row['base_s']:.2f}s)",
                    flush=True,
                )
    table = pd.DataFrame(rows)
    agg = table.groupby("dataset", sort=False).agg(
        rows=("rows", "first"),
        classes=("classes", "first"),
        chosen=("chosen", lambda c: ", ".join(sorted(set(c)))),
        silhouette=("silhouette", "mean"),
        ari_ours=("ari_ours", "mean"),
        ari_base=("ari_base", "mean"),
        ours_s=("ours_s", "mean"),
        base_s=("base_s", "mean"),
    )
    lines = [
        "## Clustering: adjusted Rand index against known classes",
        "",
        "`modelloop train DATA --task clustering` (algorithm and number of clusters chosen by "
        "silhouette, class column hidden) against `KMeans(n_clusters=true number of classes)` "
        "on the same standardized features, in the same run; mean over seeds "
        f"{', '.join(map(str, seeds))}. ARI 1 = the classes exactly, 0 = chance. modelloop's "
        "time is the whole `train` call (every candidate, summaries, store); the baseline's "
        "is one k-means fit. 2 shared CPU cores.",
        "",
        "    .venv/bin/python bench/clustering.py",
        "",
        "| dataset | rows | classes | modelloop chose | silhouette | ARI modelloop | "
        "ARI k-means (true k) | ARI ratio | modelloop s | k-means s |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in agg.iterrows():
        ratio = r.ari_ours / r.ari_base if r.ari_base > 0 else float("nan")
        lines.append(
            f"| {name} | {r.rows} | {r.classes} | {r.chosen} | {r.silhouette:.3f} | "
            f"{r.ari_ours:.3f} | {r.ari_base:.3f} | {ratio:.2f} | {r.ours_s:.1f} | "
            f"{r.base_s:.3f} |"
        )
    body = "\n".join(lines)
    print()
    print(body)
    write_section("clustering", body)


if __name__ == "__main__":
    main()
