"""The corpus: deterministic, split by document, free of tests and generated tables; the batch samplers."""

from __future__ import annotations

import torch
from pathgpt.data import evaluation_windows, is_validation, sample_batch, stdlib_corpus


def test_corpus_is_deterministic_capped_and_split_by_document() -> None:
    """Two reads give the same documents; no document is in both splits; the cap holds; the split is about 10%."""
    first, second = stdlib_corpus(3_000_000), stdlib_corpus(3_000_000)
    assert first.fingerprint() == second.fingerprint()
    assert 2_500_000 < first.n_bytes <= 3_000_000
    train, validation = {d.name for d in first.train}, {d.name for d in first.validation}
    assert not train & validation and len(train) + len(validation) == len(first.documents)
    assert 0.04 < len(validation) / len(first.documents) < 0.2
    names = [d.name for d in first.documents]
    assert names == sorted(names)
    assert any(name.startswith("pydoc_data.topics/") for name in names)
    assert any(name.startswith("asyncio/") for name in names), "the cap spreads the choice over the library"
    assert any(name.startswith("xml/") for name in names)


def test_corpus_leaves_out_tests_packages_and_generated_files() -> None:
    corpus = stdlib_corpus(100_000_000)
    for document in corpus.documents:
        parts = document.name.split("/")
        assert not {"test", "tests", "idle_test", "site-packages", "encodings"} & set(parts[:-1]), (
            document.name
        )
        assert not parts[-1].startswith("_sysconfigdata"), document.name
        assert len(document.text.encode("utf-8")) <= 100_000 or parts[0] == "pydoc_data.topics"
    assert corpus.python.count(".") == 2


def test_a_smaller_cap_keeps_a_subset_in_the_same_split() -> None:
    """A document's split depends on its name only, so it never moves when the selection changes."""
    small, large = stdlib_corpus(1_000_000), stdlib_corpus(4_000_000)
    assert {d.name for d in small.documents} <= {d.name for d in large.documents}
    assert {d.name for d in small.validation} <= {d.name for d in large.validation}
    assert is_validation("json/decoder.py", 0.1) == is_validation("json/decoder.py", 0.1)


def test_sample_batch_targets_are_the_inputs_shifted_by_one() -> None:
    tokens = torch.arange(1000)
    inputs, targets = sample_batch(tokens, 8, 16, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (8, 16)
    assert torch.equal(targets, inputs + 1)
    again, _ = sample_batch(tokens, 8, 16, torch.Generator().manual_seed(0))
    assert torch.equal(inputs, again)


def test_evaluation_windows_do_not_overlap_and_cover_the_tokens() -> None:
    tokens = torch.arange(1000)
    inputs, targets = evaluation_windows(tokens, 16)
    assert len(inputs) == 999 // 16
    assert torch.equal(inputs.flatten(), tokens[: len(inputs) * 16])
    assert torch.equal(targets, inputs + 1)
    spread, _ = evaluation_windows(tokens, 16, max_windows=5)
    assert spread[0, 0] == 0 and spread[-1, 0] == inputs[-1, 0] and len(spread) == 5
