"""The one exercise checker of the path's notebooks: run a check on a learner's answer, get a verdict.

A notebook writes a check per exercise, a function that takes the learner's candidate and raises
`AssertionError` saying what is wrong (by hand, or through `check_cases` and a mismatch helper), and
prints `run_check(check, candidate)`: "passed", "not yet: <what is wrong>" or "not attempted yet: ...".
"""

from exercises.check import NotAttemptedError, check_cases, run_check
from exercises.mismatch import array_mismatch, value_mismatch

__all__ = [
    "NotAttemptedError",
    "array_mismatch",
    "check_cases",
    "run_check",
    "value_mismatch",
]
