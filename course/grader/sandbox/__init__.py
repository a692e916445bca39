"""How untrusted code runs: process isolation (`launch`), one sandbox per worker (`session`), a process
per student's job and per exercise (`child`), the exercise's limits (`budget`, `cgroup`, `confine`,
`seccomp`), the relay that alone writes an exercise's results (`relay`), the student's process where
the student's code runs (`runner`, `poison`), and the only format that comes back (`wire`); `run` is
the grader-side entry point.

Layering: the sandbox imports only `course.grading.exercise` (a case, an outcome, run_case), never the
checks' references or judges, and nothing from `course.grader`.
"""
