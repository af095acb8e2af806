"""Help pages that say what the code does: whole sentences, plain type names, reflowed text.

Typer renders help with Rich markup, where ``[anything]`` is a style tag that disappears
(option help writes defaults as ``(default: ...)`` for that reason), shows a type tag such
as ``<str>`` or ``<bool>`` beside every option, and keeps a docstring's line breaks inside
its paragraphs. :func:`tidy` fixes the built command tree: docstrings reflowed and
escaped, flags shown without a type, other types named as users know them (``TEXT``,
``INTEGER``, ``FLOAT``, ``PATH``, ``a|b|c``).
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape

__all__ = ["plain_type", "reflow", "tidy"]

_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN"}
_VERBATIM = re.compile(r"^(?:\s*[-*] |\s*\d+[.)] |\s{2,}\S|\x08)", re.M)


def reflow(text: str | None) -> str | None:
    """A docstring with the line breaks inside each paragraph joined, and Rich tags escaped.

    Paragraphs holding a list or indented lines keep their breaks.

    >>> reflow("Train models on DATA\\nand register the best.\\n\\n- one\\n- two [x]")
    'Train models on DATA and register the best.\\n\\n- one\\n- two \\\\[x]'
    """
    if not text:
        return text
    paragraphs = text.strip().split("\n\n")
    out = []
    for paragraph in paragraphs:
        if _VERBATIM.search(paragraph):
            out.append(paragraph)
        else:
            out.append(" ".join(line.strip() for line in paragraph.splitlines()))
    return escape("\n\n".join(out))


def plain_type(label: str | None) -> str | None:
    """``<str>`` -> ``TEXT``, ``<list[int]>`` -> ``INTEGER...``; choices and others as given.

    >>> plain_type("<str>"), plain_type("<list[int]>"), plain_type("<auto|grid>")
    ('TEXT', 'INTEGER...', 'auto|grid')
    """
    if not label:
        return label
    inner = label[1:-1] if label.startswith("<") and label.endswith(">") else label
    many = inner.startswith("list[") and inner.endswith("]")
    if many:
        inner = inner[5:-1]
    inner = _NAMES.get(inner, inner.upper() if inner.isidentifier() else inner)
    return inner + ("..." if many else "")


def _tidy_param(param: Any) -> None:
    display = getattr(param, "display_type_rich", None)
    if display is None or getattr(param, "_tidy", False):  # older Typer: click's metavars
        return
    param._tidy = True
    if getattr(param, "is_bool_flag", False) or getattr(param, "is_flag", False):
        param.display_type_rich = lambda ctx: None
    else:
        param.display_type_rich = lambda ctx, display=display: plain_type(display(ctx))


def tidy(command: Any) -> Any:
    """Tidy the help of ``command`` (a click command or group) and every subcommand."""
    command.help = reflow(command.help)
    for param in getattr(command, "params", ()):
        _tidy_param(param)
    params = getattr(command, "get_params", None)
    if params is not None:  # --help itself is made when the page is drawn

        def get_params(ctx: Any, params: Any = params) -> Any:
            found = params(ctx)
            for param in found:
                _tidy_param(param)
            return found

        command.get_params = get_params
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    return command
