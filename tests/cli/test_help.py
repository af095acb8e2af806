"""Every help page shows each option's help whole, plain type names, and reflowed text."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer

from modelloop.cli import main
from modelloop.cli._app import app
from modelloop.cli._help import tidy


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(tidy(typer.main.get_command(app)))


def _words(text: str) -> str:
    # the page wraps text inside a box: compare the words only
    text = re.sub(r"[│╭╮╰╯─]", " ", text)
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "modelloop" for p, _ in COMMANDS]
)
def test_help_page_keeps_every_word_of_every_option(
    path: tuple[str, ...], command: Any, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("COLUMNS", "400")
    assert main([*path, "--help"]) == 0
    page = capsys.readouterr().out
    words = _words(page)
    for param in command.params:
        if param.help:
            assert _words(param.help.replace("\\[", "[")) in words, (param.name, param.help)
    assert "<str>" not in page and "<bool>" not in page and "<int>" not in page
    first = (command.help or "").split("\n\n")[0]
    if first:  # the first paragraph is shown on one line, not broken where the source was
        assert _words(first.replace("\\[", "[")) in words


def test_train_help_keeps_its_defaults_and_names_types(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["train", "--help"]) == 0
    page = _words(capsys.readouterr().out)
    assert "Register the model under this name (default: the file's stem)." in page
    assert "Metric selection optimises (default: roc_auc, log_loss or rmse by task)." in page
    assert "--cv INTEGER" in page
    assert "--no-register" in page and "--no-register BOOLEAN" not in page
