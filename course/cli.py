"""The `course` command: one subcommand per module, each a thin wrapper over a plain Python API."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module holding `add_arguments(parser)` and `run(args) -> int`, one-line help)
COMMANDS = {
    "bench": ("course.bench", "time naive, fast and PyTorch kernels side by side"),
    "bench-train": ("course.bench_train", "train the same LeNet with course and with PyTorch, timed"),
    "release": ("course.release", "regenerate the student notebooks/ from solutions/"),
    "grade": ("course.grader.grade", "grade a class's notebooks in a sandbox: grades.csv and feedback"),
    "grade-gradescope": ("course.grader.gradescope", "grade one submission on Gradescope's autograder"),
    "bench-grade": ("course.grader.bench", "time `course grade` on a class of copies of one submission"),
    "bench-gradescope": ("course.grader.bench_gradescope", "time one Gradescope submission, cold and warm"),
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The module's description as written, and each option's default (when it has one) after its help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            action.default is None
            or action.default is False
            or action.default is argparse.SUPPRESS
            or "default" in text
            or not action.option_strings
        ):
            return text
        default = " ".join(map(str, action.default)) if isinstance(action.default, list) else action.default
        return f"{text} (default: {default})" if default != "" and default != [] else text


def _for_users(doc: str) -> str:
    """A command module's docstring without its notes for developers (paragraphs starting "Layering:")."""
    paragraphs = doc.strip().split("\n\n")
    return "\n\n".join(p for p in paragraphs if not p.startswith("Layering:"))


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. Only the chosen subcommand's module is imported, so `course --help` is quick
    and one command's missing or broken module never takes the others down."""
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((word for word in argv if not word.startswith("-")), None)
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            command_parser.description = _for_users(module.__doc__ or "")
            command_parser.formatter_class = _HelpFormatter
            module.add_arguments(command_parser)
    args = parser.parse_args(argv)
    return importlib.import_module(COMMANDS[args.command][0]).run(args)


if __name__ == "__main__":
    sys.exit(main())
