"""`course grade`: grade a class's notebooks with untrusted code run in a sandbox.

Layering: `course.grader` reads submissions (`notebook`), runs them through `course.grader.sandbox` and
scores what comes back with the checks of `course.grading` (`verdict`). The checks never import the
grader; the sandbox imports nothing from the grader.
"""
