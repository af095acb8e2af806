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


def test_several_targets_are_refused_as_multi_label(cli, tmp_path) -> None:
    data = tmp_path / "labels.csv"
    data.write_text("x,a,b\n1,0,1\n2,1,0\n3,0,1\n4,1,1\n5,0,0\n6,1,0\n")
    home = tmp_path / "home"
    r = cli("train", data, "--target", "a,b", "--home", home)
    assert r.code == 2
    assert r.err.startswith("error: Several targets at once ('a', 'b'): multi-label")
    assert "Train one model per target" in r.err and not home.exists()
