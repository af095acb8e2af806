"""The store's parts: imported one way, never calling back into the Store facade."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

import modelloop.store as store_pkg
from modelloop.store import Store

_PACKAGE = Path(store_pkg.__file__).parent


def _store_imports(path: Path) -> set[str]:
    """The ``modelloop.store`` modules a file imports, at any level (also TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "modelloop.store":
                found.update(f"modelloop.store.{a.name}" for a in node.names)
            elif node.module.startswith("modelloop.store."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("modelloop.store."))
    return {name for name in found if (_PACKAGE / f"{name.rsplit('.', 1)[1]}.py").is_file()}


def _graph() -> dict[str, set[str]]:
    return {
        f"modelloop.store.{path.stem}": _store_imports(path)
        for path in sorted(_PACKAGE.glob("_*.py"))
        if path.name != "__init__.py"
    }


def test_store_parts_import_each_other_without_circles() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            cycle = " -> ".join((*path[path.index(module) :], module))
            pytest.fail(f"import circle inside modelloop.store: {cycle}")
        if module in done:
            return
        for imported in graph.get(module, ()):
            visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_store_parts_never_import_the_facade() -> None:
    users = [m for m, imports in _graph().items() if "modelloop.store._store" in imports]
    assert users == []


_PUBLIC = sorted(
    name for name, _ in inspect.getmembers(Store, inspect.isfunction) if not name.startswith("_")
)


@pytest.mark.parametrize("name", _PUBLIC)
def test_store_methods_name_what_they_return(name: str) -> None:
    returned = inspect.signature(getattr(Store, name)).return_annotation
    assert returned is not inspect.Signature.empty
    assert str(returned) not in {"Any", "list[Any]"}


@pytest.mark.parametrize(
    "cls",
    [
        store_pkg.ExportRecord,
        store_pkg.FeedbackResult,
        store_pkg.PredictionRecord,
        store_pkg.RewardResult,
        store_pkg.SnapshotRecord,
        store_pkg.TrialRecord,
        store_pkg.RunPage,
        store_pkg.RunSummary,
        store_pkg.ActivityPoint,
    ],
)
def test_every_record_the_store_returns_is_frozen(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
