"""The BPE: exact round trip, the incremental trainer against a recount, compression against Hugging Face's."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from pathlib import Path

import pytest
from pathgpt.data import stdlib_corpus
from pathgpt.tokenizer import SPECIAL_TOKENS, SPLIT_PATTERN, Tokenizer, learn_merges, merge_pair


def naive_merges(chunk_counts: dict[str, int], n_merges: int) -> list[tuple[int, int]]:
    """BPE the slow way: count every pair of every chunk again before each merge."""
    words = {chunk: list(chunk.encode("utf-8")) for chunk in chunk_counts}
    merges: list[tuple[int, int]] = []
    for new_id in range(256, 256 + n_merges):
        counts: Counter[tuple[int, int]] = Counter()
        for chunk, word in words.items():
            for pair in itertools.pairwise(word):
                counts[pair] += chunk_counts[chunk]
        if not counts or max(counts.values()) < 2:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        words = {chunk: merge_pair(word, best, new_id) for chunk, word in words.items()}
    return merges


@pytest.fixture(scope="module")
def corpus_text() -> tuple[str, str]:
    """About 300 KB of the standard library to train on, and other documents to measure on."""
    corpus = stdlib_corpus(2_000_000)
    train = "".join(d.text for d in corpus.train)[:300_000]
    held_out = "".join(d.text for d in corpus.validation)[:100_000]
    return train, held_out


@pytest.fixture(scope="module")
def tokenizer(corpus_text: tuple[str, str]) -> Tokenizer:
    return Tokenizer.train(corpus_text[0], 1024)


def test_incremental_training_equals_recounting() -> None:
    """The incremental pair-count update learns exactly the merges of recounting from scratch."""
    text = "the cat sat on the mat; the hat that the cat ate, and aaaa aaa aa\n\n    def f(self):\n" * 3
    chunk_counts = Counter(re.findall(SPLIT_PATTERN, text))
    expected = naive_merges(chunk_counts, 60)
    assert len(expected) > 30
    assert learn_merges(chunk_counts, 60) == expected


def test_incremental_training_equals_recounting_on_real_text(corpus_text: tuple[str, str]) -> None:
    """The same on 20 KB of the standard library, for 150 merges."""
    chunk_counts = Counter(re.findall(SPLIT_PATTERN, corpus_text[0][:20_000]))
    assert learn_merges(chunk_counts, 150) == naive_merges(chunk_counts, 150)


def test_split_pattern_covers_every_character() -> None:
    """The chunks join back to the text, whatever it holds."""
    rng = random.Random(0)
    texts = ["x_1 = f(a, b)  # ok\n\n\tif x:\r\n        return 'don't' 1234567 ²³ ½", "", "  \n "]
    texts += [
        "".join(chr(rng.randrange(0x10FFFF)) for _ in range(50)).encode("utf-8", "replace").decode()
        for _ in range(20)
    ]
    for text in texts:
        assert "".join(re.findall(SPLIT_PATTERN, text)) == text


def test_round_trip_is_exact(tokenizer: Tokenizer) -> None:
    """Emoji, accents, CJK, Arabic, control characters, special markers, random code points and random bytes."""
    rng = random.Random(1)

    def code_points(n: int) -> str:
        return "".join(
            chr(c) for c in (rng.randrange(0x110000) for _ in range(n)) if not 0xD800 <= c <= 0xDFFF
        )

    samples = [
        "",
        "😀🎉 👨‍👩‍👧‍👦 family",
        "café naïve, combining: cafe\u0301",
        "日本語のテキスト、中文, 한국어, مرحبا",
        "  tabs\tand\nnew lines\r\n\x00\x07 runs   ",
        "<|user|>hi<|end|><|assistant|>hello<|end|><|endoftext|> and <|notaspecial|>",
        *[code_points(rng.randrange(1, 60)) for _ in range(100)],
        *[bytes(rng.randrange(256) for _ in range(80)).decode("utf-8", "replace") for _ in range(100)],
    ]
    for text in samples:
        for allow_special in (True, False):
            ids = tokenizer.encode(text, allow_special=allow_special)
            assert tokenizer.decode(ids) == text
            assert all(0 <= i < tokenizer.vocab_size for i in ids)


def test_special_tokens_only_when_allowed(tokenizer: Tokenizer) -> None:
    """Markers become one id each when allowed; as untrusted text they are ordinary bytes."""
    ids = tokenizer.encode("<|user|>hi<|end|>")
    assert ids[0] == tokenizer.special_tokens["<|user|>"] and ids[-1] == tokenizer.special_tokens["<|end|>"]
    plain = tokenizer.encode("<|user|>hi<|end|>", allow_special=False)
    assert not set(plain) & set(tokenizer.special_tokens.values())
    assert list(tokenizer.special_tokens) == list(SPECIAL_TOKENS)
    assert tokenizer.vocab_size == 1024 and tokenizer.eot_id == 1024 - len(SPECIAL_TOKENS)


def test_decoding_a_cut_character_gives_the_replacement_character(tokenizer: Tokenizer) -> None:
    """A model may stop in the middle of a UTF-8 sequence; decode shows U+FFFD instead of failing."""
    assert tokenizer.decode(list("€".encode())[:1]) == "\ufffd"


def test_first_merge_is_the_most_frequent_pair(corpus_text: tuple[str, str], tokenizer: Tokenizer) -> None:
    """Counted directly over the chunks of the training text."""
    counts: Counter[tuple[int, int]] = Counter()
    for chunk, n in Counter(re.findall(SPLIT_PATTERN, corpus_text[0])).items():
        for pair in itertools.pairwise(chunk.encode("utf-8")):
            counts[pair] += n
    assert counts[tokenizer.merges[0]] == max(counts.values())


def test_save_and_load_give_the_same_tokenizer(
    tmp_path: Path, tokenizer: Tokenizer, corpus_text: tuple[str, str]
) -> None:
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = Tokenizer.load(tmp_path / "tokenizer.json")
    text = corpus_text[1][:20_000]
    assert loaded.encode(text) == tokenizer.encode(text)
    assert loaded.merges == tokenizer.merges and loaded.special_tokens == tokenizer.special_tokens


def test_compression_matches_hugging_face_tokenizers(corpus_text: tuple[str, str]) -> None:
    """Trained on the same text at the same vocabulary size, Hugging Face's BPE with our pre-split compresses
    held-out text as ours does (within 2%), and with GPT-2's pre-split hardly better (by 2% at most)."""
    from tokenizers import Regex, decoders, models, pre_tokenizers, trainers
    from tokenizers import Tokenizer as HFTokenizer

    train, held_out = corpus_text
    ours = Tokenizer.train(train, 1024)

    def hugging_face(pre_tokenizer: pre_tokenizers.PreTokenizer) -> HFTokenizer:
        tokenizer = HFTokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizer
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=1024,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tokenizer.train_from_iterator([train], trainer)
        return tokenizer

    same_split = hugging_face(
        pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    )
    gpt2_split = hugging_face(pre_tokenizers.ByteLevel(add_prefix_space=False))
    n_bytes = len(held_out.encode("utf-8"))
    ratio = {
        "ours": n_bytes / len(ours.encode(held_out)),
        "same split": n_bytes / len(same_split.encode(held_out).ids),
        "gpt2 split": n_bytes / len(gpt2_split.encode(held_out).ids),
    }
    assert same_split.decode(same_split.encode(held_out).ids) == held_out
    assert abs(ratio["ours"] - ratio["same split"]) < 0.02 * ratio["same split"], ratio
    assert ratio["ours"] > 0.98 * ratio["gpt2 split"], ratio
    assert ratio["ours"] > 2.5, ratio
