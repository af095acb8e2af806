"""``--format kfp``: the loop as a Kubeflow Pipelines v2 pipeline running modelloop's CLI.

``pipeline.py`` defines the pipeline with the kfp SDK (``kfp.dsl`` container components):
ingest -> train -> evaluate -> register -> monitor -> retrain (when monitoring alerts), each
step one ``modelloop`` command in the exported image (``--image``), all sharing one store
(``store_url``, a PostgreSQL URL the pods reach). ``python pipeline.py`` compiles it to
``pipeline.yaml`` (the IR YAML a Kubeflow Pipelines server runs); the export compiles it
too when the kfp SDK is installed where modelloop runs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["pipeline_source", "write_kfp"]


def pipeline_source(ctx: Any) -> str:
    """The text of ``pipeline.py`` for this model."""
    schema = ctx.bundle["schema"]
    target = schema.get("target") or ""
    name = ctx.record.name
    return textwrap.dedent(
        f'''\
        """The modelloop loop for model {name!r} as a Kubeflow Pipelines v2 pipeline.

        Written by `modelloop export {ctx.record.ref} --format kfp`. Every step runs one modelloop
        command in the image {ctx.image!r} (built from `--format docker`), and all share the
        store at `store_url` (PostgreSQL, reachable from the pods):

            ingest -> train -> evaluate -> register -> monitor -> retrain (on an alert)

            pip install kfp && python pipeline.py          # writes pipeline.yaml
            kfp run create --experiment-name {name} --package-file pipeline.yaml ...
        """

        import argparse

        from kfp import compiler, dsl

        IMAGE = {ctx.image!r}
        MODEL = {name!r}
        TARGET = {target!r}


        @dsl.container_component
        def ingest(source: str, dataset: str, store_url: str):
            """A versioned, validated snapshot of the source (modelloop ingest)."""
            return dsl.ContainerSpec(
                image=IMAGE,
                command=["modelloop"],
                args=["ingest", source, "--name", dataset, "--store", store_url],
            )


        @dsl.container_component
        def train(dataset: str, target: str, model: str, time_budget: int, store_url: str):
            """Search, refit and register a version aliased 'challenger' (modelloop train)."""
            return dsl.ContainerSpec(
                image=IMAGE,
                command=["modelloop"],
                args=["train", dsl.ConcatPlaceholder(["data:", dataset]), "--target", target,
                      "--name", model, "--alias", "challenger", "--time-budget", time_budget,
                      "--store", store_url],
            )


        @dsl.container_component
        def evaluate(model: str, store_url: str, report: dsl.Output[dsl.HTML]):
            """The challenger's evaluation report (modelloop report), kept as an artifact."""
            return dsl.ContainerSpec(
                image=IMAGE,
                command=["modelloop"],
                args=["report", dsl.ConcatPlaceholder([model, "@challenger"]), "-o", report.path,
                      "--store", store_url],
            )


        @dsl.container_component
        def register(model: str, store_url: str):
            """Serve the challenger: it becomes 'production' when the model has none yet (later
            promotions are retrain's, which compares it with the champion first)."""
            return dsl.ContainerSpec(
                image=IMAGE,
                command=["sh", "-c"],
                args=[
                    'modelloop models show "$0@production" --store "$1" >/dev/null 2>&1 && exit 0; '
                    'v=$(modelloop models show "$0@challenger" --json --store "$1" '
                    '| python -c "import json, sys; print(json.load(sys.stdin)[\\'version\\'])") '
                    '&& modelloop models alias "$0" production "$v" --store "$1"',
                    model,
                    store_url,
                ],
            )


        @dsl.container_component
        def monitor(model: str, store_url: str, drift: dsl.Output[dsl.Artifact],
                    alert: dsl.OutputPath(str)):
            """Drift and performance of the served model (modelloop monitor); 'alert' is 1 when
            an alert rule fired, 0 when none did."""
            return dsl.ContainerSpec(
                image=IMAGE,
                command=["sh", "-c"],
                args=[
                    'mkdir -p "$(dirname "$2")" "$(dirname "$3")"; '
                    'modelloop monitor "$0" --store "$1" --json "$2"; code=$?; '
                    '[ "$code" -le 1 ] && echo "$code" > "$3"',
                    model,
                    store_url,
                    drift.path,
                    alert,
                ],
            )


        @dsl.container_component
        def retrain(model: str, store_url: str, time_budget: int):
            """Challenger vs champion on the latest labeled rows; promoted only if better."""
            return dsl.ContainerSpec(
                image=IMAGE,
                command=["modelloop"],
                args=["retrain", model, "--time-budget", time_budget, "--store", store_url],
            )


        @dsl.pipeline(name="modelloop-" + MODEL.lower().replace("_", "-"),
                      description="modelloop: ingest, train, evaluate, register, monitor, retrain.")
        def loop(source: str, store_url: str, dataset: str = MODEL, target: str = TARGET,
                 model: str = MODEL, time_budget: int = 300):
            ingested = ingest(source=source, dataset=dataset, store_url=store_url)
            trained = train(dataset=dataset, target=target, model=model, time_budget=time_budget,
                            store_url=store_url).after(ingested)
            evaluated = evaluate(model=model, store_url=store_url).after(trained)
            registered = register(model=model, store_url=store_url).after(evaluated)
            monitored = monitor(model=model, store_url=store_url).after(registered)
            with dsl.If(monitored.outputs["alert"] == "1", name="alert-fired"):
                retrain(model=model, store_url=store_url, time_budget=time_budget)


        if __name__ == "__main__":
            parser = argparse.ArgumentParser(description="Compile the pipeline to IR YAML.")
            parser.add_argument("--output", default="pipeline.yaml")
            compiler.Compiler().compile(loop, parser.parse_args().output)
        '''
    )


def write_kfp(folder: Path, ctx: Any) -> dict[str, Any]:
    """Write ``pipeline.py``; compile it to ``pipeline.yaml`` when kfp is importable here."""
    source = folder / "pipeline.py"
    source.write_text(pipeline_source(ctx))
    compile(source.read_text(), str(source), "exec")  # a syntax error stops the export here
    notes = []
    try:
        import kfp  # noqa: F401
    except ImportError:
        notes.append("compile it with the kfp SDK: python pipeline.py (writes pipeline.yaml)")
        return {"image": ctx.image, "notes": notes}
    done = subprocess.run(
        [sys.executable, str(source), "--output", str(folder / "pipeline.yaml")],
        capture_output=True,
        text=True,
        cwd=folder,
    )
    if done.returncode != 0:
        from modelloop.exceptions import ExportError

        raise ExportError(f"The kfp SDK could not compile the pipeline: {done.stderr[-500:]}")
    notes.append("compiled with the kfp SDK to pipeline.yaml")
    return {"image": ctx.image, "notes": notes}
