"""The path's byte-level BPE tokenizer: trained on the corpus, exact on any text, saved as JSON."""

from __future__ import annotations

import heapq
import itertools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

SPLIT_PATTERN = r" ?[^\W\d]\w*| ?\d{1,3}| ?[^\s\w]+|\s+(?!\S)|\s+"
"""Chunks that merges never cross, GPT-2's scheme in the standard library's `re`: a word or identifier
(`self`, `_cache_dir`) with its leading space, up to three digits, a run of punctuation, whitespace
(a run of it leaves its last space to the word after). Every character falls in some alternative, so
the chunks join back to the text. Keeping identifiers whole and a line break with its indentation
compresses the Python corpus better than GPT-2's letters-only words or GPT-4's separate line breaks."""

SPECIAL_TOKENS = ("<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
"""Tokens that are never produced by merges: a document boundary, padding, and chat markers
(`<|user|>` ... `<|end|>` `<|assistant|>` ... `<|end|>`) for the instruction-tuning notebooks."""

FORMAT = "pathgpt-bpe"


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids`, left to right, by `new_id`."""
    merged, i, first, second = [], 0, pair[0], pair[1]
    while i < len(ids):
        if ids[i] == first and i + 1 < len(ids) and ids[i + 1] == second:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def learn_merges(chunk_counts: dict[str, int], n_merges: int) -> list[tuple[int, int]]:
    """The n_merges most frequent adjacent pairs, merged greedily one after the other.

    Pair counts are kept up to date incrementally: a merge only touches the chunks that contain the
    pair, so only their pairs are recounted. A heap with stale entries skipped finds the most frequent
    pair (ties: the smallest pair of ids). Stops early when no pair occurs twice.
    """
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    frequencies = list(chunk_counts.values())
    pair_counts: defaultdict[tuple[int, int], int] = defaultdict(int)
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for index, word in enumerate(words):
        for pair in itertools.pairwise(word):
            pair_counts[pair] += frequencies[index]
            where[pair].add(index)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while heap and len(merges) < n_merges:
        negative, pair = heapq.heappop(heap)
        count = pair_counts.get(pair, 0)
        if count != -negative:
            continue  # stale: the pair's count changed, and its current count is in the heap too
        if count < 2:
            break
        new_id = 256 + len(merges)
        merges.append(pair)
        changed = set()
        for index in where.pop(pair):
            word, frequency = words[index], frequencies[index]
            merged = merge_pair(word, pair, new_id)
            if len(merged) == len(word):
                continue  # a stale index: an earlier merge took this chunk's occurrences
            for old in itertools.pairwise(word):
                pair_counts[old] -= frequency
                changed.add(old)
            for new in itertools.pairwise(merged):
                pair_counts[new] += frequency
                where[new].add(index)
                changed.add(new)
            words[index] = merged
        del pair_counts[pair]
        changed.discard(pair)
        for touched in changed:
            if pair_counts[touched] > 0:
                heapq.heappush(heap, (-pair_counts[touched], touched))
            else:
                del pair_counts[touched]
    return merges


class Tokenizer:
    """Byte-level BPE: 256 byte tokens, then one token per learned merge, then the special tokens.

    Round trip: `decode(encode(text)) == text` for every string that UTF-8 can encode (all but lone
    surrogates), special tokens or not. `decode` of an arbitrary id sequence never fails: bytes that
    are not valid UTF-8 (a character cut between tokens) become U+FFFD.
    """

    def __init__(
        self,
        merges: Sequence[tuple[int, int]],
        special_tokens: Sequence[str] = SPECIAL_TOKENS,
        pattern: str = SPLIT_PATTERN,
    ) -> None:
        self.merges = [tuple(pair) for pair in merges]
        self.ranks = {pair: 256 + rank for rank, pair in enumerate(self.merges)}
        self.pattern = pattern
        self._split = re.compile(pattern)
        first_special = 256 + len(self.merges)
        self.special_tokens = {token: first_special + i for i, token in enumerate(special_tokens)}
        self._special_split = (
            re.compile("(" + "|".join(map(re.escape, special_tokens)) + ")") if special_tokens else None
        )
        pieces = [bytes([i]) for i in range(256)]
        for left, right in self.merges:
            pieces.append(pieces[left] + pieces[right])
        pieces += [token.encode("utf-8") for token in special_tokens]
        self._bytes = pieces
        self._chunk_cache: dict[str, list[int]] = {}

    @classmethod
    def train(
        cls,
        text: str | Iterable[str],
        vocab_size: int,
        special_tokens: Sequence[str] = SPECIAL_TOKENS,
        pattern: str = SPLIT_PATTERN,
    ) -> Tokenizer:
        """Learn merges from text (one string, or documents) until the vocabulary, specials included, is full."""
        n_merges = vocab_size - 256 - len(special_tokens)
        if n_merges < 0:
            raise ValueError(
                f"vocab_size {vocab_size} leaves no room for 256 bytes and {len(special_tokens)} specials"
            )
        split = re.compile(pattern)
        chunk_counts: Counter[str] = Counter()
        for document in [text] if isinstance(text, str) else text:
            chunk_counts.update(split.findall(document))
        return cls(learn_merges(chunk_counts, n_merges), special_tokens, pattern)

    @property
    def vocab_size(self) -> int:
        return len(self._bytes)

    @property
    def eot_id(self) -> int:
        """The id of `<|endoftext|>`, which separates documents."""
        return self.special_tokens["<|endoftext|>"]

    def token_bytes(self, token_id: int) -> bytes:
        return self._bytes[token_id]

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        ranks = self.ranks
        while len(ids) >= 2:
            pair = min(itertools.pairwise(ids), key=lambda p: ranks.get(p, 1 << 62))
            if pair not in ranks:
                break
            ids = merge_pair(ids, pair, ranks[pair])
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of text, special-token strings included as plain text."""
        ids: list[int] = []
        cache = self._chunk_cache
        for chunk in self._split.findall(text):
            encoded = cache.get(chunk)
            if encoded is None:  # chunks repeat a lot: each distinct one is encoded once
                encoded = cache[chunk] = self._encode_chunk(chunk)
            ids += encoded
        return ids

    def encode(self, text: str, *, allow_special: bool = True) -> list[int]:
        """Token ids of text; with allow_special, `<|user|>` and the like become their special ids.

        Pass allow_special=False for text you do not control, so that it cannot forge chat markers.
        """
        if not allow_special or self._special_split is None:
            return self.encode_ordinary(text)
        ids: list[int] = []
        for i, piece in enumerate(self._special_split.split(text)):
            ids += [self.special_tokens[piece]] if i % 2 else self.encode_ordinary(piece)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        return b"".join(self._bytes[i] for i in ids).decode("utf-8", errors="replace")

    def to_dict(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "version": 1,
            "pattern": self.pattern,
            "special_tokens": list(self.special_tokens),
            "merges": [list(pair) for pair in self.merges],
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} tokenizer file")
        return cls([tuple(pair) for pair in data["merges"]], data["special_tokens"], data["pattern"])
