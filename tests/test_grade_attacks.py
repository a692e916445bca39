"""Attacks on the grader's own code, each small and fast: the secret and the seeds, the gradebook's
files, reading submissions from disk, decoding what comes back, and judging it. The whole class graded
under attack, in both sandbox modes, is in test_grade.py."""

from __future__ import annotations

import argparse
import ast
import csv
import io
import json
import os
import struct
import time

import nbformat
import numpy as np
import pytest
from grading_corpus import write_notebook, write_student

from course.grader import class_run, collect, grade, notebook, secret
from course.grader.attempts import candidates
from course.grader.export import final_grades, gradebook_csv
from course.grader.gradebook import loose_files
from course.grader.notebook import MAX_CELLS, MAX_CODE_BYTES, UnreadableNotebook, parse_notebook
from course.grader.results import finished, result_name, signed_json
from course.grader.sandbox.run import ExerciseRun, Limits, SandboxPool, _exercise_run, _job
from course.grader.sandbox.wire import decode_frames, decode_outcome, encode_frame
from course.grader.student import StudentGrade, grade_student, read_student
from course.grader.summary import summarize_class
from course.grader.verdict import verdict
from course.grading import EXERCISES, cases_for, not_attempted
from course.grading.compare import compare_number
from course.grading.exercise import Case, Exercise, Outcome
from course.grading.result import CheckResult

LIMITS = Limits(timeout=3.0, memory=512 * 2**20)
FC = "fc_param_count"


# --- the secret ---------------------------------------------------------------------------------------


def test_a_new_secret_carries_256_bits_and_a_short_one_is_refused(tmp_path):
    assert len(bytes.fromhex(secret.new_secret().decode())) == 32
    assert secret.new_secret() != secret.new_secret()
    (tmp_path / "short").write_text("2026\n")
    with pytest.raises(secret.BadSecret, match="at least 16"):
        secret.read_secret(tmp_path / "short")
    (tmp_path / "good").write_text(secret.new_secret().decode() + "\n")
    assert secret.read_secret(tmp_path / "good") == (tmp_path / "good").read_bytes().strip()


def test_hidden_cases_differ_per_student_per_secret_and_per_submission():
    key, other = b"k" * 32, b"o" * 32
    seeds = {
        secret.student_seed(key, "ann"),
        secret.student_seed(key, "ben"),
        secret.student_seed(other, "ann"),
        secret.student_seed(key, "ann", submission="2"),
    }
    assert len(seeds) == 4 and secret.student_seed(key, "ann") == secret.student_seed(key, "ann")
    exercise = EXERCISES["conv2d"]
    hidden = [
        [c.args for c in cases_for(exercise, s) if c.hidden] for s in sorted(seeds)[:2]
    ]  # the checks take the 256-bit seed as it is
    assert hidden[0] and repr(hidden[0]) != repr(hidden[1])


def test_the_secret_is_on_no_command_line_and_in_no_file_but_the_private_one(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / "ann").mkdir(parents=True)
    class_run.grade_class(subs, out, workers=1, limits=LIMITS, progress=False)
    kept = (out / ".course-grade-secret").read_bytes()
    assert len(kept) == 64 and os.stat(out / ".course-grade-secret").st_mode & 0o777 == 0o600
    assert os.stat(out).st_mode & 0o777 == 0o700
    for path in out.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path  # nothing in OUT is readable by others
        if path.name != ".course-grade-secret":
            assert kept not in path.read_bytes(), path
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    assert not any("seed" in a.dest for a in parser._actions)  # no option puts it on a command line


def test_a_changed_secret_on_an_existing_gradebook_is_refused(tmp_path, capsys):
    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / "ann").mkdir(parents=True)
    class_run.grade_class(subs, out, workers=1, secret=b"a" * 16, limits=LIMITS, progress=False)
    with pytest.raises(class_run.SecretMismatch, match="another secret"):
        class_run.grade_class(subs, out, workers=1, secret=b"b" * 16, limits=LIMITS, progress=False)
    with pytest.raises(class_run.SecretMismatch, match="--secret-file"):
        class_run.grade_class(subs, out, workers=1, limits=LIMITS, progress=False)  # the file was not kept
    (tmp_path / "b").write_bytes(b"b" * 16)
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    args = parser.parse_args([str(subs), "--out", str(out), "--secret-file", str(tmp_path / "b")])
    assert grade.run(args) == 2 and "another secret" in capsys.readouterr().err  # errors go to stderr


def test_the_resume_regrades_a_results_file_it_did_not_sign(tmp_path, monkeypatch):
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("ann", "ben", "cy"):
        write_student(subs / student, {FC: "def fc_param_count(h, w, c, u):\n    return 0\n"}, only=FC)
    key = b"s" * 32
    class_run.grade_class(subs, out, workers=2, secret=key, limits=LIMITS, progress=False)
    forged = json.loads((out / "ann.json").read_text())
    forged["score"] = 99  # edited after signing
    (out / "ann.json").write_text(json.dumps(forged))
    other = StudentGrade("ben", {}, [])
    resigned = json.loads(signed_json(other, b"x" * 32))  # signed with another secret
    (out / "ben.json").write_text(json.dumps(resigned))
    graded = []
    real = class_run.grade_student
    spy = lambda files, *a: graded.append(files.student) or real(files, *a)  # noqa: E731
    monkeypatch.setattr(class_run, "grade_student", spy)
    grades = class_run.grade_class(subs, out, workers=2, secret=key, limits=LIMITS, progress=False)
    assert sorted(graded) == ["ann", "ben"]
    assert [g.results[FC].score for g in grades] == [0.0, 0.0, 0.0]


def test_a_resumed_grade_keeps_its_notes_as_they_were_written(tmp_path):
    """A note may hold a line break: nbformat's errors span lines, and a file's name may hold a newline
    or a Unicode line separator. A resumed run read the notes back from results.json's `output`, one
    per line, and its summary and reports then differed from the first run's."""
    notes = ["sandbox: bubblewrap", "odd\nname.ipynb: not a notebook", "x\u2028y.ipynb: unreadable", ""]
    results = {e: not_attempted(x, "not attempted") for e, x in EXERCISES.items()}
    path = tmp_path / "ann.json"
    path.write_text(signed_json(StudentGrade("ann", results, notes), b"s" * 32))
    points = {e: r.max_score for e, r in results.items()}
    resumed = finished(path, "ann", b"s" * 32, points)
    assert resumed is not None and resumed.notes == notes


# --- the gradebook's files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x","y")', "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_looking_student_ids_are_escaped_in_the_csv(name):
    results = {e: CheckResult(e, x.title, 0.0, x.points, "failed") for e, x in EXERCISES.items()}
    rows = list(
        csv.reader(
            io.StringIO(
                gradebook_csv(final_grades([StudentGrade(name, results, [])], []), EXERCISES),
                newline="",
            )
        )
    )
    assert rows[1][0] == "'" + name
    plain = list(
        csv.reader(
            io.StringIO(gradebook_csv(final_grades([StudentGrade("ann", results, [])], []), EXERCISES))
        )
    )
    assert plain[1][0] == "ann"


def test_student_ids_of_any_length_get_a_row_and_their_own_file(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    names = ["a" * 245, "b" * 255, "c" * 253 + "é"]
    for name in names:
        (subs / name).mkdir(parents=True)
    grades = class_run.grade_class(subs, out, workers=1, limits=LIMITS, progress=False)
    assert [g.student for g in grades] == sorted(names)
    with open(out / "grades.csv") as f:
        assert [row["student"] for row in csv.DictReader(f)] == sorted(names)
    files = {result_name(n) for n in names}
    assert len(files) == 3 and all((out / f).is_file() for f in files)


def test_an_id_named_like_a_shortened_one_gets_a_file_of_its_own(tmp_path):
    """An id too long for a file name is shortened to its start and a hash: another student folder
    named exactly that shortened form wrote the same <student>.json and report, and the one graded
    last replaced the other's (and a resumed run regraded the other)."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    long = "a" * 250
    names = [long, result_name(long).removesuffix(".json"), "b-0123456789abcdef"]
    for name in names:
        (subs / name).mkdir(parents=True)
    grades = class_run.grade_class(subs, out, workers=1, limits=LIMITS, progress=False)
    assert len(grades) == 3
    files = {result_name(n) for n in names}
    assert len(files) == 3 and all((out / f).is_file() for f in files)
    owners = {json.loads((out / f).read_text())["extra_data"]["student"] for f in files}
    assert owners == set(names)


def test_the_command_writes_a_report_for_an_id_too_long_for_a_file_name(tmp_path, capsys):
    """`course grade` itself, not only grade_class: the reports, canvas.csv and summary come after the
    grading, and a 255-byte id + ".html" is too long for a file name."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / ("b" * 255)).mkdir(parents=True)
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    assert grade.run(parser.parse_args([str(subs), "--out", str(out), "--workers", "1"])) == 0
    (report,) = (out / "reports").iterdir()
    assert report.suffix == ".html" and "b" * 255 in report.read_text()
    assert all(
        oct(f.stat().st_mode & 0o777) == "0o600" for f in (report, out / "canvas.csv", out / "summary.txt")
    )


def test_names_from_a_submission_cannot_write_escapes_or_lines_into_the_summary(tmp_path):
    """A file name, a student id and a loose file are printed in the summary on the instructor's
    terminal: escape sequences (a window title, a cleared line, OSC 52 writes the clipboard), a forged
    "Overrides applied" line, or a byte that is not UTF-8 (print raised UnicodeEncodeError under a
    UTF-8 locale such as en_US.UTF-8: the command ended with a traceback) are shown escaped."""
    forged = "\n\nOverrides applied (1):\n  ann: conv2d 0 -> 4 (regrade)\n"
    subs = tmp_path / "subs"
    student = subs / "ann\x1b[31m"
    student.mkdir(parents=True)
    (student / f"x\x1b]52;c;ZWNobyBvd25lZA==\x07\r\u202e{forged}.ipynb").write_text("junk")
    (student / os.fsdecode(b"bad\xff.ipynb")).write_text("junk")
    (subs / "loose\x1b[8m.txt").write_text("x")
    files = read_student(collect.students(subs)[0])
    results = {e: CheckResult(e, x.title, 0.0, x.points, "failed") for e, x in EXERCISES.items()}
    grades = [StudentGrade(files.student, results, list(files.notes))]
    text = summarize_class(final_grades(grades, []), grades, [], loose_files(subs)).text()
    text.encode("utf-8")  # strict, as print() encodes outside the C locale
    assert not any(c in text for c in "\x1b\x07\r\u202e") and "\nOverrides applied" not in text
    assert "ann\\x1b[31m: x\\x1b]52;c;" in text and "bad\\xff.ipynb" in text and "loose\\x1b[8m.txt" in text


def test_a_file_named_like_the_sandbox_note_keeps_its_notes_in_the_summary_and_report(tmp_path):
    """The gradebook leaves out the grader's own note on the sandbox ("sandbox: ..."); a note on a
    student's file starts with the file's name, which the student chose: "sandbox: 01.ipynb" hid every
    note on that notebook (its lost metadata, its helpers, that it is not a notebook) from the summary
    and the report."""
    write_student(tmp_path / "eve", only=FC, metadata=False)
    (notebook,) = (tmp_path / "eve").iterdir()
    notebook.rename(tmp_path / "eve" / "sandbox: 01.ipynb")
    (tmp_path / "eve" / "sandbox: notes.txt").write_text("not a notebook")
    with SandboxPool() as pool:
        grade = grade_student(tmp_path / "eve", None, LIMITS, pool=pool, exercises=[FC])
    (final,) = final_grades([grade], [])
    assert not any(n.startswith("sandbox: bubblewrap") or "process limits" in n for n in final.notes)
    assert any(n.startswith("sandbox: 01.ipynb: the cell of fc_param_count had lost") for n in final.notes)
    assert any(n.startswith("sandbox: notes.txt: not a notebook") for n in final.notes)


# --- reading submissions ----------------------------------------------------------------------------------


def test_a_folder_1100_levels_deep_is_read_without_recursion(tmp_path):
    student = tmp_path / "deep"
    write_student(student, only=FC)
    path = student
    for _ in range(1100):
        path = path / "d"
        os.mkdir(path)  # relative to each level: the full path is longer than PATH_MAX allows
    files = read_student(student)
    assert len(files.notebooks) == 1 and any("folders deep" in n for n in files.notes)
    for _ in range(1100):  # remove it as deeply as it was made (pytest's cleanup would recurse)
        os.rmdir(path)
        path = path.parent


def test_links_are_not_followed(tmp_path):
    subs = tmp_path / "subs"
    write_student(subs / "honest", only=FC)
    notebook = next((subs / "honest").iterdir())
    (subs / "linked_folder").symlink_to(subs / "honest")
    (subs / "linked_files").mkdir()
    (subs / "linked_files" / notebook.name).symlink_to(notebook)
    (subs / "linked_files" / "inner").symlink_to(subs / "honest")
    found = {s.name: s for s in collect.students(subs)}
    assert found["linked_folder"].refused == "this folder is a symbolic link: not graded"
    files = read_student(found["linked_files"])
    assert files.notebooks == ()
    assert sum("symbolic link: not read" in n for n in files.notes) == 2
    assert read_student(found["linked_folder"]).notes == ("this folder is a symbolic link: not graded",)


def test_hidden_files_and_folders_are_ignored_without_a_note(tmp_path):
    """README: "Hidden files and folders (`.ipynb_checkpoints/`) are ignored": a stale checkpoint is not
    one more attempt, a `.git` folder beside the students is no student, a `.DS_Store` no loose file."""
    subs = tmp_path / "subs"
    write_student(subs / "ann", only=FC)
    (name,) = [p.name for p in (subs / "ann").iterdir()]
    stale = (subs / "ann" / name).read_bytes().replace(b"return", b"return -1 +")
    for hidden in (".ipynb_checkpoints/" + name.replace(".ipynb", "-checkpoint.ipynb"), ".hidden.ipynb"):
        (subs / "ann" / hidden).parent.mkdir(exist_ok=True)
        (subs / "ann" / hidden).write_bytes(stale)
    (subs / "ann" / "part" / ".old").mkdir(parents=True)  # a hidden folder deeper down
    (subs / "ann" / "part" / ".old" / name).write_bytes(stale)
    (subs / ".git" / "objects").mkdir(parents=True)
    (subs / ".git" / name).write_bytes(stale)
    (subs / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    found = collect.students(subs)
    assert [s.name for s in found] == ["ann"]
    files = read_student(found[0])
    assert [n.path for n in files.notebooks] == [name] and files.notes == ()
    assert loose_files(subs) == []


def test_file_count_and_size_limits_hold_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setattr(collect, "MAX_FILES", 3)
    monkeypatch.setattr(collect, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(collect, "MAX_STUDENT_BYTES", 1500)
    for index in range(5):
        (tmp_path / f"{index}.txt").write_bytes(b"x" * (600 if index < 4 else 1001))
    files, notes = collect.read_files(tmp_path)
    assert [name for name, _ in files] == ["0.txt", "1.txt"]
    assert any("add up to more than 1500" in n for n in notes)
    assert any("4.txt: 1001 bytes" in n for n in notes)


def test_a_notebook_of_150000_newlines_is_read_in_linear_time():
    cell = nbformat.v4.new_code_cell("\n" * 150_000 + "%matplotlib inline\n" + " \n" * 50_000)
    notebook = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_code_cell("import numpy")])
    data = nbformat.writes(notebook).encode()
    started = time.process_time()
    found = parse_notebook(data, list(EXERCISES))
    assert time.process_time() - started < 2.0  # quadratic patterns took minutes on this cell
    assert found.setup == "import numpy"


def test_a_notebook_with_too_many_cells_is_refused_with_a_reason():
    cells = [{"cell_type": "code", "metadata": {}, "source": "x = 1"}] * (MAX_CELLS + 1)
    with pytest.raises(UnreadableNotebook, match=f"more than {MAX_CELLS}"):
        parse_notebook(json.dumps({"cells": cells}).encode(), list(EXERCISES))


def test_a_question_answered_differently_in_several_notebooks_is_graded_once(tmp_path):
    """Each option of a 3-option question in a notebook of its own: were each graded and the best kept
    (as for code exercises), guessing every option would be sure to earn the point."""
    question = "q_dense_layer_after_a_shift"
    options = EXERCISES[question].options
    assert len(options) == 3
    for index, option in enumerate(options):
        cell = f"def {question}():\n    return {option!r}\n"
        write_notebook(tmp_path / "eve" / f"01_motivation_{index}.ipynb", None, {question: cell})
    with SandboxPool() as pool:
        grade = grade_student(tmp_path / "eve", None, LIMITS, pool=pool, exercises=[question])
    first = options[0]  # the first notebook by name: not the right answer
    assert first != EXERCISES[question].answer
    assert grade.results[question].score == 0.0 and repr(first) in str(grade.results[question])
    assert any(f"{question}: graded from 01_motivation_0.ipynb" in n for n in grade.notes)


def test_an_old_notebook_with_too_many_cells_is_refused_before_it_is_upgraded(monkeypatch):
    """nbformat 3 keeps its cells in worksheets; upgrading one of 220,000 cells (18 MB) took 34 s and
    550 MB in the grader's own process, before the cell limit was checked."""
    cell = {"cell_type": "code", "input": "x = 1", "metadata": {}, "outputs": [], "language": "python"}
    sheets = [{"cells": [cell] * (MAX_CELLS // 2 + 1), "metadata": {}}] * 2
    data = json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": sheets}).encode()
    monkeypatch.setattr(notebook, "upgrade", lambda nb: pytest.fail("nbformat upgraded it"))
    with pytest.raises(UnreadableNotebook, match=f"{MAX_CELLS + 4} cells, more than {MAX_CELLS}"):
        parse_notebook(data, list(EXERCISES))


def test_an_old_notebook_is_upgraded_without_what_the_grader_does_not_read(monkeypatch):
    """nbformat validates and converts every node of an nbformat 3 notebook it upgrades: 19 MB of
    metadata (5 million empty objects) took 27 s and 2.7 GB of the grader's own process (nbformat 4:
    0.7 s), 20 MB of outputs 30 s; a student has 40 MB, and the class is read before any grading."""
    output = {"output_type": "stream", "stream": "stdout", "text": ["x"]}
    cell = {"cell_type": "code", "input": ["x = 1"], "language": "python", "outputs": [output] * 30_000}
    cell["metadata"] = {"course": {"setup": True, "bulk": [{}] * 500_000}, "bulk": [{}] * 500_000}
    sheet = {"cells": [cell], "metadata": {"bulk": [{}] * 500_000}}
    data = json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [sheet]}).encode()
    given = []
    real_from_dict = nbformat.from_dict
    monkeypatch.setattr(nbformat, "from_dict", lambda d: given.append(d) or real_from_dict(d))
    found = parse_notebook(data, list(EXERCISES))
    assert found.setup == "x = 1"
    (upgraded,) = given
    assert len(json.dumps(upgraded)) < 500, upgraded  # the cell's type, text and marks: no bulk


def test_a_students_code_is_bounded_across_all_their_notebooks(tmp_path):
    """40 notebooks of 1 MB of code each (the per-notebook limit): the grader parses each notebook's
    cells in its own process before any grading (1 MB of `x` lines took 5 s per ast.parse, and a cell
    is parsed several times), about ten minutes for one student; the student's code counts as a whole."""
    cell = "s = '" + "x" * (MAX_CODE_BYTES // 2) + "'\n"  # large but quick to parse: the test stays fast
    for index in range(4):
        write_notebook(tmp_path / "mal" / f"{index}.ipynb", cell, {})
    files = read_student(tmp_path / "mal")
    assert len(files.notebooks) == 1
    left = notebook.MAX_STUDENT_CODE_BYTES - len(cell)
    assert sum(f"more than the {left} characters of code left" in n for n in files.notes) == 3


def test_one_cell_defining_every_exercise_is_parsed_once_not_once_per_exercise(tmp_path, monkeypatch):
    """A cell without metadata is graded for every exercise whose `def <id>(` it holds: one cell of
    1 MB that defines all of them was parsed by the grader's own process for each exercise it stood
    for, several times (is it attempted, which helpers, which imports, again after each restart):
    about 300 parses of 4 s each, twenty minutes for one student before and while any grading."""
    cell = "import numpy\n" + "".join(f"def {e}(*args):\n    return 0\n" for e in EXERCISES)
    write_notebook(tmp_path / "mal" / "all.ipynb", None, {"q_x": cell}, metadata=False)
    parses = []
    real_parse = ast.parse
    monkeypatch.setattr(
        ast, "parse", lambda source, *a, **k: parses.append(source) or real_parse(source, *a, **k)
    )
    files = read_student(tmp_path / "mal")
    (found,) = files.notebooks
    assert set(found.cells) == set(EXERCISES)
    notebook_of = {e: x.notebook for e, x in EXERCISES.items()}
    options = candidates([(found.path, found.cells)], notebook_of)
    assert all(o == [0] for o in options.values())
    plan = {e: (0, []) for e in EXERCISES}
    for _restart in range(3):  # the sandbox ended under an exercise: the job is sent again
        _job([(found.setup, found.cells)], plan, LIMITS, None)
    assert parses.count(cell) <= 4  # once for each thing the grader learns from it


def test_a_cell_too_deeply_nested_to_parse_costs_its_own_exercise_only(tmp_path):
    """A sum of 5,000 terms is nested too deeply for Python's parser (RecursionError, not a
    SyntaxError): it cost the student every exercise (the grader failed listing the imports of the
    job) and, once past that, every other exercise of its notebook (each reads the other cells for
    their definitions)."""
    deep = "def conv_param_count(*args):\n    return " + "+".join(["1"] * 5000) + "\n"
    write_student(tmp_path / "ann", {"conv_param_count": deep}, only=FC)
    with SandboxPool() as pool:
        grade = grade_student(tmp_path / "ann", None, LIMITS, pool=pool, exercises=[FC, "conv_param_count"])
    assert grade.results[FC].score == grade.results[FC].max_score, str(grade.results[FC])
    assert grade.results["conv_param_count"].score == 0.0
    assert "your cell is nested too deeply" in str(grade.results["conv_param_count"])


# --- decoding what comes back --------------------------------------------------------------------------


def _frame(header: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I", len(header)) + header + body


@pytest.mark.parametrize(
    "header",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b'{"buffers": [], "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"buffers": [{"dtype": "<f8", "shape": [18446744073709551616, 0]}]}',
        b'{"buffers": [{"dtype": "<f8", "shape": [true]}]}',
        b'{"buffers": [], "case": ' + b"9" * 5000 + b"}",
    ],
)
def test_hostile_headers_give_a_reason_not_an_exception(header):
    frames, problem = decode_frames(_frame(header))
    assert frames == [] and problem


def test_a_flood_of_tiny_frames_is_cut_short():
    flood = encode_frame({"kind": "note"}) * 200_000
    run = _exercise_run(FC, {"status": "exited 0"}, flood, n_cases=3)
    assert run.outcomes == [None] * 3 and "more than 6 results" in run.notes[-1]


def test_a_header_the_runner_forged_with_odd_types_is_harmless():
    forged = encode_frame({"kind": "done", "notes": 5, "references": {"a": 1}, "printed": ["x"]})
    forged += encode_frame({"case": True, "output": 1, "modified": [], "error": None})
    run = _exercise_run(FC, {"status": ["odd"], "seconds": "soon"}, forged, n_cases=2)
    assert run.seconds == 0.0 and run.references == [] and run.notes == []


# --- judging -----------------------------------------------------------------------------------------


HOSTILE_VALUES = [
    float("inf"),
    float("nan"),
    10**400,
    2**64,
    ("a", "b"),
    [np.zeros(2), np.zeros(3)],
    {"a": [1]},
    "12",
    None,
]


@pytest.mark.parametrize("exercise_id", [FC, "conv_output_size", "iou", "conv2d", "non_max_suppression"])
@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=repr)
def test_any_returned_value_gets_a_verdict_never_an_exception(exercise_id, value):
    exercise = EXERCISES[exercise_id]
    cases = cases_for(exercise, 1)
    run = ExerciseRun(exercise_id, "exited 0", [Outcome(output=value) for _ in cases])
    result = verdict(exercise, cases, run, timeout=3.0)
    assert result.score == 0.0 and len(result.cases) == len(cases)


def test_a_returned_value_cannot_blow_up_the_feedback():
    """non_max_suppression quoted the whole kept list when an index was out of range: 16 MB of int64
    (what one exercise may send back) became 44 MB of message in the student's JSON, report and in the
    grader's memory; every case message is now cut to MAX_MESSAGE characters."""
    exercise = EXERCISES["non_max_suppression"]
    cases = cases_for(exercise, 1)
    huge = np.full(200_000, -(2**62), dtype=np.int64)
    run = ExerciseRun(exercise.id, "exited 0", [Outcome(output=huge) for _ in cases])
    result = verdict(exercise, cases, run, timeout=3.0)
    assert result.score == 0.0 and "should be distinct indices" in result.cases[0].message
    assert all(len(case.message) <= 5_000 for case in result.cases)


class Fragile(Exercise):
    """A test exercise whose judge raises on anything but an int."""

    id = "fragile"
    notebook = "00_tests"
    title = "fragile judge"
    points = 2.0

    def cases(self, rng, hidden):
        return [Case(f"draw {rng.integers(100)}", (2,), hidden=True)] if hidden else [Case("one", (1,))]

    def judge(self, case, output):
        return compare_number(float(int(output)), float(case.args[0]))


def test_a_judge_that_raises_costs_that_case_with_the_value_named():
    exercise = Fragile()
    cases = cases_for(exercise, 3)
    run = ExerciseRun("fragile", "exited 0", [Outcome(output=float("inf")), Outcome(output=2)])
    result = verdict(exercise, cases, run, timeout=3.0)
    assert result.score == 1.0
    assert "returned inf" in result.cases[0].message  # the checks' own words, or the grader's
    assert result.cases[1].name == "hidden case 1"  # the hidden case's name said what was drawn


def test_a_lone_surrogate_sent_back_by_a_submission_cannot_stop_the_reports(tmp_path, capsys):
    """A student's `raise ValueError("\\ud800")` comes back JSON-escaped, as a string Python holds but
    UTF-8 cannot encode: writing its report raised UnicodeEncodeError, and `course grade` ended with a
    traceback and exit status 1 after the grading, without the reports of the students after it, the
    summary or canvas.csv; a rerun resumed the signed results and failed the same way."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    cell = "def fc_param_count(h, w, c, u):\n    print('\\udfff')\n    raise ValueError('\\ud800')\n"
    write_student(subs / "ann", {FC: cell}, only=FC)
    write_student(subs / "ben", only=FC)
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    args = parser.parse_args([str(subs), "--out", str(out), "--workers", "1", "--timeout", "3"])
    assert grade.run(args) == 0
    assert {p.name for p in (out / "reports").iterdir()} == {"ann.html", "ben.html"}
    report = (out / "reports" / "ann.html").read_bytes().decode("utf-8")  # strict: valid UTF-8
    assert "ValueError" in report and (out / "summary.txt").is_file()


def test_every_string_that_comes_back_is_whole_unicode():
    """JSON may escape half of a UTF-16 pair alone: what a student's code sends back (an error
    message, what it printed, a returned string) reached results.json as "\\ud800", a string that
    no UTF-8 file, terminal or Gradescope's parser can take."""
    header = {"case": 0, "error": "raised ValueError: \ud800", "output": {"list": ["\udfff\udc80"]}}
    frames, problem = decode_frames(encode_frame({**header, "modified": [], "again": None}))
    assert not problem
    outcome = decode_outcome(*frames[0])
    outcome.error.encode("utf-8")
    outcome.output[0].encode("utf-8")
    assert outcome.error == "raised ValueError: \ufffd" and outcome.output == ["\ufffd\ufffd"]
    assert decode_frames(encode_frame({"x": "\U0001f600 \\ud800"}))[0][0][0]["x"] == "\U0001f600 \\ud800"
