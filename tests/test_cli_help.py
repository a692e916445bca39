"""`course <command> --help` shows every option's default, as the README promises."""

from __future__ import annotations

import argparse
import importlib

import pytest

from course import cli


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_option_with_a_default_shows_it_in_the_help(command):
    parser = argparse.ArgumentParser(prog=f"course {command}", formatter_class=cli._HelpFormatter)
    importlib.import_module(cli.COMMANDS[command][0]).add_arguments(parser)
    shown = parser.format_help()
    for action in parser._actions:
        default = action.default
        if not action.option_strings or any(default is none for none in (None, False, argparse.SUPPRESS)):
            continue  # a positional argument, an option without a default, or a flag
        if isinstance(default, (str, list)) and not default:
            continue  # an empty default: nothing to show
        assert action.help, f"{action.option_strings[0]} has a default but no help text, so --help hides it"
        text = cli._HelpFormatter(parser.prog)._get_help_string(action)
        assert "default" in text, f"{action.option_strings[0]}: {text!r} does not say its default"
        assert text.split("default")[0].strip() in " ".join(shown.split())
