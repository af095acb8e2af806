"""``modelloop export``: a registered model for ONNX, MLflow, containers, Kubernetes, Kubeflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelloop.cli._common import DebugOpt, HomeOpt, StoreOpt, make_settings, out, print_json


def export_command(
    ref: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME:VERSION.")],
    format: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="onnx, mlflow, docker, kubernetes or kfp.", show_default=False
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The folder to write (created).")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the output folder if it is not empty.")
    ] = False,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="Container image the docker context builds and the kubernetes / kfp "
            "exports run (default: modelloop-NAME:VERSION).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Export a model version for the tool that will run it.

    onnx: the whole model, preprocessing included, as one ONNX graph (checked against the
    model with onnxruntime). mlflow: an MLflow pyfunc model folder. docker: a container
    build context serving the model with `modelloop serve` (SageMaker, Vertex AI, Azure ML
    and KServe contracts). kubernetes: Deployment, Service, HorizontalPodAutoscaler and a
    KServe InferenceService. kfp: the whole loop as a Kubeflow Pipelines v2 pipeline.
    """
    from modelloop.workflows import export

    settings = make_settings(store, home, debug)
    result = export(ref, format, output, force=force, image=image, settings=settings)
    if as_json:
        print_json(
            {
                "model": result.record.ref,
                "format": result.format,
                "path": str(result.path),
                "sha256": result.sha256,
                "files": result.files,
                "notes": result.notes,
            }
        )
        return
    out.print(
        f"Exported {result.record.ref} as {result.format} to {result.path} "
        f"({len(result.files)} files; manifest sha256 {result.sha256[:16]}…)."
    )
    for note in result.notes:
        out.print(f"  {note}")
