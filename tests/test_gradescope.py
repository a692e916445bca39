"""Does the generated Gradescope autograder run on Gradescope's documented harness, grade fairly from a
warm cache, keep its secret from student code and from everything a student sees, and give the
instructor the choices the course promises (exercises, visibility, hidden cases per student)?

The harness is simulated (`Harness`): an /autograder-shaped folder (the scripts read
COURSE_AUTOGRADER_ROOT), the zip's contents in ROOT/source, ROOT/venv/bin/python standing for the venv
setup.sh would build, then setup.sh's own cache step and ROOT/run_autograder run with bash.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
from grading_corpus import REPO, write_notebook

from course.cli import main
from course.grader import gradescope
from course.grader.autograder import Assignment, pins
from course.grader.bench_gradescope import Harness
from course.grader.sandbox.run import ExerciseRun, drop_to
from course.grader.student import StudentGrade
from course.grader.verdict import verdict
from course.grading import EXERCISES
from course.grading.exercise import Outcome
from course.grading.result import CaseResult, CheckResult

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "gradescope_results.schema.json").read_text())
EXERCISE_IDS = ("conv_output_size", "max_pool2d")  # one pure-Python exercise, one with a Numba reference
SECRET = b"5ec2e7" * 10 + b"0b"  # a secret file's content, easy to spot wherever it would leak


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    """An /autograder-shaped root after setup.sh's cache step."""
    assignment = Assignment.choose([], list(EXERCISE_IDS), hidden_visibility="hidden")
    laid_out = Harness.lay_out(tmp_path_factory.mktemp("gradescope") / "autograder", assignment, SECRET)
    done = laid_out.cache_step()
    assert done.returncode == 0, done.stderr
    return laid_out.root


def _submit(root: Path, notebooks: dict[str, Path | str], user: int = 7, **env: str):
    """run_autograder on one submission: (exit status, results.json or None, its stdout and stderr)."""
    return Harness(root).submit(notebooks, user, **env)


def _hunter(root: Path) -> str:
    """A notebook whose conv_output_size cell reads every file it can (the grader's folder, every
    process's command line and environment), and raises with every run of 32+ hex digits it found:
    a secret it could read would be in its feedback."""
    cell = textwrap.dedent(
        f"""
        import glob, os, re
        paths = [{str(root / ".course" / "secret")!r}, {str(root / "source" / "secret")!r}]
        paths += glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ")
        paths += glob.glob({str(root) + "/**"!r}, recursive=True)
        texts, read = [repr(dict(os.environ))], 0
        for path in paths:
            try:
                with open(path, "rb") as f:
                    texts.append(f.read(1 << 20).decode("latin-1"))
                read += 1
            except Exception:
                pass
        found = sorted(set(re.findall("[0-9a-f]{{32,}}", " ".join(texts))))

        def conv_output_size(size, kernel_size, stride=1, padding=0):
            raise RuntimeError(f"HUNTED {{read}} files: {{found}}")
        """
    )
    path = root.parent / "hunter.ipynb"
    write_notebook(path, "import os", {"conv_output_size": cell})
    return path.read_text()


def _student_text(results: dict) -> str:
    return json.dumps(results)


def test_results_json_of_a_complete_submission_is_valid_and_full_marks(harness):
    status, results, _ = _submit(harness, {"02_components.ipynb": REPO / "solutions" / "02_components.ipynb"})
    assert status == 0
    jsonschema.validate(results, SCHEMA)
    possible = sum(EXERCISES[e].points for e in EXERCISE_IDS)
    assert results["score"] == pytest.approx(possible)
    assert sum(t["score"] for t in results["tests"]) == pytest.approx(possible)
    assert results["output"].startswith(
        f"Graded 2 exercises of 02_components: {possible:g}/{possible:g} points."
    )
    assert "sandbox" not in results["output"] and "bubblewrap" not in results["output"]
    names = [t["name"] for t in results["tests"]]
    assert names == [
        "conv_output_size: the output size of a convolution",
        "conv_output_size: the output size of a convolution (hidden cases)",
        "max_pool2d: max pooling",
        "max_pool2d: max pooling (hidden cases)",
    ]
    assert [t["visibility"] for t in results["tests"]] == ["visible", "hidden"] * 2


def test_the_submission_compiles_nothing_the_cache_step_left_in_the_image(harness):
    before = sorted(p.name for p in (harness / "numba-cache").rglob("*") if p.is_file())
    assert any(name.endswith(".nbi") for name in before)  # the cache step compiled the pooling kernel
    _submit(harness, {"02_components.ipynb": REPO / "solutions" / "02_components.ipynb"})
    after = sorted(p.name for p in (harness / "numba-cache").rglob("*") if p.is_file())
    assert after == before


def test_the_benchmarks_native_cache_drops_only_the_generic_cpu_setting(tmp_path):
    """bench-gradescope --cache-cpu native compares against code tuned for the grading machine: the
    scripts are the shipped ones without the line that asks Numba for a generic CPU."""
    assignment = Assignment.choose(["02_components"], [])
    scripts = {}
    for cpu in ("generic", "native"):
        root = Harness.lay_out(tmp_path / cpu, assignment, SECRET, cache_cpu=cpu).root
        scripts[cpu] = [
            (root / name).read_text().splitlines() for name in ("source/setup.sh", "run_autograder")
        ]
    for generic, native in zip(scripts["generic"], scripts["native"], strict=True):
        assert [line for line in generic if line != 'export NUMBA_CPU_NAME="generic"'] == native
        assert len(generic) == len(native) + 1
    with pytest.raises(ValueError, match="cache_cpu"):
        Harness.lay_out(tmp_path / "other", assignment, SECRET, cache_cpu="skylake")


def test_an_untouched_notebook_scores_zero_with_a_valid_results_json(harness):
    status, results, _ = _submit(harness, {"02_components.ipynb": REPO / "notebooks" / "02_components.ipynb"})
    assert status == 0
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 0
    assert all("not attempted" in t["output"] for t in results["tests"])


def test_the_secret_is_nowhere_a_student_or_student_code_can_look(harness):
    assert not (harness / "source" / "secret").exists()
    assert (harness / ".course" / "secret").stat().st_mode & 0o077 == 0
    assert (harness / "source").stat().st_mode & 0o077 == 0
    for name in ("run_autograder", "setup.sh", "assignment.json", "requirements.txt"):
        text = (harness / "source" / name).read_text() if (harness / "source" / name).exists() else ""
        assert SECRET.decode() not in text
    status, results, log = _submit(harness, {"hunter.ipynb": _hunter(harness)})
    assert status == 0
    jsonschema.validate(results, SCHEMA)
    text = _student_text(results)
    assert "HUNTED" in text and " files: [" in text  # the hunting code ran; its findings are in its feedback
    seed = gradescope.hidden_seed(harness, SECRET, "student")  # the last submission's: student 7
    for leaked in (SECRET.decode(), SECRET.decode()[:16], str(seed)):
        assert leaked not in text
        assert leaked not in log


def test_the_hunting_cell_finds_the_secret_when_it_has_the_graders_rights(harness):
    """The attack is real: run in the grader's own process, the same cell reports the secret."""
    cells = [c for c in json.loads(_hunter(harness))["cells"] if c["cell_type"] == "code"]
    namespace: dict = {}
    exec("".join(cells[1]["source"]), namespace)
    with pytest.raises(RuntimeError, match=SECRET.decode()):
        namespace["conv_output_size"](28, 5)


@pytest.mark.skipif(drop_to("fallback") is not None, reason="here `nobody` can run Python: fallback is safe")
def test_without_a_sandbox_and_with_the_graders_rights_the_autograder_refuses_to_grade(harness):
    status, results, log = _submit(harness, {"hunter.ipynb": _hunter(harness)}, COURSE_SANDBOX="fallback")
    assert status == 1 and results is None
    assert "could read the secret" in log and SECRET.decode() not in log


@pytest.mark.skipif(drop_to("fallback") is None, reason="`nobody` cannot run this Python")
def test_without_bubblewrap_student_code_runs_as_nobody_and_cannot_read_the_secret(harness):
    status, results, log = _submit(harness, {"hunter.ipynb": _hunter(harness)}, COURSE_SANDBOX="fallback")
    assert status == 0 and "HUNTED" in _student_text(results)
    assert SECRET.decode() not in _student_text(results) and SECRET.decode() not in log


def test_hidden_cases_differ_per_student_and_stay_the_same_for_one_student(harness):
    """A function that raises with its arguments shows each hidden case's values in its feedback."""
    telling = "def conv_output_size(size, kernel_size, stride=1, padding=0):\n"
    telling += "    raise ValueError(repr((size, kernel_size, stride, padding)))\n"
    path = harness.parent / "telling.ipynb"
    write_notebook(path, "import numpy as np", {"conv_output_size": telling})

    def hidden(user: int) -> list[str]:
        _, results, _ = _submit(harness, {"a.ipynb": path.read_text()}, user=user)
        return [t["output"] for t in results["tests"] if t["name"].endswith("(hidden cases)")]

    first = hidden(7)
    assert "ValueError" in first[0]
    assert hidden(7) == first
    assert hidden(8) != first


def test_hidden_seeds_follow_the_instructors_choice(tmp_path):
    def seed(per: str, user: int, submission: int) -> int:
        metadata = {"id": submission, "users": [{"id": user, "email": "s@uni.edu", "name": "S"}]}
        (tmp_path / "submission_metadata.json").write_text(json.dumps(metadata))
        return gradescope.hidden_seed(tmp_path, SECRET, per)

    assert seed("student", 7, 1) == seed("student", 7, 2) != seed("student", 8, 1)
    assert seed("submission", 7, 1) != seed("submission", 7, 2)
    assert seed("class", 7, 1) == seed("class", 8, 2)
    assert len({seed("student", 7, 1), seed("submission", 7, 1), seed("class", 7, 1)}) == 3


def test_an_assignment_is_the_exercises_of_its_notebooks_or_the_ids_named():
    one = Assignment.choose(["02_components"], [])
    assert one.exercises == tuple(e for e, x in EXERCISES.items() if x.notebook == "02_components")
    assert one.label == "02_components"
    mixed = Assignment.choose(["01_motivation"], ["iou"])
    assert mixed.exercises == (*(e for e, x in EXERCISES.items() if x.notebook == "01_motivation"), "iou")
    assert mixed.label == "01_motivation and 05_applications"
    assert Assignment.choose([], []).exercises == tuple(EXERCISES)
    with pytest.raises(ValueError, match="expected some of 01_motivation.*got '02_comp'"):
        Assignment.choose(["02_comp"], [])
    with pytest.raises(ValueError, match="got 'conv3d'"):
        Assignment.choose([], ["conv3d"])
    with pytest.raises(ValueError, match="visibility must be one of"):
        Assignment.choose([], [], visibility="public")


def test_visible_and_hidden_tests_split_the_exercise_score_by_case_weight():
    cases = [
        CaseResult("a", 1.0, 1.0),
        CaseResult("b", 0.5, 1.0),
        CaseResult("c", 0.0, 2.0, hidden=True),
    ]
    result = CheckResult("conv2d", "convolution", 1.5, 4.0, "partial", cases)
    assignment = Assignment(("conv2d",), "02_components", "after_published", "hidden")
    results = gradescope.results_json(StudentGrade("s", {"conv2d": result}), assignment)
    jsonschema.validate(results, SCHEMA)
    visible, hidden = results["tests"]
    assert (visible["score"], visible["max_score"], visible["visibility"]) == (1.5, 2.0, "after_published")
    assert (hidden["score"], hidden["max_score"], hidden["visibility"]) == (0.0, 2.0, "hidden")
    assert visible["status"] == "failed" and "[hidden]" not in visible["output"]
    assert results["score"] == 1.5 and "seed" not in json.dumps(results)


@pytest.mark.parametrize("points", [1.0, 0.7, 2.0, 3.0])
def test_the_tests_of_a_submission_add_up_to_its_score(points):
    """Gradescope shows `score` beside the tests it sums: each part rounded on its own (1 of 3 visible
    and 1 of 3 hidden cases of a 1-point exercise: 0.1667 + 0.1667) must still add up to the exercise's
    score (0.3333), its points possible too."""
    for earned in range(7):
        cases = [CaseResult(f"c{i}", float(i < earned), 1.0, hidden=i % 2 == 1) for i in range(6)]
        score = _exercise_score(points, earned, 6)
        result = CheckResult("conv2d", "convolution", score, points, "partial", cases)
        assignment = Assignment(("conv2d",), "02_components", "visible", "after_due_date")
        results = gradescope.results_json(StudentGrade("s", {"conv2d": result}), assignment)
        tests = results["tests"]
        assert round(sum(t["score"] for t in tests), 9) == results["score"] == score, (earned, tests)
        assert round(sum(t["max_score"] for t in tests), 9) == points
        assert all(0 <= t["score"] <= t["max_score"] for t in tests)


def _exercise_score(points: float, earned: int, cases: int) -> float:
    """The exercise's score as `course.grading.summarize` computes it."""
    return round(points * earned / cases, 4)


def test_what_the_code_printed_on_hidden_cases_is_not_in_the_visible_test():
    """A function that prints its arguments (on purpose, only those of cases it does not know) would
    show every hidden case's input in the visible test's output, before the hidden tests are visible:
    what the code printed is told with the hidden cases."""
    exercise = EXERCISES["conv_output_size"]
    cases = gradescope.cases_for(exercise, 5)
    hidden = [case for case in cases if case.hidden]
    printed = "".join(f"HIDDEN {case.args}\n" for case in hidden)
    run = ExerciseRun(exercise.id, "exited 0", [Outcome(output=-1) for _ in cases], printed=printed)
    result = verdict(exercise, cases, run, timeout=10.0)
    assert "HIDDEN" in result.message  # what `course grade`'s report shows, after grading
    assignment = Assignment((exercise.id,), "02_components", "visible", "after_due_date")
    results = gradescope.results_json(StudentGrade("s", {exercise.id: result}), assignment)
    jsonschema.validate(results, SCHEMA)
    seen = [t for t in results["tests"] if t["visibility"] == "visible"]
    assert seen and not any("HIDDEN" in t["output"] for t in seen), seen
    assert "HIDDEN" not in results["output"]
    later = [t for t in results["tests"] if t["visibility"] == "after_due_date"]
    assert [printed.splitlines()[0] in t["output"] for t in later] == [True]


def test_make_autograder_states_its_pins_and_the_command_line_tells_the_instructor_what_it_built(
    tmp_path, capsys
):
    parser = argparse.ArgumentParser()
    gradescope.add_arguments(parser)
    argv = [
        "--make-autograder",
        str(tmp_path / "ag"),
        "--notebooks",
        "02_components",
        "--hidden-cases",
        "submission",
    ]
    assert gradescope.run(parser.parse_args(argv)) == 0
    said = capsys.readouterr().out
    components = [e for e, x in EXERCISES.items() if x.notebook == "02_components"]
    assert f"Autograder for 02_components ({len(components)} exercises: {', '.join(components)})" in said
    assert "hidden cases: after_due_date, drawn per submission" in said and "zip -r" in said
    requirements = (tmp_path / "ag" / "requirements.txt").read_text().splitlines()
    assert requirements == [f"{name}=={version}" for name, version in sorted(pins().items())]
    assert oct((tmp_path / "ag" / "secret").stat().st_mode & 0o777) == "0o600"
    assert len(bytes.fromhex((tmp_path / "ag" / "secret").read_text())) == 32  # 256 random bits
    assert (tmp_path / "ag" / "course-src" / "course" / "grader" / "grade.py").is_file()
    setup = (tmp_path / "ag" / "setup.sh").read_text()
    assert "requirements.txt" in setup and "NUMBA_CPU_NAME" in setup and "--prepare" in setup
    assert (
        gradescope.run(parser.parse_args(["--make-autograder", str(tmp_path / "x"), "--notebooks", "6"])) == 2
    )
    assert "--notebooks: expected some of 01_motivation" in capsys.readouterr().err


def test_the_pins_are_this_environments_versions_of_every_run_time_package():
    pinned = pins()
    direct = ("numpy", "numba", "matplotlib", "tqdm", "threadpoolctl", "pillow", "nbformat", "packaging")
    indirect = ("llvmlite", "kiwisolver", "fastjsonschema")  # numba's, matplotlib's, nbformat's
    assert set(direct + indirect) <= set(pinned)
    assert pinned == {name: importlib.metadata.version(name) for name in pinned}
    assert not {"torch", "pytest", "jupyterlab", "course"} & set(pinned)  # extras and the course itself


def test_help_texts_show_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["grade-gradescope", "--help"])
    text = capsys.readouterr().out
    assert "(default: after_due_date)" in text and "(default: student)" in text
    assert "(default: /autograder)" in text and "(default: None)" not in text


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--timeout", "0"], r"--timeout: expected seconds per exercise > 0, got 0"),
        (["--timeout", "-3"], r"--timeout: expected seconds per exercise > 0, got -3"),
        (["--make-autograder", "FILE"], r"--make-autograder \S*notes\.txt: expected a folder, got a file"),
    ],
)
def test_the_autograder_refuses_a_timeout_of_0_or_a_file_as_its_folder(tmp_path, capsys, extra, expected):
    """--timeout 0 was written into assignment.json, so every exercise of every Gradescope submission
    would run out of time; --make-autograder naming a file ended in '[Errno 17] File exists'."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a folder")
    args = [a.replace("FILE", str(notes)) for a in extra]
    folder = [] if "--make-autograder" in args else ["--make-autograder", str(tmp_path / "ag")]
    status = main(["grade-gradescope", *folder, *args])
    err = capsys.readouterr().err.strip()
    assert status == 2 and re.search(expected, err), err
    assert not (tmp_path / "ag").exists() and notes.read_text() == "not a folder"


def test_building_the_autograder_from_a_regular_install_says_it_needs_a_clone(tmp_path, capsys, monkeypatch):
    """From a regular (not editable) install, site-packages holds no pyproject.toml beside `course/`:
    --make-autograder ended in '[Errno 2] No such file or directory: .../pyproject.toml'."""
    from course.grader import autograder

    site = tmp_path / "site-packages"
    (site / "course").mkdir(parents=True)
    monkeypatch.setattr(autograder, "source_root", lambda: site)
    status = main(["grade-gradescope", "--make-autograder", str(tmp_path / "ag"), "--exercises", "iou"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "from a clone of its repository, installed with `pip install -e .`" in err, err
    assert "expected pyproject.toml, README.md beside" in err and not (tmp_path / "ag").exists()
