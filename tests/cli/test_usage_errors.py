"""Usage errors (from Typer's own click) are one line and exit status 2, not internal errors."""

from __future__ import annotations

from modelloop.cli._app import main


def test_main_extra_argument_is_a_usage_error(capsys):
    assert main(["train", "a.csv", "extra", "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert "unexpected extra argument" in err
    assert "internal error" not in err


def test_main_unknown_command_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "internal error" not in capsys.readouterr().err
