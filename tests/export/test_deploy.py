"""Container, Kubernetes and Kubeflow exports, checked with the tools that consume them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from modelloop.export import export_model

from .conftest import fit_pipeline, register

ROW = {"Pclass": 3, "Sex": "male", "Age": 22.0, "SibSp": 1, "Parch": 0, "Fare": 7.25,
       "Embarked": "S"}  # fmt: skip


@pytest.fixture
def titanic_model(store, titanic) -> Any:
    from sklearn.linear_model import LogisticRegression

    model, schema = fit_pipeline(titanic, "Survived", "binary", LogisticRegression(), "linear")
    register(store, "titanic", model, schema, "binary", titanic)
    return model


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _image_config(dockerfile: str) -> tuple[dict[str, str], list[str]]:
    """The ENV of a Dockerfile and its ENTRYPOINT + CMD, as the image would run them."""
    text = dockerfile.replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', line[4:]):
                env[key] = value.strip('"')
    entry = json.loads(re.search(r"^ENTRYPOINT (.*)$", text, re.M).group(1))
    cmd = json.loads(re.search(r"^CMD (.*)$", text, re.M).group(1))
    return env, entry + cmd


def test_docker_context_lints_clean_and_pins_its_requirements(
    store, titanic_model, tmp_path
) -> None:
    result = export_model(store, "titanic", "docker", tmp_path / "ctx")
    ctx = result.path
    assert {"Dockerfile", "requirements.txt", "MANIFEST.sha256", ".dockerignore"} <= set(
        result.files
    )
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    lint = subprocess.run([hadolint, str(ctx / "Dockerfile")], capture_output=True, text=True)
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout
    text = (ctx / "Dockerfile").read_text()
    assert "USER 10001:10001" in text and "HEALTHCHECK" in text
    lines = [
        ln for ln in (ctx / "requirements.txt").read_text().splitlines() if ln and ln[0] != "#"
    ]
    assert lines[0] == "--find-links wheels"
    assert all(re.fullmatch(r"[a-z0-9._-]+==[\w.+-]+", ln) for ln in lines[1:]), lines
    (wheel,) = (ctx / "wheels").glob("modelloop-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "modelloop/serving/_routes_cloud.py" in names
        meta = zf.read(next(n for n in names if n.endswith("METADATA"))).decode()
        assert "Requires-Dist: scikit-learn" in meta
    for line in (ctx / "MANIFEST.sha256").read_text().splitlines():  # sha256sum -c
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((ctx / name).read_bytes()).hexdigest() == digest


def test_docker_entrypoint_serves_with_each_platforms_environment(
    store, titanic_model, titanic, tmp_path
) -> None:
    """The image's command with the image's environment (its store in place of /srv), plus
    the variables Vertex AI and Azure ML set: one process answers modelloop's routes, the
    Open Inference Protocol, SageMaker, Vertex AI and Azure ML, and its HEALTHCHECK passes."""
    result = export_model(store, "titanic", "docker", tmp_path / "ctx")
    env, command = _image_config((result.path / "Dockerfile").read_text())
    assert command == ["modelloop", "serve"]
    port = _free_port()
    env = {
        **os.environ,
        **{k: v for k, v in env.items() if k.startswith("MODELLOOP_")},
        "MODELLOOP_HOME": str(result.path / "home"),
        "MODELLOOP_SERVE_WORKERS": "1",
        "AIP_HTTP_PORT": str(port),
        "AIP_HEALTH_ROUTE": "/v1/endpoints/1/deployedModels/2",
        "AIP_PREDICT_ROUTE": "/v1/endpoints/1/deployedModels/2:predict",
        "AZUREML_MODEL_DIR": "/var/azureml-app/model",
    }
    proc = subprocess.Popen([sys.executable, "-m", "modelloop", *command[1:]], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(base + "/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.3)
        expected = titanic_model.predict(titanic.drop(columns="Survived").head(1)).tolist()
        v1 = httpx.post(base + "/v1/models/titanic/predict", json={"instances": [ROW]}).json()
        assert v1["version"] == 1 and v1["predictions"] == expected
        sagemaker = httpx.post(base + "/invocations", json={"instances": [ROW]}).json()
        vertex = httpx.post(base + env["AIP_PREDICT_ROUTE"], json={"instances": [ROW]}).json()
        azure = httpx.post(base + "/score", json={"data": [ROW]}).json()
        assert sagemaker["predictions"] == [vertex["predictions"][0]["label"]] == azure == expected
        for path in ("/ping", env["AIP_HEALTH_ROUTE"], "/", "/v2/health/live"):
            assert httpx.get(base + path).status_code == 200, path
        health = re.search(r"^\s*CMD (\[.*\])$", (result.path / "Dockerfile").read_text(), re.M)
        check = json.loads(health.group(1))
        assert check[0] == "python"
        assert subprocess.run([sys.executable, *check[1:]], env=env, timeout=30).returncode == 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert f"0.0.0.0:{port}" in output and "sagemaker, vertex, azure" not in output
    assert "cloud serving contracts: azure, sagemaker, vertex" in output


# -- Kubernetes and KServe -----------------------------------------------------------------


def _kubernetes_definitions() -> tuple[str, Any]:
    """The URI of the Kubernetes OpenAPI definitions kubernetes-validate ships, and a
    registry that resolves references into them."""
    import kubernetes_validate.utils as kv
    from referencing import Registry, Resource

    version = kv.latest_version()
    defs = kv.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json",
                              version)  # fmt: skip
    return defs["$id"], Resource.from_contents(defs) @ Registry()


# KServe's InferenceService (serving.kserve.io/v1beta1) as far as these manifests use it,
# written from KServe's API reference (V1beta1InferenceService, V1beta1PredictorSpec,
# V1beta1ComponentExtensionSpec); its metadata and containers are checked against the real
# Kubernetes ObjectMeta and Container schemas.
KSERVE_INFERENCE_SERVICE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "serving.kserve.io/v1beta1"},
        "kind": {"const": "InferenceService"},
        "metadata": {"$ref": "K8S#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
        "spec": {
            "type": "object",
            "required": ["predictor"],
            "additionalProperties": False,
            "properties": {
                "predictor": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "minReplicas": {"type": "integer", "minimum": 0},
                        "maxReplicas": {"type": "integer", "minimum": 1},
                        "scaleMetric": {"enum": ["cpu", "memory", "concurrency", "rps"]},
                        "scaleTarget": {"type": "integer", "minimum": 1},
                        "containerConcurrency": {"type": "integer", "minimum": 0},
                        "timeout": {"type": "integer", "minimum": 0},
                        "serviceAccountName": {"type": "string"},
                        "containers": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"$ref": "K8S#/$defs/io.k8s.api.core.v1.Container"},
                        },
                    },
                }
            },
        },
    },
}


def test_kubernetes_manifests_validate_against_kubernetes_and_kserve(
    store, titanic_model, tmp_path
) -> None:
    import jsonschema
    import kubernetes_validate

    result = export_model(store, "titanic", "kubernetes", tmp_path / "k8s", image="reg/ml:7")
    docs = {p: yaml.safe_load((result.path / p).read_text()) for p in result.files
            if p.endswith(".yaml") and p != "kustomization.yaml"}  # fmt: skip
    version = kubernetes_validate.utils.latest_version()
    for name in ("deployment.yaml", "service.yaml", "hpa.yaml"):
        kubernetes_validate.validate(docs[name], version, strict=True)
    deployment = docs["deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    assert deployment["image"] == "reg/ml:7"
    assert deployment["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert deployment["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert deployment["resources"]["requests"]["cpu"]
    key = next(e for e in deployment["env"] if e["name"] == "MODELLOOP_API_KEY")
    assert key["valueFrom"]["secretKeyRef"]["name"] == "titanic-api-key"
    uri, registry = _kubernetes_definitions()
    schema = json.loads(json.dumps(KSERVE_INFERENCE_SERVICE).replace('"K8S#', f'"{uri}#'))
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    validator.validate(docs["inferenceservice.yaml"])
    broken = json.loads(json.dumps(docs["inferenceservice.yaml"]))
    broken["spec"]["predictor"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)  # the check can fail: a Container is really checked
    broken = json.loads(json.dumps(docs["deployment.yaml"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_kfp_pipeline_compiles_with_the_kfp_sdk(
    store, titanic_model, tmp_path, deploy_python
) -> None:
    result = export_model(store, "titanic", "kfp", tmp_path / "kfp", image="reg/ml:7")
    out = tmp_path / "pipeline.yaml"
    done = subprocess.run([str(deploy_python), str(result.path / "pipeline.py"), "--output",
                           str(out)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    spec = yaml.safe_load(out.read_text())
    executors = spec["deploymentSpec"]["executors"]
    assert {e["container"]["image"] for e in executors.values()} == {"reg/ml:7"}
    steps = set(spec["root"]["dag"]["tasks"])
    assert {"ingest", "train", "evaluate", "register", "monitor"} <= steps
    commands = " ".join(json.dumps(e["container"]) for e in executors.values())
    for verb in ("ingest", "train", "report", "monitor", "retrain"):
        assert verb in commands
