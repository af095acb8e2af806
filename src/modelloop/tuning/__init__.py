"""Tuning: cross-validation folds and the time-budgeted search over candidate models.

>>> from modelloop.tuning import make_folds, search  # doctest: +SKIP
"""

from modelloop.tuning._cv import FoldResult, cross_validate, make_folds
from modelloop.tuning._search import CandidateResult, SearchEvent, SearchResult, search

__all__ = [
    "CandidateResult",
    "FoldResult",
    "SearchEvent",
    "SearchResult",
    "cross_validate",
    "make_folds",
    "search",
]
