"""Model names, aliases and references (``'churn'``, ``'churn@production'``, ``'churn:3'``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from modelloop.exceptions import InvalidInputError

__all__ = [
    "ModelRef",
    "check_alias",
    "check_model_name",
    "format_versions",
    "parse_ref",
    "suggest",
]

_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_ALIAS = r"[A-Za-z][A-Za-z0-9_-]{0,127}"
_NAME_RE = re.compile(rf"^{_NAME}$")
_ALIAS_RE = re.compile(rf"^{_ALIAS}$")
_REF_RE = re.compile(rf"^(?P<name>{_NAME})(?:[:/](?P<version>[0-9]+)|@(?P<alias>{_ALIAS}))?$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference: a name and at most one of version and alias."""

    name: str
    version: int | None = None
    alias: str | None = None


def check_model_name(name: object) -> str:
    """Return ``name`` if it is a valid model name, else raise ``InvalidInputError``.

    Examples
    --------
    >>> check_model_name("churn-v2")
    'churn-v2'
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidInputError(
            "A model name must start with a letter or digit and contain only letters, "
            f"digits, '.', '_' and '-' (at most 128 characters). Got {name!r}; "
            "try for example 'churn' or 'churn-v2'."
        )
    return name


def check_alias(alias: object) -> str:
    """Return ``alias`` if it is a valid alias name, else raise ``InvalidInputError``.

    Aliases start with a letter (so ``'3'`` is never mistaken for a version).

    Examples
    --------
    >>> check_alias("production")
    'production'
    """
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise InvalidInputError(
            "An alias must start with a letter and contain only letters, digits, '_' and "
            f"'-' (at most 128 characters). Got {alias!r}; try for example 'production'."
        )
    return alias


def parse_ref(ref: str) -> ModelRef:
    """Parse ``'name'``, ``'name@alias'``, ``'name:3'`` or ``'name/3'``.

    Examples
    --------
    >>> parse_ref("churn@production")
    ModelRef(name='churn', version=None, alias='production')
    >>> parse_ref("churn:3").version
    3
    """
    match = _REF_RE.match(ref.strip()) if isinstance(ref, str) else None
    if match is None:
        raise InvalidInputError(
            f"Model reference {ref!r} is malformed: expected 'name', 'name@alias' or "
            "'name:version', for example 'churn', 'churn@production' or 'churn:3'."
        )
    version = match.group("version")
    return ModelRef(
        name=match.group("name"),
        version=int(version) if version is not None else None,
        alias=match.group("alias"),
    )


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word`` (case-insensitive), if any is close enough."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None


def format_versions(versions: Sequence[int]) -> str:
    """``'1, 2, 3'``; long runs of consecutive numbers collapse to ``'1-40, 42'``."""
    if len(versions) <= 10:
        return ", ".join(str(v) for v in versions)
    parts: list[str] = []
    start = prev = versions[0]
    for v in [*versions[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(parts)
