"""Workflows: the verbs users call — train, predict, demo — composed from the packages below.

>>> import modelloop as ml
>>> result = ml.train("titanic.csv", target="Survived")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Each verb is imported from its own module on first use: ``modelloop predict`` does not
# pay for the search, the bandit learners or matplotlib's report figures.
_LAZY = {
    "BanditLog": "modelloop.workflows._bandit_log",
    "BanditTrainResult": "modelloop.workflows._bandit",
    "DEMO_MODEL": "modelloop.workflows._demo",
    "DemoResult": "modelloop.workflows._demo",
    "ExplainOptions": "modelloop.workflows._predict",
    "IngestResult": "modelloop.workflows._ingest",
    "LEARNERS": "modelloop.workflows._bandit",
    "LoadedModel": "modelloop.workflows._predict",
    "MonitorResult": "modelloop.workflows._monitor",
    "PolicyEvaluation": "modelloop.workflows._evaluate_policy",
    "PredictFilesSummary": "modelloop.workflows._predict_distributed",
    "PredictSummary": "modelloop.workflows._predict",
    "REPORT_SECONDS": "modelloop.workflows._run_report",
    "RetrainPolicy": "modelloop.workflows._watch",
    "RetrainResult": "modelloop.workflows._retrain",
    "TrainResult": "modelloop.workflows._train",
    "UnsupervisedTrainResult": "modelloop.workflows._train",
    "WatchEvent": "modelloop.workflows._watch",
    "check_report_path": "modelloop.workflows._run_report",
    "demo_data_path": "modelloop.workflows._demo",
    "evaluate_policy": "modelloop.workflows._evaluate_policy",
    "explain": "modelloop.workflows._predict",
    "export": "modelloop.workflows._export",
    "feedback": "modelloop.workflows._feedback",
    "ingest": "modelloop.workflows._ingest",
    "is_data_ref": "modelloop.workflows._ingest",
    "library_versions": "modelloop.workflows._versions",
    "load_model": "modelloop.workflows._predict",
    "load_policy": "modelloop.workflows._evaluate_policy",
    "load_source": "modelloop.workflows._ingest",
    "monitor": "modelloop.workflows._monitor",
    "policy_due": "modelloop.workflows._watch",
    "policy_evaluation": "modelloop.workflows._bandit",
    "predict": "modelloop.workflows._predict",
    "predict_file": "modelloop.workflows._predict",
    "predict_files": "modelloop.workflows._predict_distributed",
    "quick_reward_q": "modelloop.workflows._bandit",
    "read_bandit_log": "modelloop.workflows._bandit_log",
    "read_data_ref": "modelloop.workflows._ingest",
    "read_feedback": "modelloop.workflows._feedback",
    "record_evaluation": "modelloop.workflows._run_report",
    "report": "modelloop.workflows._run_report",
    "retrain": "modelloop.workflows._retrain",
    "run_demo": "modelloop.workflows._demo",
    "split_folder": "modelloop.workflows._images",
    "train": "modelloop.workflows._train",
    "train_bandit": "modelloop.workflows._bandit",
    "train_unsupervised": "modelloop.workflows._train_unsupervised",
    "watch": "modelloop.workflows._watch",
}

if TYPE_CHECKING:
    from modelloop.workflows._bandit import (
        LEARNERS,
        BanditTrainResult,
        policy_evaluation,
        quick_reward_q,
        train_bandit,
    )
    from modelloop.workflows._bandit_log import BanditLog, read_bandit_log
    from modelloop.workflows._demo import DEMO_MODEL, DemoResult, demo_data_path, run_demo
    from modelloop.workflows._evaluate_policy import PolicyEvaluation, evaluate_policy, load_policy
    from modelloop.workflows._export import export
    from modelloop.workflows._feedback import feedback, read_feedback
    from modelloop.workflows._images import split_folder
    from modelloop.workflows._ingest import (
        IngestResult,
        ingest,
        is_data_ref,
        load_source,
        read_data_ref,
    )
    from modelloop.workflows._monitor import MonitorResult, monitor
    from modelloop.workflows._predict import (
        ExplainOptions,
        LoadedModel,
        PredictSummary,
        explain,
        load_model,
        predict,
        predict_file,
    )
    from modelloop.workflows._predict_distributed import PredictFilesSummary, predict_files
    from modelloop.workflows._retrain import RetrainResult, retrain
    from modelloop.workflows._run_report import (
        REPORT_SECONDS,
        check_report_path,
        record_evaluation,
        report,
    )
    from modelloop.workflows._train import TrainResult, UnsupervisedTrainResult, train
    from modelloop.workflows._train_unsupervised import train_unsupervised
    from modelloop.workflows._versions import library_versions
    from modelloop.workflows._watch import RetrainPolicy, WatchEvent, policy_due, watch


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelloop.workflows' has no attribute '{name}'")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DEMO_MODEL",
    "LEARNERS",
    "REPORT_SECONDS",
    "BanditLog",
    "BanditTrainResult",
    "DemoResult",
    "ExplainOptions",
    "IngestResult",
    "LoadedModel",
    "MonitorResult",
    "PolicyEvaluation",
    "PredictFilesSummary",
    "PredictSummary",
    "RetrainPolicy",
    "RetrainResult",
    "TrainResult",
    "UnsupervisedTrainResult",
    "WatchEvent",
    "check_report_path",
    "demo_data_path",
    "evaluate_policy",
    "explain",
    "export",
    "feedback",
    "ingest",
    "is_data_ref",
    "library_versions",
    "load_model",
    "load_policy",
    "load_source",
    "monitor",
    "policy_due",
    "policy_evaluation",
    "predict",
    "predict_file",
    "predict_files",
    "quick_reward_q",
    "read_bandit_log",
    "read_data_ref",
    "read_feedback",
    "record_evaluation",
    "report",
    "retrain",
    "run_demo",
    "split_folder",
    "train",
    "train_bandit",
    "train_unsupervised",
    "watch",
]
