"""Mismatch helpers for `check_cases`: what is wrong with an answer, or None when it is right."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_array(value: Any) -> np.ndarray:
    """A NumPy array of `value`: a number, a list, an array, or a tensor (detached and moved to the CPU)."""
    if hasattr(value, "detach"):  # a torch tensor, duck-typed so that the package does not need torch
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def array_mismatch(expected: Any, got: Any, rtol: float = 1e-10, atol: float = 1e-10) -> str | None:
    """What is wrong with `got` (an array, a tensor or a number) as an approximation of `expected`, or None."""
    expected, got = as_array(expected), as_array(got)
    if got.shape != expected.shape:
        return f"shape {got.shape}, expected {expected.shape}"
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        return f"values differ from the reference by up to {np.abs(got - expected).max():.3g}"
    return None


def value_mismatch(expected: Any, got: Any) -> str | None:
    """What is wrong with `got` as exactly `expected` (a number, a string, a list...), or None."""
    return None if got == expected else f"got {got!r}, expected {expected!r}"
