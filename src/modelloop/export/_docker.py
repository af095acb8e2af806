"""``--format docker``: a container build context whose entrypoint is ``modelloop serve``.

The context holds a ``Dockerfile`` (a slim Python base of the version that trained the
model, a non-root user, a ``HEALTHCHECK`` on the Open Inference Protocol's readiness route),
``requirements.txt`` pinned to the environment that trained the model with modelloop itself
as a wheel in ``wheels/``, and ``home/``: a modelloop store holding just this model version,
under its own name and version number, aliased ``production``, its file checked against its
sha256 on every load (``MANIFEST.sha256`` lists every file of the context).

The image serves with the same code as ``modelloop serve`` everywhere: modelloop's routes,
KServe's Open Inference Protocol (``/v2``), and the cloud contracts switched on by each
platform's variables (SageMaker's routes are always on in the image: SageMaker runs it as
``docker run IMAGE serve`` on port 8080 and sets no variable of its own).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from modelloop.export._environment import python_version
from modelloop.export._mlflow import write_requirements
from modelloop.store import Store

__all__ = ["APP_HOME", "PORT", "UID", "write_docker", "write_model_home"]

PORT = 8080
UID = 10001
APP_HOME = "/srv/modelloop"

# The health check reads the port the server listens on: a platform's, else the image's.
_HEALTH = (
    "import os, urllib.request; "
    "port = os.environ.get('AIP_HTTP_PORT') or os.environ.get('SAGEMAKER_BIND_TO_PORT') "
    "or os.environ.get('MODELLOOP_SERVE_PORT', '8080'); "
    "urllib.request.urlopen(f'http://127.0.0.1:{port}/v2/health/ready', timeout=4)"
)


def write_model_home(home: Path, ctx: Any) -> Any:
    """A store in ``home`` holding this version only, under its own name and number."""
    record = ctx.record
    lineage = {
        **(record.lineage or {}),
        "exported_from": {"model": record.ref, "sha256": record.sha256, "run_id": record.run_id},
    }
    with Store(f"sqlite:///{(home / 'modelloop.db').as_posix()}", home / "artifacts") as store:
        saved = store.register_model(
            record.name,
            ctx.bundle,
            run_id=None,
            schema=record.schema,
            task=record.task,
            metrics=record.metrics,
            description=record.description,
            tags=record.tags,
            lineage=lineage,
            aliases=["production"],
            version=record.version,
        )
    for extra in home.glob("modelloop.db-*"):  # WAL files of a closed database: empty
        extra.unlink()
    return saved


def dockerfile(ctx: Any) -> str:
    """The Dockerfile text of this model's image."""
    py = ctx.trained_with.get("python") or python_version()
    ref, sha = ctx.record.ref, ctx.record.sha256
    env = {
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib",  # the user's home is not writable
        "VIRTUAL_ENV": "/opt/venv",
        "PATH": "/opt/venv/bin:$PATH",
        "MODELLOOP_HOME": f"{APP_HOME}/home",
        "MODELLOOP_SERVE_HOST": "0.0.0.0",
        "MODELLOOP_SERVE_PORT": str(PORT),
        "MODELLOOP_SERVE_WORKERS": "0",
        "MODELLOOP_SERVE_CONTRACTS": "auto,sagemaker",
        "MODELLOOP_SERVE_DEFAULT_MODEL": ctx.record.name,
        "MODELLOOP_SERVE_POLL_SECONDS": "0",
        "MODELLOOP_SERVE_LOG_PREDICTIONS": "0",
    }
    env_lines = " \\\n    ".join(f"{k}={json.dumps(v) if ' ' in v else v}" for k, v in env.items())
    health = json.dumps(["python", "-c", _HEALTH])
    text = textwrap.dedent(
        f"""\
        # syntax=docker/dockerfile:1
        # modelloop model {ref} (model file sha256 {sha}), written by `modelloop export`.
        #   docker build -t {ctx.image} .
        #   docker run --rm -p {PORT}:{PORT} {ctx.image}
        # BASE_IMAGE: any Debian-based image with this Python (the version that trained it).
        ARG BASE_IMAGE=python:{py}-slim
        FROM ${{BASE_IMAGE}}

        LABEL org.opencontainers.image.title="{ctx.image}" \\
              org.opencontainers.image.description="modelloop model {ref}" \\
              io.modelloop.model="{ref}" \\
              io.modelloop.sha256="{sha}"

        # The prediction log is off: a container's disk is not where predictions are kept.
        # Point MODELLOOP_STORE_URL at a shared store and set MODELLOOP_SERVE_LOG_PREDICTIONS=1
        # (after registering the model there) to log and monitor from the image.
        ENV @ENV@

        WORKDIR {APP_HOME}
        COPY requirements.txt ./
        COPY wheels/ ./wheels/
        RUN python -m venv /opt/venv \\
         && pip install --no-cache-dir -r requirements.txt

        RUN useradd --system --uid {UID} --user-group --no-create-home \\
                    --home-dir {APP_HOME} modelloop
        COPY --chown={UID}:{UID} home/ ./home/
        USER {UID}:{UID}

        EXPOSE {PORT}
        HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\
          CMD {health}

        # SageMaker runs the image as `docker run IMAGE serve`: the same command.
        ENTRYPOINT ["modelloop"]
        CMD ["serve"]
        """
    )
    return text.replace("@ENV@", env_lines)


_DOCKERIGNORE = "**/__pycache__\n**/*.pyc\n*.partial\n"


def _readme(ctx: Any) -> str:
    image, name = ctx.image, ctx.record.name
    return textwrap.dedent(
        f"""\
        # {ctx.record.ref}: container image

        Written by `modelloop export --format docker`. Every file's sha256 is in
        `MANIFEST.sha256` (`sha256sum -c MANIFEST.sha256`).

            docker build -t {image} .
            docker run --rm -p {PORT}:{PORT} {image}
            curl -s localhost:{PORT}/v2/health/ready
            curl -s -X POST localhost:{PORT}/v1/models/{name}/predict -H 'Content-Type: application/json' -d @request.json

        The image answers modelloop's routes, the Open Inference Protocol (KServe, `/v2`),
        and each cloud platform's contract when it runs there:

        - Amazon SageMaker: `GET /ping`, `POST /invocations` (CSV or JSON) on port {PORT};
        - Google Vertex AI: `AIP_HTTP_PORT`, `AIP_HEALTH_ROUTE`, `AIP_PREDICT_ROUTE`;
        - Azure ML: `GET /`, `POST /score` (switched on by `AZUREML_MODEL_DIR`).

        It runs as the unprivileged user {UID}; the model's store is `home/` (the version,
        aliased `production`). Workers: one per core (`MODELLOOP_SERVE_WORKERS`).
        """
    )


def write_docker(folder: Path, ctx: Any) -> dict[str, Any]:
    """Write the build context described in the module docstring."""
    write_model_home(folder / "home", ctx)
    write_requirements(folder, ctx.trained_with)
    (folder / "Dockerfile").write_text(dockerfile(ctx))
    (folder / ".dockerignore").write_text(_DOCKERIGNORE)
    (folder / "README.md").write_text(_readme(ctx))
    return {
        "image": ctx.image,
        "port": PORT,
        "notes": [f"build the image: docker build -t {ctx.image} {ctx.destination}"],
    }
