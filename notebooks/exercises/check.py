"""Verdicts: a check raises, `run_check` turns what it raised into one line for the learner."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

Candidate = TypeVar("Candidate")

PASSED = "passed"
NOT_YET = "not yet"
NOT_ATTEMPTED = "not attempted yet"
UNTOUCHED = "write your answer above and run this cell again"
"""What a learner is told when the stub still raises `NotImplementedError` without a message."""


class NotAttemptedError(NotImplementedError):
    """The candidate is still the stub: `check_cases` raises it when the function returns None.

    A subclass of `NotImplementedError`, so that a stub returning None and a stub raising
    `NotImplementedError` get the same verdict.
    """


def run_check(check: Callable[[Candidate], object], candidate: Candidate) -> str:
    """The verdict of `check` on `candidate`, one line: "passed", "not yet: ..." or "not attempted yet: ...".

    `check(candidate)` returns when the answer is right and raises `AssertionError` saying what is
    wrong; an untouched stub raises `NotImplementedError` (directly, or through `check_cases`).
    Anything else the candidate raises is a bug in the answer and becomes a "not yet" verdict too:
    a learner's unfinished function may fail in any way, and the notebook must go on.
    """
    try:
        check(candidate)
    except NotImplementedError as error:
        return f"{NOT_ATTEMPTED}: {str(error) or UNTOUCHED}"
    except AssertionError as error:
        return f"{NOT_YET}: {str(error) or 'the check failed'}"
    except Exception as error:
        return f"{NOT_YET}: {describe(error)}"
    return PASSED


def check_cases(
    candidate: Callable[..., Any],
    cases: Iterable[tuple[Sequence[Any], Any]],
    mismatch: Callable[[Any, Any], str | None],
) -> None:
    """Call `candidate(*args)` on every `(args, expected)` case; raise at the first wrong one.

    `mismatch(expected, got)` says what is wrong with an answer, or returns None when it is right
    (`array_mismatch`, `value_mismatch`, or the notebook's own). The messages name the case, so a
    learner can find it. A stub that returns None on the first case has not been attempted; None
    later on is a wrong answer.
    """
    for number, (args, expected) in enumerate(cases, start=1):
        try:
            got = candidate(*args)
        except NotImplementedError:
            raise
        except Exception as error:
            raise AssertionError(f"case {number} raised {describe(error)}") from error
        if got is None:
            if number == 1:
                raise NotAttemptedError(f"the function returns None; {UNTOUCHED}")
            raise AssertionError(f"wrong on case {number}: the function returned None")
        try:
            problem = mismatch(expected, got)
        except Exception as error:  # an answer of the wrong kind (a list for an array, a tuple too short)
            raise AssertionError(
                f"wrong on case {number}: the answer {describe_value(got)} cannot be compared ({describe(error)})"
            ) from error
        if problem is not None:
            raise AssertionError(f"wrong on case {number}: {problem}")


def describe(error: BaseException) -> str:
    """`TypeError: message`, or the type alone when the message is empty."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def describe_value(value: object) -> str:
    """A short name for what the learner returned: its type, and its shape when it has one."""
    shape = getattr(value, "shape", None)
    kind = type(value).__name__
    return f"(a {kind} of shape {tuple(shape)})" if shape is not None else f"(a {kind})"
