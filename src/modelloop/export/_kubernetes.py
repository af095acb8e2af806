"""``--format kubernetes``: manifests that run the exported image on Kubernetes or KServe.

- ``deployment.yaml``: the image (``--image``, built from ``--format docker``), probes on the
  Open Inference Protocol's health routes (``/v2/health/ready``, ``/v2/health/live``),
  resource requests and limits, one server worker per CPU of the limit, the API key from the
  Secret ``<name>-api-key`` (optional: without it the admin routes stay disabled), an
  unprivileged, read-only-capability security context;
- ``service.yaml``: a ClusterIP Service on port 80;
- ``hpa.yaml``: a HorizontalPodAutoscaler (``autoscaling/v2``) on CPU utilisation;
- ``kustomization.yaml``: the three above (``kubectl apply -k DIR``);
- ``inferenceservice.yaml``: the same container as a KServe ``InferenceService``
  (``serving.kserve.io/v1beta1``), for clusters that run KServe instead.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from modelloop.export._docker import PORT, UID

__all__ = ["manifests", "write_kubernetes"]

CPU_REQUEST, CPU_LIMIT = "500m", "2"
WORKERS = "2"  # one per CPU of the limit


def _labels(ctx: Any) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": ctx.slug,
        "app.kubernetes.io/part-of": "modelloop",
        "app.kubernetes.io/version": str(ctx.record.version),
    }


def _memory(ctx: Any) -> tuple[str, str]:
    """Requests and limit from the model file's size (a loaded model takes a few times it)."""
    mib = max(256, int(ctx.record.size_bytes * 6 / 2**20) + 256)
    return f"{mib}Mi", f"{2 * mib}Mi"


def _container(ctx: Any, name: str) -> dict[str, Any]:
    request, limit = _memory(ctx)
    return {
        "name": name,
        "image": ctx.image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["serve"],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            {"name": "MODELLOOP_SERVE_WORKERS", "value": WORKERS},
            {
                "name": "MODELLOOP_API_KEY",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": f"{ctx.slug}-api-key",
                        "key": "api-key",
                        "optional": True,
                    }
                },
            },
        ],
        "resources": {
            "requests": {"cpu": CPU_REQUEST, "memory": request},
            "limits": {"cpu": CPU_LIMIT, "memory": limit},
        },
        "readinessProbe": {
            "httpGet": {"path": "/v2/health/ready", "port": PORT},
            "initialDelaySeconds": 5,
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/v2/health/live", "port": PORT},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "startupProbe": {
            "httpGet": {"path": "/v2/health/ready", "port": PORT},
            "periodSeconds": 5,
            "failureThreshold": 60,
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def manifests(ctx: Any) -> dict[str, dict[str, Any]]:
    """The manifests by file name (see the module docstring)."""
    labels = _labels(ctx)
    selector = {"app.kubernetes.io/name": ctx.slug}
    annotations = {"modelloop.io/model": ctx.record.ref, "modelloop.io/sha256": ctx.record.sha256}
    meta = {"name": ctx.slug, "labels": labels, "annotations": annotations}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {
                    "containers": [_container(ctx, "model")],
                    "securityContext": {"runAsNonRoot": True, "fsGroup": UID},
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ctx.slug},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }
    inference = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": ctx.slug,
            "labels": labels,
            "annotations": {**annotations, "serving.kserve.io/deploymentMode": "RawDeployment"},
        },
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "maxReplicas": 10,
                "scaleMetric": "cpu",
                "scaleTarget": 70,
                "containers": [_container(ctx, "kserve-container")],
            }
        },
    }
    return {
        "deployment.yaml": deployment,
        "service.yaml": service,
        "hpa.yaml": hpa,
        "inferenceservice.yaml": inference,
    }


def write_kubernetes(folder: Path, ctx: Any) -> dict[str, Any]:
    """Write the manifests, a kustomization of the plain ones, and how to apply them."""
    docs = manifests(ctx)
    for name, doc in docs.items():
        (folder / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    (folder / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": ["deployment.yaml", "service.yaml", "hpa.yaml"],
            },
            sort_keys=False,
        )
    )
    (folder / "README.md").write_text(
        textwrap.dedent(
            f"""\
            # {ctx.record.ref} on Kubernetes

            The image `{ctx.image}` is built from `modelloop export {ctx.record.ref} --format docker`.

                kubectl create secret generic {ctx.slug}-api-key --from-literal=api-key=CHANGE-ME
                kubectl apply -k .                       # Deployment, Service, HorizontalPodAutoscaler
                kubectl apply -f inferenceservice.yaml   # or: KServe (Open Inference Protocol v2)
            """
        )
    )
    return {"image": ctx.image, "resources": sorted(docs)}
