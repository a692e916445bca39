"""How untrusted code runs: process isolation (`launch`), one sandbox per worker (`session`), a process
per student and exercise (`child`), limits and execution inside it (`runner`, `poison`), and the only
format that comes back (`wire`); `run` is the grader-side entry point.

Layering: the sandbox imports only `course.grading.exercise` (a case, an outcome, run_case), never the
checks' references or judges, and nothing from `course.grader`.
"""
