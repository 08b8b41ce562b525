"""The command line: help written for users, every subcommand present and cheap to list."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from signbench.cli import COMMANDS, main


def test_top_level_help_lists_every_command_without_loading_keras():
    code = ("import sys, signbench.cli as c; c._parser(list(c.COMMANDS)); "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", "listing the commands must not import Keras or TensorFlow"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_user_help(name, capsys):
    mod = importlib.import_module(f"signbench.commands.{COMMANDS[name]}")
    assert mod.HELP and mod.DESCRIPTION and mod.DESCRIPTION != mod.__doc__
    assert not mod.HELP.startswith("``") and "\n" not in mod.HELP
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: signbench {name}") and mod.DESCRIPTION.split()[0] in out


def test_top_level_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "signbench reproduce --quick" in out
    for name in COMMANDS:
        assert f"\n    {name}" in out, name
    assert "leakage" in COMMANDS


def test_reproduce_stage_list_names_the_course_models():
    from signbench.models.course import MODEL_NAMES
    from signbench.reproduce.stages import MODELS, STAGE_NAMES

    assert MODELS == MODEL_NAMES and STAGE_NAMES[-1] == "report"
