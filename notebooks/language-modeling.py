# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Language modelling: tokens, next-token prediction, sampling
#
# A language model does one thing: given the tokens so far, it outputs a
# probability for every possible next token. Everything around that is
# plumbing, and this notebook builds the plumbing from scratch: how text becomes
# tokens, how a model learns next-token probabilities, how we measure it, and
# how we turn probabilities back into text.
#
# **What you will build**
#
# - a byte-level **BPE tokenizer** (the scheme of GPT-2 and its successors):
#   trainer, encoder, decoder, checked to round-trip any Unicode text;
# - a measurement of **compression** (bytes per token) against vocabulary size;
# - a small **neural language model** trained on Python's own docstrings, its
#   **perplexity**, and a baseline it must beat;
# - **temperature**, **top-k** and **top-p (nucleus)** sampling, each checked
#   against its definition, and a few generated samples.

# %%
import importlib
import inspect
import itertools
import math
import os
import random
import re
from collections import Counter, defaultdict

# Let idle worker threads sleep instead of spinning: much faster on a shared CPU.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

torch.set_num_threads(2)
torch.manual_seed(0)

# %% [markdown]
# ## 1. A corpus that every Python install has
#
# We need text, and we may not download any. Python ships with plenty: the
# docstrings of its standard library. We gather the docstrings of twenty
# modules (the module, its public functions and classes, and their methods),
# drop duplicates, and keep every tenth docstring aside as **validation** text
# that the tokenizer and the model never train on. (The exact text depends on
# your Python version, so your numbers may differ slightly from the ones
# shown.)

# %%
MODULES = [
    "collections", "itertools", "functools", "json", "re", "string", "textwrap",
    "typing", "pathlib", "argparse", "datetime", "random", "statistics",
    "fractions", "decimal", "heapq", "bisect", "csv", "logging", "unittest",
]  # fmt: skip


def module_docstrings(name: str) -> list[str]:
    """Docstrings of a module, its public functions and classes, and their methods."""
    module = importlib.import_module(name)
    found = [inspect.getdoc(module)]
    for attribute, obj in sorted(vars(module).items()):
        if attribute.startswith("_") or getattr(obj, "__module__", None) != name:
            continue  # private, or imported from elsewhere
        found.append(inspect.getdoc(obj))
        if inspect.isclass(obj):
            found += [
                inspect.getdoc(m)
                for a, m in sorted(vars(obj).items())
                if not a.startswith("_") and callable(m)
            ]
    return [doc for doc in found if doc]


documents = list(dict.fromkeys(doc for name in MODULES for doc in module_docstrings(name)))
train_text = "\n\n".join(doc for i, doc in enumerate(documents) if i % 10 != 0)
validation_text = "\n\n".join(documents[::10])
print(
    f"{len(documents)} docstrings: {len(train_text):,d} characters to train on, {len(validation_text):,d} to validate"
)
print(documents[1][:200])

# %% [markdown]
# ## 2. Byte-level BPE
#
# A model needs a finite vocabulary. Whole words leave out every word it has
# not seen; single characters make sequences long (and Unicode has about
# 150,000 of them). **Byte-pair encoding** starts from the 256 possible bytes
# of the UTF-8 encoding, so *any* text can be represented, then repeatedly
# adds a new token for the most frequent adjacent pair of tokens. Frequent
# words end up as one token, rare ones as several pieces, and nothing is ever
# out of vocabulary.
#
# UTF-8 uses one byte for ASCII and two to four for other characters:

# %%
for text in ["a", "é", "€", "日", "😀"]:
    print(f"{text!r}: {list(text.encode('utf-8'))}")
assert [len(t.encode("utf-8")) for t in ["a", "é", "日", "😀"]] == [1, 2, 3, 4]

# %% [markdown]
# Before counting pairs, GPT-2 splits text into chunks (roughly: words with
# their leading space, runs of digits, runs of punctuation, runs of spaces) and
# never merges across a chunk boundary. Otherwise BPE would waste tokens on
# accidents such as `"dog."` and `"dog!"` being different tokens. The regular
# expression below is a standard-library version of GPT-2's; its alternatives
# cover every possible character, so joining the chunks gives the text back.

# %%
CHUNK_PATTERN = re.compile(r"'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?[^\s\w]+| ?_+|\s+(?!\S)|\s+")

example = "Return the sum of the first 10 items, isn't it? Ça marche: 日本語 😀!"
print(CHUNK_PATTERN.findall(example))
assert "".join(CHUNK_PATTERN.findall(example)) == example

# %% [markdown]
# **Training.** Count the chunks of the training text once. Represent each
# distinct chunk as its list of byte values, count every adjacent pair
# (weighted by how often the chunk occurs), and then repeat: take the most
# frequent pair, give it the next free id, and replace it in every chunk that
# contains it. Only those chunks change, so we update the pair counts for them
# alone instead of recounting everything: this is what makes training fast.


# %%
def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids` (left to right) by `new_id`."""
    merged, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def train_bpe(text: str, vocab_size: int) -> dict[tuple[int, int], int]:
    """Learn vocab_size - 256 merges; return them in the order learned, as {pair: new id}."""
    chunk_counts = Counter(CHUNK_PATTERN.findall(text))
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    frequencies = list(chunk_counts.values())
    pair_counts: Counter[tuple[int, int]] = Counter()
    words_with_pair: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for index, word in enumerate(words):
        for pair in itertools.pairwise(word):
            pair_counts[pair] += frequencies[index]
            words_with_pair[pair].add(index)

    merges: dict[tuple[int, int], int] = {}
    for new_id in range(256, vocab_size):
        best = max(pair_counts, key=pair_counts.__getitem__)
        merges[best] = new_id
        for index in words_with_pair.pop(best):
            word, frequency = words[index], frequencies[index]
            for pair in itertools.pairwise(word):
                pair_counts[pair] -= frequency
            word = words[index] = merge_pair(word, best, new_id)
            for pair in itertools.pairwise(word):
                pair_counts[pair] += frequency
                words_with_pair[pair].add(index)
        del pair_counts[best]
    return merges


def token_bytes(merges: dict[tuple[int, int], int]) -> dict[int, bytes]:
    """The byte string of every token id: the 256 bytes, then each merge's two parts joined."""
    vocab = {i: bytes([i]) for i in range(256)}
    for (left, right), new_id in merges.items():
        vocab[new_id] = vocab[left] + vocab[right]
    return vocab


MAX_VOCAB = 1024
all_merges = train_bpe(train_text, MAX_VOCAB)
vocab = token_bytes(all_merges)
print("first merges:", [vocab[i].decode("utf-8", errors="replace") for i in range(256, 272)])
print("last merges: ", [vocab[i].decode("utf-8", errors="replace") for i in range(MAX_VOCAB - 8, MAX_VOCAB)])

# The first merge is the most frequent adjacent byte pair of the training chunks, counted directly.
pair_frequency = Counter()
for chunk, count in Counter(CHUNK_PATTERN.findall(train_text)).items():
    for pair in itertools.pairwise(chunk.encode("utf-8")):
        pair_frequency[pair] += count
first_merge = next(iter(all_merges))
assert pair_frequency[first_merge] == max(pair_frequency.values())
mean_length = {
    name: sum(len(vocab[i]) for i in ids) / len(ids)
    for name, ids in [("first", range(256, 288)), ("last", range(MAX_VOCAB - 32, MAX_VOCAB))]
}
assert mean_length["last"] > mean_length["first"], "later merges build longer tokens"
print(
    f"mean token length in bytes: first 32 merges {mean_length['first']:.1f}, last 32 {mean_length['last']:.1f}"
)

# %% [markdown]
# The first merges are the most frequent pairs of the corpus (runs of spaces
# from indented examples, `" t"`, `"in"`, `"he"`... with the Python this was
# run on), and we checked that the very first one is the most frequent byte
# pair. The last merges are longer pieces of the words of the Python
# documentation. Note that BPE merges are learned greedily,
# one after the other: the first $m$ merges of a 1024-token run are exactly
# what a run stopped at $256 + m$ tokens would have learned. So one training
# run gives us every smaller vocabulary too.
#
# **Encoding** new text applies the merges *in the order they were learned*:
# in each chunk, find the adjacent pair that was learned earliest, merge it,
# and repeat until no learned pair is left. **Decoding** concatenates the
# bytes of the tokens and decodes them as UTF-8.


# %%
class BPETokenizer:
    def __init__(self, merges: dict[tuple[int, int], int]) -> None:
        self.merges = merges  # {pair: new id}; the ids give the order learned
        self.vocab = token_bytes(merges)
        self.vocab_size = 256 + len(merges)
        self._chunk_cache: dict[str, list[int]] = {}

    def encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            earliest = min(itertools.pairwise(ids), key=lambda pair: self.merges.get(pair, math.inf))
            if earliest not in self.merges:
                break
            ids = merge_pair(ids, earliest, self.merges[earliest])
        return ids

    def encode(self, text: str) -> list[int]:
        ids = []
        for chunk in CHUNK_PATTERN.findall(text):
            if chunk not in self._chunk_cache:  # chunks repeat a lot: encode each once
                self._chunk_cache[chunk] = self.encode_chunk(chunk)
            ids += self._chunk_cache[chunk]
        return ids

    def decode(self, ids: list[int]) -> str:
        """Bytes back to text; an incomplete UTF-8 sequence becomes U+FFFD instead of an error."""
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")


def with_vocab_size(vocab_size: int) -> BPETokenizer:
    """The tokenizer made of the first vocab_size - 256 merges."""
    return BPETokenizer(dict(list(all_merges.items())[: vocab_size - 256]))


tokenizer = with_vocab_size(MAX_VOCAB)
sentence = "Return a new list containing all items from the iterable in ascending order."
pieces = [tokenizer.decode([i]) for i in tokenizer.encode(sentence)]
print(f"{len(sentence)} characters -> {len(pieces)} tokens:", "|".join(pieces))

# %% [markdown]
# ### It round-trips any text
#
# Because the base vocabulary is all 256 bytes, every string can be encoded,
# and decoding gives exactly the same string back. We check emoji (including
# a family emoji made of several code points), accents (precomposed and
# combining), CJK, Arabic, the empty string, whitespace oddities, strings of
# random Unicode code points, and text produced by decoding random bytes with
# `errors="replace"`. Surrogate code points are excluded: they are not valid
# in UTF-8, and Python refuses to encode them.

# %%
rng = random.Random(0)


def random_code_points(length: int) -> str:
    """Random valid code points (no surrogates U+D800..U+DFFF) from all planes."""
    chars = []
    while len(chars) < length:
        code_point = rng.randrange(0x110000)
        if not 0xD800 <= code_point <= 0xDFFF:
            chars.append(chr(code_point))
    return "".join(chars)


samples = [
    "",
    "hello world",
    "😀🎉 emoji 👨‍👩‍👧‍👦 family",
    "café naïve résumé, and combining: cafe\u0301",
    "日本語のテキスト、中文文本, 한국어",
    "مرحبا بالعالم",
    "  tabs\tand\nnew lines\r\n  and   runs of spaces   ",
    "def f(x_1, __y): return x_1 ** 2  # code",
    *[random_code_points(rng.randrange(1, 40)) for _ in range(50)],
    *[bytes(rng.randrange(256) for _ in range(60)).decode("utf-8", errors="replace") for _ in range(50)],
]
for text in samples:
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text, f"round trip failed for {text!r}"
    assert len(ids) <= len(text.encode("utf-8")), "merging can only shorten the sequence"
    assert all(0 <= i < tokenizer.vocab_size for i in ids)
print(f"{len(samples)} strings round-trip exactly")

# A token sequence need not be valid UTF-8: "€" is three bytes, and its first one alone is not text.
euro_bytes = list("€".encode())
assert tokenizer.decode(euro_bytes[:1]) == "\ufffd"
print("decoding only the first byte of '€' gives", repr(tokenizer.decode(euro_bytes[:1])))

# %% [markdown]
# The last check is why `decode` uses `errors="replace"`: a model generates
# tokens one at a time, and nothing forces it to stop on a character boundary.
# A strict decoder would crash on such output; ours shows the replacement
# character `�`.
#
# ### Compression against vocabulary size
#
# The point of merging is to make sequences shorter: attention costs grow with
# sequence length, so a model that reads 3 bytes per token sees three times
# more text in the same context window than a byte-level one. We measure the
# average number of UTF-8 bytes per token on the training and on the
# validation text for several vocabulary sizes.

# %%
vocab_sizes = [256, 320, 384, 512, 640, 768, 1024]
bytes_per_token: dict[str, list[float]] = {"train": [], "validation": []}
for size in vocab_sizes:
    sized = with_vocab_size(size)
    for name, text in [("train", train_text), ("validation", validation_text)]:
        bytes_per_token[name].append(len(text.encode("utf-8")) / len(sized.encode(text)))
    print(
        f"vocab {size:5d}: {bytes_per_token['train'][-1]:.2f} bytes/token (train), {bytes_per_token['validation'][-1]:.2f} (validation)"
    )

assert bytes_per_token["train"][0] == 1.0, "with no merges, one token per byte"
for name, ratios in bytes_per_token.items():
    assert all(a < b for a, b in itertools.pairwise(ratios)), (
        f"{name}: more merges should always compress more"
    )
assert bytes_per_token["validation"][-1] > 2.0, "1024 tokens should more than halve the length"
assert bytes_per_token["validation"][-1] < bytes_per_token["train"][-1], (
    "the tokenizer fits its training text best"
)
gain_per_merge = [
    (bytes_per_token["train"][i + 1] - bytes_per_token["train"][i]) / (vocab_sizes[i + 1] - vocab_sizes[i])
    for i in range(len(vocab_sizes) - 1)
]
assert gain_per_merge[0] > 3 * gain_per_merge[-1], "early merges should gain much more than late ones"

fig, ax = plt.subplots(figsize=(6, 4))
for name, ratios in bytes_per_token.items():
    ax.plot(vocab_sizes, ratios, "o-", label=name)
ax.set(title="BPE compression", xlabel="vocabulary size", ylabel="UTF-8 bytes per token")
ax.legend()
plt.show()

# %% [markdown]
# Compression improves quickly for the first merges (frequent pairs such as
# `" t"` save the most) and more slowly after: each new token covers a rarer
# pattern. The validation curve sits slightly below the training one: the
# tokenizer is fitted to its training text, a small form of overfitting. Real
# tokenizers use 50,000 to 250,000 tokens and reach about 4 bytes per token on
# English.
#
# ## 3. A neural language model
#
# A language model estimates $P(x_t \mid x_{<t})$. Training minimises the
# average **cross-entropy** $-\log P(x_t \mid x_{<t})$ of the actual next
# tokens. Its exponential is the **perplexity**: a perplexity of 40 means the
# model is, on average, as unsure as if it chose uniformly among 40 tokens.
#
# The simplest baseline ignores the context: the **unigram** model predicts
# every token with its frequency in the training text (add-one smoothed, so no
# token has probability zero). Our model is the classic MLP language model of
# Bengio et al. (2003): embed the previous 8 tokens, concatenate the
# embeddings, one hidden layer, a softmax over the vocabulary. We use the
# 512-token BPE vocabulary, which is plenty for this small corpus.

# %%
lm_tokenizer = with_vocab_size(512)
train_ids = torch.tensor(lm_tokenizer.encode(train_text))
validation_ids = torch.tensor(lm_tokenizer.encode(validation_text))
V = lm_tokenizer.vocab_size
CONTEXT = 8
print(f"{len(train_ids):,d} training tokens, {len(validation_ids):,d} validation tokens, vocabulary {V}")

unigram_counts = torch.bincount(train_ids, minlength=V).double() + 1.0
unigram_log_probs = (unigram_counts / unigram_counts.sum()).log()
unigram_loss = -unigram_log_probs[validation_ids].mean().item()
print(f"unigram baseline: validation perplexity {math.exp(unigram_loss):.1f}")


class MLPLanguageModel(nn.Module):
    """Previous CONTEXT tokens -> embeddings -> concatenation -> hidden layer -> next-token logits."""

    def __init__(
        self, vocab_size: int, context: int, d_embed: int = 64, d_hidden: int = 256, dropout: float = 0.2
    ):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.hidden = nn.Linear(context * d_embed, d_hidden)
        self.out = nn.Linear(d_hidden, vocab_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, context_ids: Tensor) -> Tensor:
        x = self.dropout(self.embed(context_ids).flatten(start_dim=1))
        return self.out(self.dropout(F.gelu(self.hidden(x))))


def contexts_and_targets(ids: Tensor, starts: Tensor) -> tuple[Tensor, Tensor]:
    """For each start s: tokens s..s+CONTEXT-1 as input, token s+CONTEXT as target."""
    return ids[starts[:, None] + torch.arange(CONTEXT)], ids[starts + CONTEXT]


@torch.no_grad()
def validation_loss(model: nn.Module) -> float:
    model.eval()
    inputs, targets = contexts_and_targets(validation_ids, torch.arange(len(validation_ids) - CONTEXT))
    loss = F.cross_entropy(model(inputs), targets).item()
    model.train()
    return loss


# %% [markdown]
# Training samples random windows of the training tokens, 256 per step, and
# checks the validation loss every 100 steps. Dropout and weight decay keep the
# model from memorising the small corpus.

# %%
torch.manual_seed(0)
generator = torch.Generator().manual_seed(0)
model = MLPLanguageModel(V, CONTEXT)
steps, eval_every = 1200, 100
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.1)
schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
train_losses, validation_losses = [], [validation_loss(model)]
for step in range(1, steps + 1):
    starts = torch.randint(0, len(train_ids) - CONTEXT, (256,), generator=generator)
    inputs, targets = contexts_and_targets(train_ids, starts)
    loss = F.cross_entropy(model(inputs), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    schedule.step()
    train_losses.append(loss.item())
    if step % eval_every == 0:
        validation_losses.append(validation_loss(model))

model.eval()
final_loss = validation_losses[-1]
print(
    f"validation perplexity: {math.exp(validation_losses[0]):.0f} untrained -> {math.exp(final_loss):.1f} trained"
)
print(f"unigram baseline:      {math.exp(unigram_loss):.1f}")

validation_bytes = len(validation_text.encode("utf-8"))
for name, loss in [("unigram", unigram_loss), ("MLP", final_loss)]:
    bits_per_byte = loss * len(validation_ids) / (validation_bytes * math.log(2))
    print(f"{name:8s}: {bits_per_byte:.2f} bits per byte")

assert final_loss < 0.6 * validation_losses[0], "validation loss should fall well below its starting value"
assert all(b < a for a, b in itertools.pairwise(validation_losses[:6])), "it should keep falling early on"
assert math.exp(final_loss) < 0.5 * math.exp(unigram_loss), "context should beat the unigram baseline by far"
assert validation_losses[1] < unigram_loss, "after 100 steps the model should already beat the unigram"
assert sum(train_losses[-100:]) / 100 < final_loss, "training loss ends below validation loss"

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(range(1, steps + 1), train_losses, alpha=0.4, label="training batch")
ax.plot(range(0, steps + 1, eval_every), validation_losses, "o-", label="validation")
ax.axhline(unigram_loss, color="gray", ls=":", label="unigram baseline (validation)")
ax.set(
    title="MLP language model on stdlib docstrings", xlabel="step", ylabel="cross-entropy (nats per token)"
)
ax.set_ylim(top=unigram_loss + 1.5)
ax.legend()
plt.show()

# %% [markdown]
# The model is below the unigram line by its first check, after 100 steps:
# knowing the previous tokens is worth a lot. The validation loss then keeps
# falling, more and more slowly, and ends above the training loss: the model
# has seen the training text many times and fits it better than new text,
# even with dropout on during training.
#
# Per-token perplexity depends on the tokenizer: a tokenizer with longer tokens
# has fewer, harder predictions to make. **Bits per byte** (total
# cross-entropy in bits divided by the number of bytes) does not, which is why
# it is used to compare models with different tokenizers.
#
# ## 4. From probabilities to text: sampling
#
# Generation repeats one step: compute the next-token distribution, pick a
# token, append it, slide the context. *How* we pick matters a lot:
#
# - **greedy** (always the most likely token) is repetitive and dull;
# - sampling from the full distribution sometimes picks one of the many
#   unlikely tokens, and one bad token derails the rest;
# - **temperature** $T$ divides the logits before the softmax,
#   $p_i \propto e^{z_i / T}$: $T < 1$ sharpens the distribution (towards greedy
#   as $T \to 0$), $T > 1$ flattens it (towards uniform);
# - **top-k** keeps the $k$ most likely tokens and renormalises;
# - **top-p (nucleus)** keeps the *smallest* set of most likely tokens whose
#   total probability is at least $p$, and renormalises: few tokens when the
#   model is confident, many when it is not.


# %%
def softmax_with_temperature(logits: Tensor, temperature: float) -> Tensor:
    return torch.softmax(logits / temperature, dim=-1)


def top_k_filter(probs: Tensor, k: int) -> Tensor:
    """Keep the k most likely tokens, zero the rest, renormalise."""
    values, indices = probs.topk(k)
    kept = torch.zeros_like(probs).scatter(-1, indices, values)
    return kept / kept.sum(dim=-1, keepdim=True)


def top_p_filter(probs: Tensor, p: float) -> Tensor:
    """Keep the smallest set of most likely tokens with total probability >= p, renormalise."""
    sorted_probs, order = probs.sort(descending=True)
    cumulative = sorted_probs.cumsum(dim=-1)
    # The mass before token i is cumulative - sorted_probs; keep i while that is still short of p.
    keep_sorted = (cumulative - sorted_probs) < p
    kept = torch.zeros_like(probs).scatter(-1, order, sorted_probs * keep_sorted)
    return kept / kept.sum(dim=-1, keepdim=True)


# Check each definition on a random distribution over 512 tokens.
logits = 2.0 * torch.randn(512, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
probs = softmax_with_temperature(logits, 1.0)
torch.testing.assert_close(probs, torch.softmax(logits, dim=-1))

for k in (1, 5, 40):
    filtered = top_k_filter(probs, k)
    kept = filtered > 0
    assert kept.sum() == k, "top-k keeps exactly k tokens"
    assert probs[kept].min() > probs[~kept].max(), "... and they are the k most likely"
    torch.testing.assert_close(filtered.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(filtered[kept], probs[kept] / probs[kept].sum())  # ratios unchanged

for p in (0.1, 0.5, 0.9, 0.99):
    filtered = top_p_filter(probs, p)
    kept = filtered > 0
    kept_mass = probs[kept].sum()
    assert kept_mass >= p, "the nucleus holds at least p of the mass"
    assert kept_mass - probs[kept].min() < p, "... and no smaller set of top tokens does"
    assert probs[kept].min() > probs[~kept].max(), "... and it is made of the most likely tokens"
    torch.testing.assert_close(filtered.sum(), torch.tensor(1.0, dtype=torch.float64))

temperatures = [2.0, 1.0, 0.5, 0.1, 0.01, 0.001]
top_probability = [softmax_with_temperature(logits, t).max().item() for t in temperatures]
assert all(a <= b for a, b in itertools.pairwise(top_probability)), "lower T, sharper distribution"
assert top_probability[-1] > 0.999, "as T -> 0 the distribution approaches a one-hot on the argmax"
assert softmax_with_temperature(logits, 0.001).argmax() == logits.argmax()
hot = softmax_with_temperature(logits, 1000.0)
entropy_hot = -(hot * hot.log()).sum().item()
assert entropy_hot > 0.999 * math.log(512), "as T -> infinity it approaches uniform (entropy log 512)"

# Sampling from a filtered distribution never leaves its support and follows its probabilities.
filtered = top_k_filter(probs, 5)
draws = torch.multinomial(filtered, 20_000, replacement=True, generator=torch.Generator().manual_seed(2))
frequencies = torch.bincount(draws, minlength=512).double() / 20_000
assert set(draws.tolist()) <= set(filtered.nonzero().flatten().tolist())
assert (frequencies - filtered).abs().max() < 0.02
print("temperature, top-k and top-p match their definitions")
print(
    "largest probability by temperature:",
    dict(zip(temperatures, [round(p, 3) for p in top_probability], strict=True)),
)

# %% [markdown]
# Now the same filters on a real distribution: the model's prediction after a
# docstring-like prompt. Each panel shows the 15 most likely tokens (`␣` is a
# space) under one setting, with how many tokens keep a nonzero probability.


# %%
def context_ids(prompt: str) -> Tensor:
    """The last CONTEXT token ids of the prompt, as a batch of one."""
    ids = lm_tokenizer.encode(prompt)
    assert len(ids) >= CONTEXT, "the prompt must be at least CONTEXT tokens long"
    return torch.tensor(ids[-CONTEXT:])[None]


def label(token_id: int) -> str:
    return lm_tokenizer.decode([token_id]).replace(" ", "␣").replace("\n", "\\n")


prompt = "Return a new list containing the"
with torch.no_grad():
    next_logits = model(context_ids(prompt))[0].double()
settings = {
    "T = 1 (unfiltered)": softmax_with_temperature(next_logits, 1.0),
    "T = 0.5": softmax_with_temperature(next_logits, 0.5),
    "top-k, k = 5": top_k_filter(softmax_with_temperature(next_logits, 1.0), 5),
    "top-p, p = 0.9": top_p_filter(softmax_with_temperature(next_logits, 1.0), 0.9),
}
for distribution in settings.values():
    torch.testing.assert_close(distribution.sum(), torch.tensor(1.0, dtype=torch.float64))
shown = settings["T = 1 (unfiltered)"].topk(15).indices

fig, axes = plt.subplots(1, 4, figsize=(13, 4), sharey=True)
for ax, (name, distribution) in zip(axes, settings.items(), strict=True):
    ax.bar(range(15), distribution[shown])
    ax.set_xticks(range(15), [label(int(i)) for i in shown], rotation=90)
    ax.set_title(f"{name}\n{int((distribution > 0).sum())} tokens possible")
axes[0].set_ylabel(f"P(next token | {prompt!r})")
fig.suptitle("One next-token distribution, four ways to sample from it")
plt.tight_layout()
plt.show()

# %% [markdown]
# All four panels share the model's ranking; only the shape changes. Lowering
# the temperature moves probability from the tail to the head. Top-k cuts the
# tail at a fixed count whatever the shape, top-p cuts it where the
# cumulative mass reaches 90%: the number of surviving tokens adapts to how
# confident the model is in this context.
#
# Finally, a few generations. They will not make much sense: the model sees
# eight tokens of context and was trained on 150 kB of text in a few seconds.
# But the style, the vocabulary, and the local grammar of Python docstrings
# are already there.


# %%
@torch.no_grad()
def generate(
    prompt: str,
    n_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
) -> str:
    """Sample n_tokens after the prompt; temperature 0 means greedy."""
    sampling_generator = torch.Generator().manual_seed(seed)
    ids = lm_tokenizer.encode(prompt)
    assert len(ids) >= CONTEXT, "the prompt must be at least CONTEXT tokens long"
    for _ in range(n_tokens):
        logits = model(torch.tensor(ids[-CONTEXT:])[None])[0]
        if temperature == 0:
            ids.append(int(logits.argmax()))
            continue
        probs = softmax_with_temperature(logits, temperature)
        if top_k is not None:
            probs = top_k_filter(probs, top_k)
        if top_p is not None:
            probs = top_p_filter(probs, top_p)
        ids.append(int(torch.multinomial(probs, 1, generator=sampling_generator)))
    return lm_tokenizer.decode(ids)


for description, options in [
    ("greedy", {"temperature": 0}),
    ("T=0.8, top-p=0.9", {"temperature": 0.8, "top_p": 0.9}),
    ("T=1.0, top-k=20", {"temperature": 1.0, "top_k": 20}),
]:
    text = generate("Return the number of items in the", 30, **options)
    print(f"--- {description}\n{text}")

# %% [markdown]
# Sampling with a moderate temperature and a top-p or top-k cut gives varied
# text while avoiding most of the wild tokens of the raw distribution's tail.
# Greedy decoding has a subtler problem. Our model sees only the last 8 tokens,
# so greedy decoding is a fixed function of those 8 tokens: as soon as an
# 8-token window comes back, the text repeats *forever*. Let us generate 150
# tokens both ways and count the fraction of distinct 4-token sequences (1.0
# means no repetition at all).


# %%
def distinct_fraction(ids: list[int], n: int = 4) -> float:
    """Fraction of the n-grams of ids that are distinct."""
    ngrams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    return len(set(ngrams)) / len(ngrams)


long_prompt = "If the optional argument is not given, return the"
greedy_text = generate(long_prompt, 150, temperature=0)
sampled_text = generate(long_prompt, 150, temperature=0.8, top_p=0.9)
greedy_distinct = distinct_fraction(lm_tokenizer.encode(greedy_text))
sampled_distinct = distinct_fraction(lm_tokenizer.encode(sampled_text))
print(f"distinct 4-grams: greedy {greedy_distinct:.2f}, T=0.8 top-p=0.9 {sampled_distinct:.2f}")
print("end of the greedy text:", repr(greedy_text[-120:]))
assert greedy_distinct < 0.8 < sampled_distinct, (
    "greedy decoding should fall into a loop, sampling should not"
)

# %% [markdown]
# The end of the greedy text is one phrase over and over. Larger models with
# long contexts loop less blatantly, but the tendency of greedy (and beam)
# search to repeat itself is real, and one reason why chat models sample.
#
# ## What to try next
#
# 1. Train the language model on the 256-byte vocabulary and on the 1024-token
#    one. Compare them in per-token perplexity and in bits per byte: which
#    comparison is fair?
# 2. Add a count-based **bigram** baseline (add-one smoothed) and see how much
#    of the MLP's gain over the unigram it already captures.
# 3. Implement **min-p** sampling (keep tokens with probability at least
#    $p_{\min}$ times the top probability) and assert its definition like the
#    others.
# 4. Train the tokenizer without the chunking regex (merging across spaces).
#    What do the last merges look like, and does validation compression
#    improve or degrade?
