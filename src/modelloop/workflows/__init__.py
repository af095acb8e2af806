"""Workflows: the verbs users call — train, predict, demo — composed from the packages below.

>>> import modelloop as ml
>>> result = ml.train("titanic.csv", target="Survived")  # doctest: +SKIP
"""

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
from modelloop.workflows._report import REPORT_SECONDS, check_report_path, record_evaluation, report
from modelloop.workflows._retrain import RetrainResult, retrain
from modelloop.workflows._train import TrainResult, train
from modelloop.workflows._train_unsupervised import train_unsupervised
from modelloop.workflows._versions import library_versions
from modelloop.workflows._watch import RetrainPolicy, WatchEvent, policy_due, watch

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
