"""Time a full check (visible and hidden cases) of every exercise against its reference, once warm.

    PYTHONPATH=. python scripts/time_checks.py

The first check of an exercise compiles (or loads from Numba's cache) the reference kernels; the
number reported is the best of three later checks, each with fresh hidden cases.
"""

from __future__ import annotations

import time

from course.grading import EXERCISES, check


def main() -> None:
    worst = 0.0
    for exercise_id, exercise in EXERCISES.items():
        check(exercise_id, exercise.reference, hidden_seed=0)  # warm-up: compile or load the kernels
        times = []
        for seed in (1, 2, 3):
            start = time.perf_counter()
            result = check(exercise_id, exercise.reference, hidden_seed=seed)
            times.append(time.perf_counter() - start)
            assert result.status == "passed", str(result)
        worst = max(worst, min(times))
        print(f"{exercise_id:24s} {len(result.cases):3d} cases  {1000 * min(times):7.1f} ms")
    print(f"slowest exercise: {1000 * worst:.1f} ms")


if __name__ == "__main__":
    main()
