"""The mismatch helpers: what is wrong with an answer, or None."""

from __future__ import annotations

import numpy as np
import torch
from exercises import array_mismatch, value_mismatch


def test_array_mismatch_accepts_a_close_answer() -> None:
    assert array_mismatch(np.array([1.0, 2.0]), [1.0, 2.0 + 1e-12]) is None


def test_array_mismatch_names_the_wrong_shape() -> None:
    assert array_mismatch(np.zeros((2, 3)), np.zeros((3, 2))) == "shape (3, 2), expected (2, 3)"


def test_array_mismatch_gives_the_largest_difference() -> None:
    assert array_mismatch(np.zeros(3), np.array([0.0, 0.25, -0.5])) == (
        "values differ from the reference by up to 0.5"
    )


def test_array_mismatch_takes_its_tolerances() -> None:
    assert array_mismatch(1.0, 1.001) is not None
    assert array_mismatch(1.0, 1.001, rtol=1e-2) is None


def test_array_mismatch_compares_tensors_that_need_grad() -> None:
    """A learner's answer may be a tensor still attached to the graph."""
    got = torch.tensor([1.0, 2.0], requires_grad=True) * 1
    assert array_mismatch(np.array([1.0, 2.0]), got) is None
    assert array_mismatch(torch.tensor([1.0, 3.0]), got) == "values differ from the reference by up to 1"


def test_value_mismatch_is_exact() -> None:
    assert value_mismatch(12, 12) is None
    assert value_mismatch(["a", "b"], ["a", "c"]) == "got ['a', 'c'], expected ['a', 'b']"
