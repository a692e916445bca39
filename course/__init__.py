"""An open course on convolutional neural networks: fast reference kernels, layers, and an autograder.

Submodules load on first use (`course.functional`, `course.nn`, ...), so `import course` is quick,
compiles nothing and prints nothing.

Layering (imports point one way): _lazy; _args, _jit -> kernels, naive -> functional -> nn, optim, gradcheck
-> training, data, apps; grading (the checks) -> functional; grader (sandbox, `course grade`) -> grading;
cli sits on top of everything.
"""

from __future__ import annotations

from course._lazy import lazy_submodules

__version__ = "0.1.0"

_SUBMODULES = {
    "apps",
    "data",
    "functional",
    "gradcheck",
    "grading",
    "naive",
    "nn",
    "objectives",
    "optim",
    "training",
}

__all__ = sorted(_SUBMODULES) + ["__version__"]

__getattr__ = lazy_submodules(__name__, _SUBMODULES)
