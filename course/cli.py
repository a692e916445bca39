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
            command_parser.description = module.__doc__
            module.add_arguments(command_parser)
    args = parser.parse_args(argv)
    return importlib.import_module(COMMANDS[args.command][0]).run(args)


if __name__ == "__main__":
    sys.exit(main())
