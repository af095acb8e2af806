"""The one error tree of modelloop.

Every error modelloop raises on purpose derives from :class:`ModelloopError`. Leaves also
derive from the matching built-in exception, so ``except ValueError`` keeps working for
callers who do not know modelloop::

    ModelloopError
    ├── InvalidInputError (ValueError)          bad data, bad argument, bad request body
    │   ├── EmptyDataError                      a file or frame with no rows / no columns
    │   ├── UnsupportedSourceError              an extension or source we cannot read
    │   ├── ColumnNotFoundError (KeyError)      a named column (target, id, ...) is absent
    │   ├── SchemaMismatchError                 data does not match a model's input schema
    │   ├── RuleViolationError                  data breaks the user's validation rules
    │   ├── UntrustedModelError                 a model file names code modelloop does not trust
    │   ├── UntrustedCodeError                  a custom metric's module, named without --trust
    │   ├── TargetError                         target all missing, a single class, ...
    │   ├── PayloadTooLargeError                a request body or row count over its limit
    │   ├── RewardConflictError                 a second, different reward for one decision
    │   ├── EventExpiredError                   a reward after its decision's reward wait
    │   ├── ExportError                         a model (or a part of it) a format cannot hold
    │   └── MalformedRequestError               a request body that cannot be parsed at all
    │       └── UnsupportedMediaTypeError       a request body that is not declared as JSON
    ├── ConfigurationError (ValueError)         a setting or option with a bad value
    ├── NotFoundError (LookupError)             something asked for by name is not in the store
    │   ├── ModelNotFoundError                  no such model, version or alias
    │   ├── RunNotFoundError                    no such run
    │   ├── SnapshotNotFoundError               no such data snapshot or version
    │   └── EventNotFoundError                  no logged decision with that event id
    ├── AuthenticationError (PermissionError)   a missing or wrong API key
    ├── StoreError (RuntimeError)               the store cannot do what was asked
    │   ├── ArtifactIntegrityError              an artifact file is missing or was changed
    │   └── ModelUnavailableError               a served model's file could not be loaded
    ├── TrainingError (RuntimeError)            no candidate model could be fitted
    └── ClusterError (ConnectionError)          a Dask scheduler cannot be reached or used

The CLI maps every ``ModelloopError`` to one line on stderr and exit status 2; the server
(in its own issue) maps the same tree to HTTP 4xx in one place.
"""

from __future__ import annotations

__all__ = [
    "ArtifactIntegrityError",
    "AuthenticationError",
    "ClusterError",
    "ColumnNotFoundError",
    "ConfigurationError",
    "EmptyDataError",
    "EventExpiredError",
    "EventNotFoundError",
    "ExportError",
    "InvalidInputError",
    "MalformedRequestError",
    "ModelNotFoundError",
    "ModelUnavailableError",
    "ModelloopError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RewardConflictError",
    "RuleViolationError",
    "RunNotFoundError",
    "SchemaMismatchError",
    "SnapshotNotFoundError",
    "StoreError",
    "TargetError",
    "TrainingError",
    "UnsupportedMediaTypeError",
    "UnsupportedSourceError",
    "UntrustedCodeError",
    "UntrustedModelError",
]


class ModelloopError(Exception):
    """Root of every error modelloop raises on purpose."""


class InvalidInputError(ModelloopError, ValueError):
    """Input data or an argument is not what was expected."""


class EmptyDataError(InvalidInputError):
    """A source yielded no rows or no columns."""


class UnsupportedSourceError(InvalidInputError):
    """A source (file extension, URL scheme, object type) that modelloop cannot read."""


class ColumnNotFoundError(InvalidInputError, KeyError):
    """A column named by the user is not in the data."""

    def __str__(self) -> str:  # KeyError would quote the message; keep it plain
        return str(self.args[0]) if self.args else ""


class SchemaMismatchError(InvalidInputError):
    """Data handed to a model does not match the model's input schema."""


class RuleViolationError(InvalidInputError):
    """Data breaks validation rules; ``report`` holds every violation with example rows."""

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class ExportError(InvalidInputError):
    """A model cannot be exported to a format: a part it cannot hold, or a bad output."""


class UntrustedModelError(InvalidInputError):
    """A model file holds a class, function or method outside modelloop's allow list (or is
    a pickle), and ``--trust`` was not given: loading it could run code."""


class UntrustedCodeError(InvalidInputError):
    """A custom metric names a Python module (``module:function``) and ``--trust`` was not
    given: importing the module runs its code."""


class TargetError(InvalidInputError):
    """The target column cannot be learned from (all missing, one class, ...)."""


class ConfigurationError(ModelloopError, ValueError):
    """A setting or option has a value outside what it accepts."""


class NotFoundError(ModelloopError, LookupError):
    """Something asked for by name does not exist in the store."""


class ModelNotFoundError(NotFoundError):
    """No such registered model, version or alias."""


class RunNotFoundError(NotFoundError):
    """No such training run."""


class SnapshotNotFoundError(NotFoundError):
    """No data snapshot with that name or version."""


class StoreError(ModelloopError, RuntimeError):
    """The store could not carry out an operation."""


class ArtifactIntegrityError(StoreError):
    """An artifact file is missing, or its sha256 differs from the one recorded."""


class ModelUnavailableError(StoreError):
    """A model the server should serve could not be loaded (its file is missing, changed or
    refused by the trust check); the server answers 503 for it and serves the others."""


class TrainingError(ModelloopError, RuntimeError):
    """Training could not produce a model."""


class ClusterError(ModelloopError, ConnectionError):
    """A Dask cluster named with ``--cluster`` cannot be reached, started or used."""


class PayloadTooLargeError(InvalidInputError):
    """A request body, or its number of rows, is over the server's limit."""


class RewardConflictError(InvalidInputError):
    """A reward for a decision that already has a different one (the first reward stands)."""


class EventExpiredError(InvalidInputError):
    """A reward arriving after its decision's reward wait: the decision kept its default."""


class EventNotFoundError(NotFoundError):
    """No logged decision of the model has the event id a reward names."""


class MalformedRequestError(InvalidInputError):
    """A request body that is not JSON, or nested deeper than the server parses (HTTP 400)."""


class UnsupportedMediaTypeError(MalformedRequestError):
    """A request body sent without ``Content-Type: application/json`` (HTTP 415)."""


class AuthenticationError(ModelloopError, PermissionError):
    """A request lacks the API key a route requires, or gives a wrong one.

    ``missing`` tells the server to answer 401 (no key given) rather than 403 (wrong key).
    """

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing
