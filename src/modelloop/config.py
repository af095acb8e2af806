"""The one ``Settings`` object of modelloop.

Precedence, highest first: explicit keyword arguments (what the CLI passes for its flags),
environment variables ``MODELLOOP_*``, a TOML config file, then the defaults below. The
config file is ``$MODELLOOP_CONFIG`` if set, else ``modelloop.toml`` in the working
directory if present. Nothing else in modelloop reads ``os.environ``.

Example
-------
>>> from modelloop.config import Settings
>>> s = Settings(home="/tmp/ml-example")
>>> s.resolved_store_url()
'sqlite:////tmp/ml-example/modelloop.db'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["CONTRACTS", "Settings", "config_file_path", "environment"]

CONTRACTS = ("sagemaker", "vertex", "azure")
"""Cloud serving contracts ``modelloop serve`` can answer besides its own routes."""


def environment() -> Mapping[str, str]:
    """The process environment, read-only: the one door through which modelloop reads it.

    Besides ``MODELLOOP_*`` settings, only user-named variables go through here, such as
    the ``${API_TOKEN}`` of an HTTP source's header template.
    """
    return MappingProxyType(dict(os.environ))


def config_file_path() -> Path | None:
    """The TOML config file in force, or ``None`` when there is none."""
    explicit = os.environ.get("MODELLOOP_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("modelloop.toml")
    return local if local.is_file() else None


# Settings only an explicit keyword (a command-line flag) may set: a variable left in the
# environment or a config file in the working directory must not switch the trust check off.
_KEYWORD_ONLY = frozenset({"trust"})


class _Without(PydanticBaseSettingsSource):
    """A settings source with the keyword-only settings left out."""

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self._inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._inner().items() if k not in _KEYWORD_ONLY}


class Settings(BaseSettings):
    """Where modelloop keeps its things and how it behaves by default.

    Hyperparameters are not configuration: they are arguments of ``train``.
    """

    model_config = SettingsConfigDict(
        env_prefix="MODELLOOP_", extra="ignore", populate_by_name=True
    )

    home: Path = Field(
        default=Path(".modelloop"),
        description="Folder of the embedded store: SQLite file and artifacts.",
    )
    store_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default: SQLite file under `home`.",
    )
    artifacts_dir: Path | None = Field(
        default=None, description="Folder for artifact files; default: `home`/artifacts."
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Folder for caches that depend only on content (image embeddings); "
        "default: $XDG_CACHE_HOME/modelloop, else ~/.cache/modelloop.",
    )
    seed: int = Field(default=0, description="Default random seed for splits and models.")
    n_jobs: int = Field(
        default=0, description="Worker threads for model fitting; 0 means all cores."
    )
    debug: bool = Field(default=False, description="Show tracebacks on errors.")
    trust: bool = Field(
        default=False,
        description="Load model files that hold code or types outside modelloop's allow list "
        "(pickles, custom classes, functions). Set only by --trust (a keyword argument): never "
        "read from the environment or a config file.",
    )
    # -- scale-out (issue 7) ---------------------------------------------------------------
    cluster: str | None = Field(
        default=None,
        description="Dask cluster for search trials and batch scoring: 'local', 'local:N' "
        "(N worker processes) or a scheduler address 'tcp://host:8786'; none: this machine.",
    )
    max_search_rows: int | None = Field(
        default=None,
        ge=100,
        description="Search on a stratified sample of at most this many rows (default: a "
        "limit from the time budget and free memory); the refit takes as many as memory allows.",
    )
    load_sample_rows: int | None = Field(
        default=None,
        ge=1,
        description="Load at most this many rows of a table: a longer CSV/Parquet file is "
        "streamed and a seeded uniform reservoir sample kept (stratified by the target). "
        "Default: every row of a file that fits in a quarter of the available memory, else "
        "as many as fit.",
    )
    predictions_retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Logged predictions older than this many days are pruned (none: kept).",
    )
    # -- serving (``modelloop serve``) ----------------------------------------------------
    api_key: str | None = Field(
        default=None,
        description="API key for the server's admin routes (and prediction routes when "
        "`serve_require_key` is set); admin routes are disabled without one.",
    )
    serve_require_key: bool = Field(
        default=False, description="Prediction routes require the API key too."
    )
    serve_log_predictions: bool = Field(
        default=True, description="Write every served prediction to the store's log."
    )
    serve_log_spool: Path | None = Field(
        default=None,
        description="Set by `modelloop serve --workers N` for its workers: they leave "
        "prediction-log batches as files in this directory and the supervising process "
        "writes them to the store. Unset: each server process writes to the store itself.",
    )
    serve_log_sample: float = Field(
        default=1.0, ge=0.0, le=1.0, description="Share of requests written to the log."
    )
    serve_max_rows: int = Field(default=10_000, ge=1, description="Rows per request, at most.")
    serve_max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Request body size in bytes, at most."
    )
    serve_max_image_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Size of one image in a request (decoded), at most: larger gets HTTP 413.",
    )
    serve_max_batch: int = Field(
        default=256, ge=1, description="Rows per micro-batch handed to one predict call."
    )
    serve_batch_wait_ms: float = Field(
        default=2.0, ge=0.0, description="Longest wait to fill a micro-batch under load."
    )
    serve_poll_seconds: float = Field(
        default=2.0, ge=0.0, description="How often the server checks aliases (0: never)."
    )
    serve_default_model: str | None = Field(
        default=None, description="The model `POST /predict` serves (default: see docs/serving.md)."
    )
    serve_model_path: Path | None = Field(
        default=None, description="Serve this model file instead of the store's models."
    )
    serve_schema_file: Path | None = Field(
        default=None, description="JSON input schema for the model file given to serve."
    )
    serve_host: str = Field(
        default="127.0.0.1",
        description="Interface `modelloop serve` listens on (`--host`); the exported container "
        "image sets 0.0.0.0.",
    )
    serve_port: int = Field(
        default=8000, ge=1, le=65535, description="Port `modelloop serve` listens on (`--port`)."
    )
    serve_workers: int = Field(
        default=0,
        ge=0,
        description="Worker processes of `modelloop serve` (`--workers`); 0 (the default): one "
        "per core, each predicting on one thread.",
    )
    serve_contracts: str = Field(
        default="auto",
        description="Cloud serving contracts to answer besides modelloop's own routes: a "
        "comma list of 'sagemaker', 'vertex', 'azure', or 'none'; 'auto' switches each on "
        "when the platform's own environment variable is set (AIP_HTTP_PORT / "
        "AIP_PREDICT_ROUTE, AZUREML_MODEL_DIR, SAGEMAKER_BIND_TO_PORT).",
    )
    # -- set by the cloud platforms themselves (no MODELLOOP_ prefix) ----------------------
    aip_http_port: int | None = Field(
        default=None,
        validation_alias="AIP_HTTP_PORT",
        description="Vertex AI: the port the container must listen on.",
    )
    aip_health_route: str | None = Field(
        default=None,
        validation_alias="AIP_HEALTH_ROUTE",
        description="Vertex AI: the path of the health check.",
    )
    aip_predict_route: str | None = Field(
        default=None,
        validation_alias="AIP_PREDICT_ROUTE",
        description="Vertex AI: the path predictions are posted to.",
    )
    azureml_model_dir: str | None = Field(
        default=None,
        validation_alias="AZUREML_MODEL_DIR",
        description="Azure ML: set in every online deployment (the model's folder).",
    )
    sagemaker_bind_to_port: int | None = Field(
        default=None,
        validation_alias="SAGEMAKER_BIND_TO_PORT",
        description="Amazon SageMaker: the port, in multi-container endpoints and pipelines.",
    )
    # -- monitoring (``modelloop monitor``; alert rules, see docs/monitoring.md) ----------
    monitor_window: str = Field(
        default="10000",
        description="Current window of logged inputs: a row count ('5000') or a time ('7d').",
    )
    monitor_drift_share: float | None = Field(
        default=0.3, ge=0.0, le=1.0, description="Alert when this share of features drifted."
    )
    monitor_domain_auc: float | None = Field(
        default=0.55, ge=0.5, le=1.0, description="Alert at this domain-classifier ROC AUC."
    )
    monitor_metric_drop: float | None = Field(
        default=0.05, ge=0.0, description="Alert at this relative drop vs the training metric."
    )
    monitor_attribution_shift: float | None = Field(
        default=0.15,
        gt=0.0,
        le=1.0,
        description="Alert when the shares of the model's mean |contribution| per input column "
        "move this much (total variation distance) from the reference.",
    )
    monitor_webhook_url: str | None = Field(
        default=None, description="POST a JSON message here when an alert fires."
    )
    monitor_webhook_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for the webhook."
    )

    @field_validator("n_jobs")
    @classmethod
    def _check_n_jobs(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"n_jobs must be >= 0 (0 = all cores). Got {value} instead.")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, _Without(env_settings)]
        path = config_file_path()
        if path is not None:
            sources.append(_Without(TomlConfigSettingsSource(settings_cls, toml_file=path)))
        return tuple(sources)

    def serving_contracts(self) -> frozenset[str]:
        """The cloud contracts ``modelloop serve`` answers (see ``serve_contracts``).

        >>> sorted(Settings(serve_contracts="sagemaker,azure").serving_contracts())
        ['azure', 'sagemaker']
        >>> sorted(Settings(serve_contracts="auto", AIP_PREDICT_ROUTE="/p").serving_contracts())
        ['vertex']
        """
        names = {n.strip().lower() for n in self.serve_contracts.split(",") if n.strip()}
        unknown = names - {"auto", "none", *CONTRACTS}
        if unknown:
            from modelloop.exceptions import ConfigurationError

            raise ConfigurationError(
                f"serve_contracts (MODELLOOP_SERVE_CONTRACTS) takes {', '.join(CONTRACTS)}, 'auto' or 'none'. Got "
                f"{', '.join(sorted(unknown))}."
            )
        found = names & set(CONTRACTS)
        if "auto" in names:
            if self.aip_http_port is not None or self.aip_predict_route:
                found.add("vertex")
            if self.azureml_model_dir:
                found.add("azure")
            if self.sagemaker_bind_to_port is not None:
                found.add("sagemaker")
        return frozenset(found)

    def resolved_port(self) -> int:
        """The port to listen on: the platform's (Vertex AI, SageMaker pipelines), else
        ``serve_port``."""
        for port in (self.aip_http_port, self.sagemaker_bind_to_port):
            if port is not None:
                return int(port)
        return self.serve_port

    def resolved_host(self) -> str:
        """``serve_host``; every interface when a cloud platform runs the server."""
        if self.serve_host == "127.0.0.1" and (
            self.aip_http_port is not None
            or self.azureml_model_dir
            or self.sagemaker_bind_to_port is not None
        ):
            return "0.0.0.0"
        return self.serve_host

    def resolved_workers(self) -> int:
        """``serve_workers``, with 0 resolved to the number of cores."""
        return self.serve_workers or (os.cpu_count() or 1)

    def resolved_store_url(self) -> str:
        """The store URL, defaulting to a SQLite file under ``home``."""
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.home / 'modelloop.db').as_posix()}"

    def resolved_artifacts_dir(self) -> Path:
        """The artifact folder, defaulting to ``home/artifacts``."""
        return self.artifacts_dir if self.artifacts_dir is not None else self.home / "artifacts"

    def resolved_cache_dir(self) -> Path:
        """The cache folder: ``cache_dir``, else ``$XDG_CACHE_HOME/modelloop``, else
        ``~/.cache/modelloop``. Its entries are keyed by content, so homes may share it."""
        if self.cache_dir is not None:
            return self.cache_dir
        xdg = os.environ.get("XDG_CACHE_HOME")
        return (Path(xdg) if xdg else Path.home() / ".cache") / "modelloop"

    def effective_n_jobs(self) -> int:
        """``n_jobs`` with 0 resolved to the number of cores."""
        return self.n_jobs or (os.cpu_count() or 1)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-``None`` values replaced (used for CLI flags)."""
        values = {k: v for k, v in overrides.items() if v is not None}
        return self.model_copy(update=values)
