"""Verdicts of run_check and check_cases on real answers to a small exercise: softmax."""

from __future__ import annotations

from typing import Any

import numpy as np
from exercises import NotAttemptedError, array_mismatch, check_cases, run_check

INPUTS = [np.array([1.0, 2.0, 3.0]), np.array([[0.0, 0.0], [1000.0, 0.0]]), np.array([-5.0])]


def reference_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def check_softmax(candidate: Any) -> None:
    check_cases(candidate, [((z,), reference_softmax(z)) for z in INPUTS], array_mismatch)


def check_softmax_by_hand(candidate: Any) -> None:
    """The other way to write a check: asserts with a message."""
    got = candidate(np.array([1.0, 1.0]))
    assert np.allclose(got, [0.5, 0.5]), f"softmax of two equal logits should be [0.5, 0.5], not {got}"


def naive_softmax(z: np.ndarray) -> np.ndarray:  # overflows on large logits
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def flat_softmax(z: np.ndarray) -> np.ndarray:  # normalises over the whole array, not each row
    e = np.exp(z - z.max())
    return e / e.sum()


def stub_returning_none(z: np.ndarray) -> None:
    return None  # your code here


def stub_raising(z: np.ndarray) -> np.ndarray:
    raise NotImplementedError  # your code here


def test_the_solution_passes() -> None:
    """The reference solution is "passed", both with check_cases and with a hand-written check."""
    assert run_check(check_softmax, reference_softmax) == "passed"
    assert run_check(check_softmax_by_hand, reference_softmax) == "passed"


def test_a_wrong_answer_says_which_case_and_what_is_wrong() -> None:
    """The message names the first wrong case and the mismatch."""
    assert run_check(check_softmax, flat_softmax) == (
        "not yet: wrong on case 2: values differ from the reference by up to 0.5"
    )


def test_a_hand_written_check_reports_its_assertion_message() -> None:
    verdict = run_check(check_softmax_by_hand, lambda z: z)
    # Only the first line: pytest rewrites the asserts of this module and appends its explanation.
    assert verdict.splitlines()[0] == "not yet: softmax of two equal logits should be [0.5, 0.5], not [1. 1.]"


def test_an_answer_that_raises_is_a_verdict_not_a_crash() -> None:
    """Any exception from the answer becomes "not yet", with its type, message and the case."""

    def crashing(z: np.ndarray) -> np.ndarray:
        return z.softmax()  # type: ignore[attr-defined]

    assert run_check(check_softmax, crashing) == (
        "not yet: case 1 raised AttributeError: 'numpy.ndarray' object has no attribute 'softmax'"
    )
    assert run_check(check_softmax_by_hand, lambda z: 1 / 0) == "not yet: ZeroDivisionError: division by zero"


def test_an_answer_of_the_wrong_kind_is_a_verdict() -> None:
    """A mismatch helper that cannot compare the answer does not crash the notebook either."""

    def shapes(expected: Any, got: Any) -> str | None:
        return None if got.shape == expected.shape else "wrong shape"

    verdict = run_check(lambda c: check_cases(c, [((1,), np.zeros(2))], shapes), lambda x: [0.0, 0.0])
    assert verdict == (
        "not yet: wrong on case 1: the answer (a list) cannot be compared "
        "(AttributeError: 'list' object has no attribute 'shape')"
    )


def test_numerical_trouble_is_a_wrong_answer() -> None:
    """The naive softmax overflows to nan on case 2: NumPy warns, and the verdict is "not yet"."""
    with np.errstate(over="ignore", invalid="ignore"):
        verdict = run_check(check_softmax, naive_softmax)
    assert verdict.startswith("not yet: wrong on case 2: values differ from the reference by up to")


def test_an_untouched_stub_is_not_attempted() -> None:
    """A stub that returns None and one that raises NotImplementedError get the same kind of verdict."""
    assert run_check(check_softmax, stub_returning_none) == (
        "not attempted yet: the function returns None; write your answer above and run this cell again"
    )
    assert run_check(check_softmax, stub_raising) == (
        "not attempted yet: write your answer above and run this cell again"
    )
    assert run_check(check_softmax_by_hand, stub_raising) == (
        "not attempted yet: write your answer above and run this cell again"
    )


def test_none_after_the_first_case_is_a_wrong_answer() -> None:
    """An answer that works on some inputs and falls through to None on others was attempted."""

    def partly(z: np.ndarray) -> np.ndarray | None:
        return reference_softmax(z) if z.ndim == 1 and z.size > 1 else None

    assert run_check(check_softmax, partly) == "not yet: wrong on case 2: the function returned None"


def test_check_cases_raises_for_run_check_to_turn_into_verdicts() -> None:
    """check_cases itself raises: NotAttemptedError (a NotImplementedError) or AssertionError."""
    try:
        check_softmax(stub_returning_none)
    except NotImplementedError as error:
        assert isinstance(error, NotAttemptedError)
    else:
        raise AssertionError("check_cases accepted an untouched stub")
    check_softmax(reference_softmax)
