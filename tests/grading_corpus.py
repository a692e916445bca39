"""A class of submissions for testing the grader: honest ones, broken ones and hostile ones.

Honest notebooks come from the course's solution notebooks (solutions/*.ipynb) when they exist, else
from the solution cells below (contract signatures), for the exercises the registry holds. One extra
exercise, `scale_array`, exists only in the tests (registered by a fixture): it returns an array, so
attacks on array comparisons have something to attack, and it sits in the same notebook as
fc_param_count, so an attack on one shows that the other, in the same sandbox, is unharmed. Every
hostile student is an honest notebook with one cell replaced.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import nbformat
import numpy as np

from course.grader.notebook import read_notebook
from course.grading import EXERCISES
from course.grading.compare import compare_array
from course.grading.exercise import Case, Exercise

REPO = Path(__file__).resolve().parents[1]
SETUP = "import numpy as np\nfrom course.grading import check\n%matplotlib inline\n"
# the sleep a hostile submission leaves behind (nothing may be left after a run); unique to this test
# process, since other test runs on the machine may grade the same corpus at the same time
SLEEP_MARK = str(10_000_000 + os.getpid())

# Solution cells written for these tests from the contract signatures (used when solutions/ is absent).
SOLUTIONS = {
    "fc_param_count": """
        def fc_param_count(height, width, channels, hidden_units):
            return height * width * channels * hidden_units
        """,
    "conv_param_count": """
        def conv_param_count(kernel_h, kernel_w, in_channels, out_channels):
            return kernel_h * kernel_w * in_channels * out_channels
        """,
    "conv_output_size": """
        def conv_output_size(size, kernel_size, stride=1, padding=0):
            return (size + 2 * padding - kernel_size) // stride + 1
        """,
    "mse_cost": """
        def mse_cost(a, y):
            return 0.5 * float(np.sum((a - y) ** 2))
        """,
    "gradient_descent_step": """
        def gradient_descent_step(w, grad_w, lr):
            return w - lr * grad_w
        """,
    "dense_backward": """
        def dense_backward(a_prev, w, b, y):
            a = 1.0 / (1.0 + np.exp(-(w @ a_prev + b)))
            delta = (a - y) * a * (1.0 - a)
            return np.outer(delta, a_prev), delta, w.T @ delta
        """,
    "numerical_gradient": """
        def numerical_gradient(f, x, eps=1e-6):
            x = np.array(x, dtype=np.float64)
            grad = np.zeros_like(x)
            for index in np.ndindex(x.shape):
                keep = x[index]
                x[index] = keep + eps
                up = f(x)
                x[index] = keep - eps
                down = f(x)
                x[index] = keep
                grad[index] = (up - down) / (2 * eps)
            return grad
        """,
    "iou": """
        def iou(box_a, box_b):
            w = min(box_a[2], box_b[2]) - max(box_a[0], box_b[0])
            h = min(box_a[3], box_b[3]) - max(box_a[1], box_b[1])
            inter = max(w, 0.0) * max(h, 0.0)
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])
            return float(inter / (area(box_a) + area(box_b) - inter))
        """,
    "receptive_field": """
        def receptive_field(layers):
            side = 1
            for kernel_size, stride in reversed(layers):
                side = (side - 1) * stride + kernel_size
            return side
        """,
}


class ScaleArray(Exercise):
    """scale_array(x, factor) -> x * factor: a test-only exercise with an array output."""

    id = "scale_array"
    notebook = "00_tests"
    title = "scale an array"
    points = 2.0

    def cases(self, rng, hidden):
        shapes = [(3, 4)] if not hidden else [(2, 5), (4, 1, 3)]
        return [Case(f"shape {s}", (rng.standard_normal(s), 2.5), hidden=hidden) for s in shapes]

    def judge(self, case, output):
        x, factor = case.args
        return compare_array(x * factor, output)


SCALE_ARRAY = "def scale_array(x, factor):\n    return x * factor\n"


def honest_notebooks() -> dict[str, tuple[str | None, dict[str, str]]]:
    """file name -> (setup cell, {exercise id: cell}) of a complete submission."""
    notebooks: dict[str, tuple[str | None, dict[str, str]]] = {}
    for path in sorted((REPO / "solutions").glob("*.ipynb")):
        found = read_notebook(path, EXERCISES)
        notebooks[path.name] = (found.setup, dict(found.cells))
    covered = {e for _, cells in notebooks.values() for e in cells}
    extra = {e: textwrap.dedent(s) for e, s in SOLUTIONS.items() if e in EXERCISES and e not in covered}
    for exercise, source in extra.items():  # into a notebook named after the exercise's own
        name = f"{EXERCISES[exercise].notebook}.ipynb"
        notebooks.setdefault(name, (SETUP, {}))[1][exercise] = source
    # scale_array shares a notebook (so a sandbox) with fc_param_count, the exercise most attacks target
    home = next((n for n, (_, cells) in notebooks.items() if "fc_param_count" in cells), "00_tests.ipynb")
    setup, cells = notebooks.get(home, (SETUP, {}))
    notebooks[home] = (setup, {**cells, "scale_array": SCALE_ARRAY})
    return notebooks


def write_notebook(path: Path, setup: str | None, cells: dict[str, str], metadata: bool = True) -> None:
    """A notebook as a student saves it: setup cell, then each exercise cell and its check cell."""
    notebook = nbformat.v4.new_notebook()
    if setup is not None:
        cell = nbformat.v4.new_code_cell(setup)
        if metadata:
            cell.metadata["course"] = {"setup": True}
        notebook.cells.append(cell)
    for exercise, source in cells.items():
        notebook.cells.append(nbformat.v4.new_markdown_cell(f"## {exercise}"))
        cell = nbformat.v4.new_code_cell(source)
        if metadata:
            cell.metadata["course"] = {"exercise": exercise}
        notebook.cells.append(cell)
        notebook.cells.append(nbformat.v4.new_code_cell(f"check({exercise!r}, {exercise})"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def write_student(
    folder: Path, replace: dict[str, str] | None = None, metadata: bool = True, only: str | None = None
) -> None:
    """An honest student's folder, with the cells in `replace` (id -> source) swapped in; with `only`,
    just the notebook that holds that exercise (grading is quicker)."""
    for name, (setup, cells) in honest_notebooks().items():
        if only is not None and only not in cells:
            continue
        cells = {e: (replace or {}).get(e, source) for e, source in cells.items()}
        write_notebook(folder / name, setup, cells, metadata)


def full_marks(only: str | None = None) -> dict[str, float]:
    """What an honest grader gives a complete submission (or `write_student(..., only=)`'s notebook):
    full points where a solution exists."""
    notebooks = honest_notebooks().values()
    solved = {e for _, cells in notebooks if only is None or only in cells for e in cells}
    return {e: (x.points if e in solved else 0.0) for e, x in EXERCISES.items()}


def hostile_cells(out_dir: Path, submissions: Path, sentinel: Path) -> dict[str, tuple[str, str]]:
    """student -> (exercise attacked, the cell that attacks). Each of them earns 0 for that exercise."""
    fc = "fc_param_count"
    right = "h * w * c * u"
    cells = {
        "syntax_error": (fc, "def fc_param_count(h, w, c, u)\n    return h * w * c * u\n"),
        "loop_at_top_level": (
            fc,
            f"def fc_param_count(h, w, c, u):\n    return {right}\n\nwhile True:\n    pass\n",
        ),
        "loop_in_function": (fc, "def fc_param_count(h, w, c, u):\n    while True:\n        pass\n"),
        "ignores_signals": (
            fc,
            "import signal, time\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
            "    signal.signal(s, signal.SIG_IGN)\n"
            "def fc_param_count(h, w, c, u):\n    while True:\n        time.sleep(0.01)\n",
        ),
        "sys_exit": (fc, "import sys\ndef fc_param_count(h, w, c, u):\n    sys.exit(0)\n"),
        "os_exit": (fc, "import os\ndef fc_param_count(h, w, c, u):\n    os._exit(0)\n"),
        "os_exit_at_top_level": (
            fc,
            f"import os\nos._exit(0)\ndef fc_param_count(h, w, c, u):\n    return {right}\n",
        ),
        "keyboard_interrupt": (fc, "def fc_param_count(h, w, c, u):\n    raise KeyboardInterrupt\n"),
        "segfault": (fc, "import ctypes\ndef fc_param_count(h, w, c, u):\n    return ctypes.string_at(0)\n"),
        "runaway_recursion": (fc, "def fc_param_count(h, w, c, u):\n    return fc_param_count(h, w, c, u)\n"),
        "stack_overflow": (
            fc,
            "import sys\nsys.setrecursionlimit(10**8)\n"
            "def fc_param_count(h, w, c, u):\n    return fc_param_count(h, w, c, u) + 1\n",
        ),
        "memory_hog": (
            fc,
            "import numpy as np\ndef fc_param_count(h, w, c, u):\n"
            "    hog = [np.ones(10**8) for _ in range(1000)]\n    return len(hog)\n",
        ),
        "nan_output": (
            "scale_array",
            "import numpy as np\ndef scale_array(x, factor):\n    return x * np.nan\n",
        ),
        "wrong_shape": ("scale_array", "def scale_array(x, factor):\n    return (x * factor).reshape(-1)\n"),
        "patches_numpy": (
            "scale_array",
            "import numpy as np\n"
            "np.allclose = np.array_equal = np.array_equiv = lambda *a, **k: True\n"
            "np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)\n"
            "np.testing.assert_allclose = np.testing.assert_array_equal = lambda *a, **k: None\n"
            "np.isfinite = lambda a, *r, **k: np.ones(np.shape(a), bool)\n"
            "def scale_array(x, factor):\n    return x + 1\n",
        ),
        "lying_subclass": (
            "scale_array",
            "import numpy as np\n"
            "class Liar(np.ndarray):\n"
            "    def __eq__(self, other):\n        return np.ones(self.shape, bool)\n"
            "    def __sub__(self, other):\n        return np.zeros(self.shape)\n"
            "    __rsub__ = __sub__\n"
            "    def __abs__(self):\n        return np.zeros(self.shape)\n"
            "def scale_array(x, factor):\n    return np.zeros_like(x).view(Liar)\n",
        ),
        "calls_reference": (
            fc,
            "import numpy as np\nimport course.functional as F\n"
            "def fc_param_count(h, w, c, u):\n    try:\n"
            "        F.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1)))\n"
            f"    except Exception:\n        pass\n    return {right}\n",
        ),
        # every module the sandbox poisons, called once (any call counts, whatever its arguments)
        **{
            f"calls_{module.rsplit('.', 1)[-1]}": (
                fc,
                f"import {module} as reference\n"
                "def fc_param_count(h, w, c, u):\n    try:\n"
                f"        reference.{function}()\n"
                f"    except Exception:\n        pass\n    return {right}\n",
            )
            for module, function in (("course.naive", "conv2d"), ("course.gradcheck", "gradcheck"))
        },
        "calls_an_exercise_reference": (
            fc,
            "from course.grading import EXERCISES\n"
            "def fc_param_count(h, w, c, u):\n"
            f"    return int(EXERCISES[{fc!r}].reference(h, w, c, u))\n",
        ),
        "reloads_reference": (
            fc,
            "import importlib, sys\n"
            "def fc_param_count(h, w, c, u):\n"
            "    sys.modules.pop('course.functional', None)\n"
            "    F = importlib.import_module('course.functional')\n"
            "    F.conv2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1)))\n"
            f"    return {right}\n",
        ),
        "patches_grader": (
            fc,
            "import course.grading.compare as compare, course.grading.exercise as exercise\n"
            "compare.compare_number = lambda *a, **k: (1.0, '')\n"
            "exercise.Exercise.judge = lambda *a, **k: (1.0, '')\n"
            "exercise.plain = lambda value: value\n"
            "def fc_param_count(h, w, c, u):\n    return -1\n",
        ),
        "vandal": (fc, _vandal(out_dir, submissions, sentinel)),
        "forges_frames": (fc, forging_cell()),
        "hanging_decorator": ("scale_array", hanging_decorator_cell()),
        "prints_and_exits_at_import": (
            fc,
            "import numpy.f2py.__main__\n"  # prints its usage to stdout and raises SystemExit
            "def fc_param_count(h, w, c, u):\n    return -1\n",
        ),
    }
    return cells


def stealing_cells(out_dir: Path, submissions: Path) -> dict[str, str]:
    """student -> an fc_param_count cell that is right only if its attack worked: reaching the
    course's references or a question's answer again, the secret, a classmate's work or the gradebook,
    writing outside its working directory, or signalling a process outside its sandbox. An honest
    sandbox gives each 0."""
    attacks = {
        "reloads_boxes": "m = importlib.reload(sys.modules['course.apps.boxes'])\n"
        "    return m.iou([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0",
        "execs_the_source": "ns = {}\n"
        "    exec(open(os.path.join(HERE, 'apps', 'boxes.py')).read(), ns)\n"
        "    return ns['iou']([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0",
        "loads_the_bytecode": "import importlib.util, glob\n"
        "    for pyc in glob.glob(os.path.join(HERE, 'apps', '__pycache__', 'boxes*')):\n"
        "        spec = importlib.util.spec_from_file_location('stolen', pyc)\n"
        "        m = importlib.util.module_from_spec(spec)\n"
        "        spec.loader.exec_module(m)\n"
        "        return m.iou([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0",
        "finds_originals_with_gc": "import gc\n"
        "    for f in gc.get_objects():\n"
        "        code = getattr(f, '__code__', None)\n"
        "        if code and f.__name__ == 'iou' and code.co_filename.endswith('boxes.py'):\n"
        "            return f([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0",
        "reads_a_question_answer": "import course.grading\n"
        "    answers = [getattr(q, 'answer', None) for q in course.grading.EXERCISES.values()]\n"
        "    return any(isinstance(a, int) and a > 1 for a in answers)",
        "finds_a_question_answer_with_gc": "import gc\n"
        "    answers = [o.answer for o in gc.get_objects() if type(o).__name__ == 'NumberQuestion']\n"
        "    return any(isinstance(a, int) and a > 1 for a in answers)",
        "reads_the_secret": f"return len(open({str(out_dir / '.course-grade-secret')!r}).read()) > 0",
        "reads_a_classmate": f"return len(os.listdir({str(submissions / 'honest')!r})) > 0",
        "reads_the_gradebook": f"return len(os.listdir({str(out_dir)!r})) > 0",
        "reads_root_only_files": "return len(open('/etc/shadow').read()) > 0",  # root:shadow 0640
        "writes_outside": "open(f'/var/tmp/course-grade-{MARK}', 'w').write('x')\n    return True",
        "writes_shared_memory": "open(f'/dev/shm/course-grade-{MARK}', 'w').write('x')\n    return True",
        "signals_the_sandbox": "os.kill(os.getppid(), 0)\n    return True",
        "opens_a_port": "import socket\n"
        "    server = socket.create_server(('127.0.0.1', 0))\n"
        "    socket.create_connection(server.getsockname(), timeout=1)\n    return True",
    }
    template = (
        "import importlib, os, sys, course, course.apps.boxes\n"
        f"HERE, MARK = os.path.dirname(course.__file__), {SLEEP_MARK}\n"
        "def attack():\n    {}\n"
        "def fc_param_count(h, w, c, u):\n"
        "    try:\n        worked = attack()\n    except BaseException:\n        worked = False\n"
        "    return h * w * c * u if worked is True else -1\n"
    )
    return {student: template.format(attack) for student, attack in attacks.items()}


def forging_cell() -> str:
    """An fc_param_count that writes its own frames to every descriptor it finds: a header nested
    200,000 deep and an array of shape [2**64, 0] (0 points; the decoder must not crash)."""
    return textwrap.dedent(
        """
        import os, struct
        def fc_param_count(h, w, c, u):
            deep = b"[" * 200_000 + b"]" * 200_000
            shape = b'{"case": 0, "buffers": [{"dtype": "<f8", "shape": [18446744073709551616, 0]}]}'
            for fd in range(3, 64):
                for head in (deep, shape):
                    try:
                        os.write(fd, struct.pack(">I", len(head)) + head)
                    except OSError:
                        pass
            return -1
        """
    )


def hanging_decorator_cell() -> str:
    """A scale_array cell whose helper's decorators never return: scale_array (whose cell runs in full)
    gets 0, the notebook's other exercises (which run only its inert definitions) are unharmed."""
    return textwrap.dedent(
        """
        import itertools
        @all
        @itertools.repeat
        def helper():
            pass
        def scale_array(x, factor):
            return x * factor
        """
    )


def _vandal(out_dir: Path, submissions: Path, sentinel: Path) -> str:
    forged = '{"score": 99, "tests": [], "extra_data": {"complete": true}}'
    return textwrap.dedent(
        f"""
        import os, shutil
        def fc_param_count(h, w, c, u):
            attempts = [
                lambda: open({str(out_dir / "grades.csv")!r}, "w").write("student,total\\nvandal,99\\n"),
                lambda: open({str(out_dir / "honest.json")!r}, "w").write('{forged}'),
                lambda: open({str(out_dir / "vandal.json")!r}, "w").write('{forged}'),
                lambda: os.remove({str(sentinel)!r}),
                lambda: shutil.rmtree({str(submissions / "honest")!r}),
                lambda: shutil.rmtree({str(out_dir)!r}),
                lambda: open({str(out_dir / "evil.txt")!r}, "w").write("owned"),
            ]
            for attempt in attempts:
                try:
                    attempt()
                except Exception:
                    pass
            return 0
        """
    )


def leaving_processes_cell() -> str:
    """A correct fc_param_count that also starts processes meant to outlive it (full marks: the
    answer is right; the test checks that the processes are gone after the run)."""
    return textwrap.dedent(
        f"""
        import os, subprocess, time
        def fc_param_count(h, w, c, u):
            try:
                child = os.fork()
            except OSError:  # the sandbox's process limit, reached after a few cases: still a right answer
                child = -1
            if child == 0:
                os.setsid()
                if os.fork() == 0:
                    try:
                        os.execvp("sleep", ["sleep", "{SLEEP_MARK}"])
                    finally:
                        time.sleep({SLEEP_MARK})
                os._exit(0)
            try:
                subprocess.Popen(["sleep", "{SLEEP_MARK}"], start_new_session=True)
            except OSError:
                pass
            return h * w * c * u
        """
    )


def printing_cell() -> str:
    """A correct fc_param_count that prints 50 MB, through print and straight to file descriptor 1."""
    return textwrap.dedent(
        """
        import os
        def fc_param_count(h, w, c, u):
            print("x" * 25_000_000)
            os.write(1, b"y" * 25_000_000)
            return h * w * c * u
        """
    )


def broken_files(folder: Path) -> None:
    """A student whose files are an empty notebook, invalid JSON, binary junk and JSON that is no notebook."""
    folder.mkdir(parents=True)
    (folder / "01_motivation.ipynb").write_bytes(b"")
    (folder / "02_components.ipynb").write_text('{"cells": [ oops')
    (folder / "03_structure.ipynb").write_bytes(np.random.default_rng(0).bytes(4096))
    (folder / "04_learning.ipynb").write_text('["not", "a", "notebook"]')


# Tries to raise its exercise's limits, or to leave its groups for any other, in every control-group
# file it can find: its own groups' (from /proc/self/cgroup, without listing anything), the groups as
# bubblewrap binds them (/run/course-cgroup) and the whole cgroup file system. `lift_limits()` gives
# [names of the files it found, paths it wrote].
LIFT_LIMITS = """
def lift_limits():
    import glob, os
    wanted = ("memory.limit_in_bytes", "pids.max", "cgroup.procs", "tasks")
    paths = []
    try:
        for line in open("/proc/self/cgroup"):
            _, controllers, group = line.strip().split(":", 2)
            for controller in set(controllers.split(",")) & {"memory", "pids"}:
                last = group.rstrip("/").rsplit("/", 1)[-1]
                paths += [f"/sys/fs/cgroup/{controller}{group}/{name}" for name in wanted]
                paths += [f"/run/course-cgroup/{controller}/{last}/{name}" for name in wanted]
    except OSError:
        pass
    for root in ("/run/course-cgroup", "/sys/fs/cgroup"):
        paths += glob.glob(root + "/**", recursive=True)
    tried, lifted = set(), []
    for path in dict.fromkeys(paths):
        name = os.path.basename(path)
        if name not in wanted or not os.path.isfile(path):
            continue
        tried.add(name)
        value = "max" if name == "pids.max" else "-1" if "limit" in name else str(os.getpid())
        try:
            with open(path, "w") as f:
                f.write(value)
            lifted.append(path)
        except OSError:
            pass
    return [sorted(tried), lifted]
"""
