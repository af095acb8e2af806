"""MkDocs hooks of the documentation site (mkdocs.yml): checks that `mkdocs build --strict` fails on.

- every public package of modelloop (a folder under src/modelloop with an ``__init__.py``,
  except ``cli``, whose reference is ``modelloop COMMAND --help``) has its API page,
  ``docs/reference/NAME.md`` with ``::: modelloop.NAME``;
- every public function and class (a name in a package's ``__all__``) has a docstring: the
  API pages show only documented objects, so one without a docstring would vanish from
  the reference without a word.

Each problem is logged as a warning, which --strict turns into a failed build.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.modelloop")

ROOT = Path(__file__).resolve().parents[1]
NOT_REFERENCED = {"cli"}


def _packages() -> list[str]:
    src = ROOT / "src" / "modelloop"
    names = [p.parent.name for p in src.glob("*/__init__.py")]
    modules = [p.stem for p in src.glob("*.py") if not p.stem.startswith("_")]
    return sorted(n for n in names + modules if n not in NOT_REFERENCED)


def on_pre_build(config: Any, **kwargs: Any) -> None:
    import griffe

    docs = Path(config["docs_dir"])
    package = griffe.load("modelloop", search_paths=[str(ROOT / "src")], resolve_aliases=True)
    for name in ["", *_packages()]:
        dotted = f"modelloop.{name}" if name else "modelloop"
        page = docs / "reference" / f"{name or 'modelloop'}.md"
        if not page.is_file() or f"::: {dotted}\n" not in page.read_text():
            log.warning(f"The API reference has no page for {dotted}: add {page.relative_to(ROOT)} "
                        f"with '::: {dotted}' and list it in mkdocs.yml's nav.")
        module = package[name] if name else package
        exports = module.exports if module.exports is not None else []
        for export in exports:
            try:
                obj = module[str(export)]
                target = obj.final_target if obj.is_alias else obj
            except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
                log.warning(f"{dotted}.__all__ names {export}, which cannot be found.")
                continue
            if target.kind.value in ("function", "class") and not target.docstring:
                log.warning(f"{dotted}.{export} ({target.filepath.relative_to(ROOT)}:"
                            f"{target.lineno}) has no docstring: the API reference would leave "
                            "it out.")
