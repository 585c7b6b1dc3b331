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
# # NLP foundations and word embeddings
#
# Before a language model can do anything with text, the text has to become
# numbers. This notebook follows that path the way NLP did historically: clean
# and split the text into tokens, count them, represent documents as count
# vectors (bag of words, TF-IDF), and finally learn **dense word vectors**
# (word2vec) whose geometry reflects meaning. The embedding table that word2vec
# learns is exactly the first layer of every LLM.
#
# **What you will build**
#
# - text normalisation and a regex word tokeniser, on a corpus of Python
#   standard-library docstrings (offline, nothing downloaded);
# - a vocabulary with a frequency cutoff, and a look at Zipf's law;
# - bag-of-words and TF-IDF from scratch, checked against a hand computation;
# - skip-gram word2vec with negative sampling from scratch in PyTorch,
#   including subsampling and the unigram$^{0.75}$ noise distribution;
# - checks and pictures of what the embeddings learned: nearest neighbours, a
#   PCA projection, and co-occurring words vs random pairs.

# %%
# The path's shared code lives in packages beside the notebooks; run alone (as in Colab), fetch them.
try:
    import exercises
except ModuleNotFoundError:
    import importlib, io, pathlib, urllib.request, zipfile

    packages = ("exercises",)
    url = "https://github.com/llm-path/llm-path/archive/refs/heads/main.zip"
    with zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(url, timeout=60).read())) as archive:
        for member in archive.namelist():
            package, _, file = member.partition("/notebooks/")[2].partition("/")
            if package in packages and file.endswith(".py") and "/" not in file:
                pathlib.Path(package).mkdir(exist_ok=True)
                pathlib.Path(package, file).write_bytes(archive.read(member))
    importlib.invalidate_caches()
    import exercises

# %%
import importlib
import inspect
import math
import os
import re
import unicodedata
from collections import Counter
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
torch.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A corpus, normalised and tokenised
#
# Our corpus is the documentation that ships with Python: the docstrings of 84
# standard-library modules and of their public classes, functions and methods.
# It is about 100,000 words of technical English about files, sockets, threads,
# numbers and text, so we can expect word vectors to pick up those topics.

# %%
MODULE_NAMES = [
    "collections", "itertools", "functools", "json", "re", "string", "textwrap",
    "typing", "pathlib", "argparse", "datetime", "random", "statistics",
    "fractions", "decimal", "heapq", "bisect", "csv", "logging", "unittest",
    "os", "shutil", "subprocess", "socket", "threading", "asyncio",
    "email.message", "http.client", "urllib.request", "urllib.parse",
    "xml.etree.ElementTree", "sqlite3", "tarfile", "zipfile", "inspect", "ast",
    "dataclasses", "enum", "contextlib", "io", "pickle", "pprint", "calendar",
    "difflib", "configparser", "optparse", "imaplib", "smtplib", "ftplib",
    "mailbox", "tempfile", "glob", "fnmatch", "operator", "copy", "weakref",
    "queue", "sched", "selectors", "codecs", "unicodedata", "locale", "gettext",
    "doctest", "pdb", "timeit", "trace", "tracemalloc", "multiprocessing",
    "concurrent.futures", "numbers", "math", "cmath", "hashlib", "hmac",
    "secrets", "base64", "binascii", "struct", "array", "zlib", "gzip", "bz2",
    "lzma",
]  # fmt: skip


def load_docstrings(module_names: list[str]) -> dict[str, list[str]]:
    """Docstrings of each module and of its public classes, functions and methods."""
    seen: set[str] = set()
    by_module: dict[str, list[str]] = {}
    for name in module_names:
        module = importlib.import_module(name)
        objects: list[object] = [module]
        for attr_name, obj in sorted(vars(module).items()):
            if attr_name.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue
            objects.append(obj)
            if inspect.isclass(obj):
                objects += [
                    m for n, m in sorted(vars(obj).items()) if not n.startswith("_") and inspect.isroutine(m)
                ]
        docs = []
        for obj in objects:
            doc = inspect.getdoc(obj)
            if doc and doc not in seen:  # classes without a docstring inherit their parent's
                seen.add(doc)
                docs.append(doc)
        by_module[name] = docs
    return by_module


docs_by_module = load_docstrings(MODULE_NAMES)
print(f"{sum(len(d) for d in docs_by_module.values())} docstrings from {len(docs_by_module)} modules")
print("sample:", docs_by_module["json"][0][:160].replace("\n", " "), "...")

# %% [markdown]
# **Normalisation** makes equivalent strings identical before we count them.
# Unicode NFKC folds compatibility characters (the ligature `ﬁ` becomes `fi`,
# full-width letters become ASCII), and lowercasing merges `Return` and
# `return`. **Tokenisation** then splits the text into words. A regular
# expression is enough for English prose: runs of letters, optionally with an
# apostrophe inside (`don't`). Everything else (digits, punctuation, `_`) acts
# as a separator, so `os.path.join` becomes three tokens.
#
# Modern LLMs use *subword* tokenisers (BPE) instead of words, so that every
# string, including code and typos, can be encoded with a fixed vocabulary.
# Word-level tokens are simpler and fine for learning the ideas here.

# %%
WORD_PATTERN = re.compile(r"[a-z]+(?:'[a-z]+)?")


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def tokenise(text: str) -> list[str]:
    return WORD_PATTERN.findall(normalise(text))


example = "Return a NEW list; don't modify the ﬁle (see os.path.join)!"
assert tokenise(example) == [
    "return", "a", "new", "list", "don't", "modify", "the", "file", "see", "os", "path", "join",
]  # fmt: skip
print(tokenise(example))

sentences = [tokenise(doc) for docs in docs_by_module.values() for doc in docs]
tokens = [token for sentence in sentences for token in sentence]
word_counts = Counter(tokens)
print(f"{len(tokens):,} tokens, {len(word_counts):,} distinct words")

# %% [markdown]
# ## 2. Vocabulary and Zipf's law
#
# A **vocabulary** maps each kept word to an integer id. Rare words are dropped
# (or mapped to a shared `<unk>` id): they cost a row of parameters each but
# appear too seldom to learn anything about. We keep words seen at least 25
# times, sort by frequency (ties alphabetically, so ids are reproducible) and
# reserve id 0 for `<unk>`.

# %%
MIN_COUNT = 25
UNK = "<unk>"


def build_vocab(counts: Counter, min_count: int) -> list[str]:
    kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
    return [UNK, *kept]


vocab = build_vocab(word_counts, MIN_COUNT)
word_to_id = {word: i for i, word in enumerate(vocab)}


def encode(words: list[str]) -> list[int]:
    return [word_to_id.get(w, 0) for w in words]


assert all((w in word_to_id) == (n >= MIN_COUNT) for w, n in word_counts.items())
assert [vocab[i] for i in encode(["the", "file", "socket"])] == ["the", "file", "socket"]
assert encode(["qwertyuiop"]) == [0], "unknown words map to <unk>"

coverage = sum(word_counts[w] for w in vocab[1:]) / len(tokens)
singletons = sum(1 for n in word_counts.values() if n == 1)
print(f"vocabulary: {len(vocab)} ids; they cover {coverage:.1%} of all tokens")
print(
    f"{singletons:,} of {len(word_counts):,} distinct words ({singletons / len(word_counts):.0%}) occur exactly once"
)
assert coverage > 0.75, "a few hundred words cover most of the text"

# %% [markdown]
# A vocabulary of a few hundred words (under a fifth of the distinct words)
# covers most of the running text, while a large share of distinct words occur
# only once. That imbalance is **Zipf's law**: the $r$-th most frequent word
# has frequency roughly proportional to $1/r$, so on a log-log plot frequency
# against rank is close to a straight line of slope $-1$. We fit the slope by
# least squares over ranks 10 to 1000.

# %%
frequencies = np.array(sorted(word_counts.values(), reverse=True), dtype=float)
ranks = np.arange(1, len(frequencies) + 1)
fit_range = slice(9, 1000)
slope, intercept = np.polyfit(np.log(ranks[fit_range]), np.log(frequencies[fit_range]), 1)
print(f"fitted Zipf exponent: frequency ~ rank^{slope:.2f}")
assert -1.5 < slope < -0.7, "close to the classic exponent -1"

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(ranks, frequencies, ".", ms=3, label="words in the corpus")
ax.loglog(
    ranks[fit_range], np.exp(intercept) * ranks[fit_range] ** slope, "r-", label=f"fit: slope {slope:.2f}"
)
ax.axhline(MIN_COUNT, color="grey", ls=":", label=f"vocabulary cutoff ({MIN_COUNT} occurrences)")
for r in (1, 2, 3, 10, 100):
    ax.annotate(vocab[r], (r, frequencies[r - 1]), xytext=(5, 3), textcoords="offset points", fontsize=8)
ax.set_xlabel("rank r")
ax.set_ylabel("frequency")
ax.set_title("Zipf's law in Python docstrings")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** The points form a nearly straight line over three orders
# of magnitude: a few function words (`the`, `a`, `is`) are extremely common,
# and a long tail of words appears once or twice. The tail is why word-level
# vocabularies never cover everything, and one motivation for subword
# tokenisers. The flat steps at the bottom right are the many words that share
# the same small count.
#
# ## 3. Bag of words and TF-IDF
#
# The simplest document representation forgets word order: a **bag of words**
# vector counts how often each vocabulary word occurs. Raw counts are
# dominated by words like `the` that occur everywhere and say nothing about the
# topic. **TF-IDF** reweights each count by how rare the word is across the
# $N$ documents:
#
# $$\text{tfidf}(t, d) = \text{tf}(t, d)\cdot\log\frac{N}{\text{df}(t)},$$
#
# where $\text{tf}(t, d)$ is the count of term $t$ in document $d$ and
# $\text{df}(t)$ is the number of documents containing $t$. A word that appears
# in every document gets weight $\log 1 = 0$. (Libraries use variants with
# smoothing and normalisation; this is the textbook form.)


# %%
def bag_of_words(documents: list[list[str]], terms: list[str]) -> np.ndarray:
    index = {t: i for i, t in enumerate(terms)}
    counts = np.zeros((len(documents), len(terms)))
    for row, doc in enumerate(documents):
        for token in doc:
            if token in index:
                counts[row, index[token]] += 1
    return counts


def tf_idf(counts: np.ndarray) -> np.ndarray:
    n_docs = counts.shape[0]
    document_frequency = (counts > 0).sum(axis=0)
    idf = np.log(n_docs / np.maximum(document_frequency, 1))
    return counts * idf


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return unit @ unit.T


# %% [markdown]
# A tiny example we can do by hand. Three documents:
#
# | document | text |
# |---|---|
# | $d_0$ | the cat sat on the mat |
# | $d_1$ | the dog sat on the log |
# | $d_2$ | the cat chased the dog |
#
# With the terms in alphabetical order (cat, chased, dog, log, mat, on, sat,
# the), the document frequencies are 2, 1, 2, 1, 1, 2, 2, 3, so the idf is
# $a = \ln\frac32$ for the words in two documents, $b = \ln 3$ for those in one,
# and 0 for `the`. For example $d_0$ has cat, on, sat once each (weight $a$),
# mat once (weight $b$), and the twice (weight 0). Cosine similarities follow:
# $d_0$ and $d_1$ share `on` and `sat`, so
# $\cos(d_0, d_1) = \frac{2a^2}{3a^2 + b^2}$; $d_0$ and $d_2$ share only `cat`,
# so $\cos(d_0, d_2) = \frac{a^2}{\sqrt{3a^2 + b^2}\sqrt{2a^2 + b^2}}$.

# %%
toy_docs = [
    tokenise(s) for s in ["the cat sat on the mat", "the dog sat on the log", "the cat chased the dog"]
]
toy_terms = sorted({t for doc in toy_docs for t in doc})
assert toy_terms == ["cat", "chased", "dog", "log", "mat", "on", "sat", "the"]

toy_counts = bag_of_words(toy_docs, toy_terms)
assert toy_counts.tolist() == [
    [1, 0, 0, 0, 1, 1, 1, 2],
    [0, 0, 1, 1, 0, 1, 1, 2],
    [1, 1, 1, 0, 0, 0, 0, 2],
]
a, b = math.log(3 / 2), math.log(3)
expected_tfidf = np.array([
    [a, 0, 0, 0, b, a, a, 0],
    [0, 0, a, b, 0, a, a, 0],
    [a, b, a, 0, 0, 0, 0, 0],
])  # fmt: skip
toy_tfidf = tf_idf(toy_counts)
np.testing.assert_allclose(toy_tfidf, expected_tfidf, rtol=1e-12)
similarity = cosine_matrix(toy_tfidf)
np.testing.assert_allclose(similarity[0, 1], 2 * a**2 / (3 * a**2 + b**2), rtol=1e-12)
np.testing.assert_allclose(similarity[0, 2], a**2 / math.sqrt((3 * a**2 + b**2) * (2 * a**2 + b**2)), rtol=1e-12)
print("TF-IDF matrix and cosines match the hand computation:")
print(np.round(similarity, 3))

# %% [markdown]
# Now the real corpus, with each **module** as one document. The words with the
# highest TF-IDF in a module are frequent there but rare elsewhere: a crude but
# useful summary of what the module is about, and, until dense embeddings,
# the backbone of search engines.

# %%
module_docs = [[t for doc in docs for t in tokenise(doc)] for docs in docs_by_module.values()]
module_counts = bag_of_words(module_docs, vocab[1:])
module_tfidf = tf_idf(module_counts)
module_index = {name: i for i, name in enumerate(docs_by_module)}
for name in ["json", "socket", "datetime", "threading", "zipfile"]:
    top_terms = [vocab[1:][j] for j in np.argsort(-module_tfidf[module_index[name]])[:6]]
    print(f"{name:>10}: {', '.join(top_terms)}")

module_df = (module_counts > 0).sum(axis=0)
df_the = int(module_df[vocab[1:].index("the")])
print(
    f"'the' occurs in {df_the} of {len(module_docs)} modules: idf {math.log(len(module_docs) / df_the):.3f}"
)
assert df_the == module_df.max(), "no word is spread more evenly than 'the', so none has a lower idf"

# %% [markdown]
# ## 4. Word2vec: skip-gram with negative sampling
#
# Count vectors treat `file` and `directory` as unrelated as `file` and
# `seconds`. The **distributional hypothesis** says words that appear in
# similar contexts have similar meanings, and **word2vec** (Mikolov et al.,
# 2013) turns it into a learning problem. Each word $w$ gets two vectors: an
# input vector $v_w$ (used when $w$ is the centre word) and an output vector
# $u_w$ (used when $w$ is a context word). **Skip-gram** wants $u_o^\top v_c$
# to be large when $o$ appears within a few positions of $c$.
#
# A full softmax over the vocabulary for every pair is expensive. **Negative
# sampling** replaces it with binary logistic regression: tell the real context
# word apart from $K$ random "noise" words $n_1, \dots, n_K$:
#
# $$\ell(c, o) = -\log\sigma(u_o^\top v_c) - \sum_{k=1}^{K}\log\sigma(-u_{n_k}^\top v_c).$$
#
# Two details matter in practice:
#
# - **noise distribution** $P_n(w) \propto \text{count}(w)^{0.75}$: the power
#   flattens the unigram distribution, so rare words are drawn as negatives more
#   often than their frequency alone would give;
# - **subsampling**: each occurrence of a very frequent word is dropped with a
#   probability that grows with its frequency $f$ (we keep it with probability
#   $\min(1, \sqrt{t/f} + t/f)$, $t = 10^{-3}$, as in the word2vec code). Pairs
#   like (`the`, `file`) carry little information and would otherwise dominate.

# %%
counts = np.array([0] + [word_counts[w] for w in vocab[1:]], dtype=float)  # <unk> is never sampled
unigram = counts / counts.sum()
noise_probs = counts**0.75 / (counts**0.75).sum()
assert math.isclose(noise_probs.sum(), 1.0)
flattening = (unigram[1] / unigram[-1], noise_probs[1] / noise_probs[-1])
assert math.isclose(flattening[1], flattening[0] ** 0.75), "the power 0.75 shrinks every ratio"
print(
    f"'the' vs rarest vocabulary word: {flattening[0]:.0f}x as frequent, {flattening[1]:.0f}x as likely as noise"
)

SUBSAMPLE_T = 1e-3
keep_prob = np.minimum(
    1.0, np.sqrt(SUBSAMPLE_T / np.maximum(unigram, 1e-12)) + SUBSAMPLE_T / np.maximum(unigram, 1e-12)
)
assert keep_prob[word_to_id["the"]] < 0.3 and keep_prob[-1] == 1.0
print(
    f"keep probability: 'the' {keep_prob[word_to_id['the']]:.2f}, 'file' {keep_prob[word_to_id['file']]:.2f}, rare words 1.00"
)


# %% [markdown]
# Training pairs come from a window of 2 words on each side of every position,
# within each docstring (a window never crosses from one docstring into the
# next). Rather than looping over positions, we pair the id array with shifted
# copies of itself, and check that against the obvious loop on a short example.


# %%
def skipgram_pairs(ids: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """All (centre, context) pairs with 1 <= |offset| <= window, in both directions."""
    centres, contexts = [], []
    for offset in range(1, window + 1):
        centres += [ids[:-offset], ids[offset:]]
        contexts += [ids[offset:], ids[:-offset]]
    return np.concatenate(centres), np.concatenate(contexts)


short = np.array([10, 11, 12, 13])
pairs = set(zip(*skipgram_pairs(short, window=2), strict=True))
expected_pairs = {(short[i], short[j]) for i in range(4) for j in range(4) if 0 < abs(i - j) <= 2}
assert pairs == expected_pairs

WINDOW = 2


def training_pairs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(centre, context) ids from every docstring, after subsampling frequent words with `seed`."""
    generator = np.random.default_rng(seed)
    centre_list, context_list = [], []
    for sentence in sentences:
        ids = np.array([i for i in encode(sentence) if i != 0], dtype=np.int64)  # drop out-of-vocabulary words
        ids = ids[generator.random(len(ids)) < keep_prob[ids]]  # subsample frequent words
        if len(ids) > 1:
            c, o = skipgram_pairs(ids, WINDOW)
            centre_list.append(c)
            context_list.append(o)
    return torch.from_numpy(np.concatenate(centre_list)), torch.from_numpy(np.concatenate(context_list))


centres, contexts = training_pairs(seed=0)
print(f"{len(centres):,} (centre, context) training pairs")

# %% [markdown]
# The model is just two embedding tables. The loss is written from scratch:
# $-\log\sigma(x) = \log(1 + e^{-x})$, computed as
# $\max(-x, 0) + \log(1 + e^{-|x|})$ so that it neither overflows for very
# negative $x$ nor loses precision for large $x$. Following the original code,
# input vectors start small and random and output vectors start at zero, so
# every score is 0 at the start and the first loss is exactly
# $(K + 1)\log 2$: the model is maximally unsure.


# %%
class SkipGram(torch.nn.Module):
    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.input_vectors = torch.nn.Embedding(vocab_size, dim)
        self.output_vectors = torch.nn.Embedding(vocab_size, dim)
        torch.nn.init.uniform_(self.input_vectors.weight, -0.5 / dim, 0.5 / dim)
        torch.nn.init.zeros_(self.output_vectors.weight)

    def scores(
        self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Dot products u_o . v_c of shape (B,) and u_n . v_c of shape (B, K)."""
        v = self.input_vectors(centre)  # (B, D)
        positive = (self.output_vectors(context) * v).sum(-1)
        negative = torch.bmm(self.output_vectors(negatives), v.unsqueeze(2)).squeeze(2)
        return positive, negative


def neg_log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """-log(sigmoid(x)) = log(1 + exp(-x)), stable for any x."""
    return torch.clamp(-x, min=0) + torch.log1p(torch.exp(-x.abs()))


def negative_sampling_loss(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    return (neg_log_sigmoid(positive) + neg_log_sigmoid(-negative).sum(-1)).mean()


EMBED_DIM, NUM_NEGATIVES, BATCH_SIZE, EPOCHS = 32, 5, 2048, 2
noise = torch.from_numpy(noise_probs)


def sample_negatives(batch_size: int, generator: torch.Generator) -> torch.Tensor:
    flat = torch.multinomial(noise, batch_size * NUM_NEGATIVES, replacement=True, generator=generator)
    return flat.view(batch_size, NUM_NEGATIVES)


first_batch = slice(0, BATCH_SIZE)
with torch.no_grad():
    negatives = sample_negatives(BATCH_SIZE, torch.Generator().manual_seed(0))
    untrained = SkipGram(len(vocab), EMBED_DIM)
    initial_loss = negative_sampling_loss(
        *untrained.scores(centres[first_batch], contexts[first_batch], negatives)
    ).item()
assert math.isclose(initial_loss, (NUM_NEGATIVES + 1) * math.log(2), rel_tol=1e-6)
print(f"initial loss {initial_loss:.4f} = (K + 1) log 2 = {(NUM_NEGATIVES + 1) * math.log(2):.4f}")

# %% [markdown]
# Training: shuffle the pairs each epoch, draw fresh negatives for every batch,
# and update both tables with Adam.

# %%
def train_skipgram(centres: torch.Tensor, contexts: torch.Tensor, seed: int) -> tuple[SkipGram, list[float]]:
    """Skip-gram with negative sampling; `seed` sets the initial vectors, the batch order and the negatives."""
    torch.manual_seed(seed)
    model = SkipGram(len(vocab), EMBED_DIM)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    step_losses = []
    for _ in range(EPOCHS):
        order = torch.randperm(len(centres), generator=generator)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            negatives = sample_negatives(len(batch), generator)
            loss = negative_sampling_loss(*model.scores(centres[batch], contexts[batch], negatives))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step_losses.append(loss.item())
    return model, step_losses


model, step_losses = train_skipgram(centres, contexts, seed=0)
steps_per_epoch = math.ceil(len(centres) / BATCH_SIZE)
for epoch in range(EPOCHS):
    epoch_losses = step_losses[epoch * steps_per_epoch : (epoch + 1) * steps_per_epoch]
    print(f"epoch {epoch + 1}: mean loss {np.mean(epoch_losses):.3f}")

final_loss = float(np.mean(step_losses[-steps_per_epoch:]))
assert final_loss < 0.75 * initial_loss, "the loss fell well below its starting value"

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(step_losses, lw=0.6, alpha=0.5, label="per batch")
smooth = np.convolve(step_losses, np.ones(20) / 20, mode="valid")
ax.plot(np.arange(19, len(step_losses)), smooth, label="moving average (20 batches)")
ax.axhline(initial_loss, color="grey", ls=":", label="(K + 1) log 2, the starting loss")
ax.set_xlabel("training step")
ax.set_ylabel("negative-sampling loss")
ax.set_title("Skip-gram training")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** The loss drops fast in the first few dozen steps (the
# model learns which words are frequent contexts at all) and then slowly (it
# learns which contexts go with which words). It cannot reach 0: the same
# centre word genuinely occurs with many different contexts.
#
# Before trusting our hand-written loss, we compare it on one batch of the
# trained model with PyTorch's `F.logsigmoid`, now that the scores are no
# longer all zero.

# %%
with torch.no_grad():
    positive, negative = model.scores(centres[:512], contexts[:512], sample_negatives(512, torch.Generator().manual_seed(1)))
    ours = negative_sampling_loss(positive, negative)
    reference = -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1)).mean()
torch.testing.assert_close(ours, reference)
extreme = torch.tensor([-100.0, -5.0, 0.0, 5.0, 100.0])
torch.testing.assert_close(neg_log_sigmoid(extreme), -F.logsigmoid(extreme))
print(f"our loss {ours.item():.6f}, F.logsigmoid reference {reference.item():.6f}")

# %% [markdown]
# ## 5. What the embeddings learned
#
# We use the input vectors as the word embeddings and compare words by
# **cosine similarity** $\cos(x, y) = \frac{x^\top y}{\lVert x\rVert\lVert y\rVert}$.
# First, the nearest neighbours of a few words.

# %%
embeddings = model.input_vectors.weight.detach().numpy().astype(np.float64)
unit_embeddings = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)


def nearest(word: str, k: int = 5) -> list[str]:
    similarities = unit_embeddings @ unit_embeddings[word_to_id[word]]
    similarities[[0, word_to_id[word]]] = -np.inf  # skip <unk> and the word itself
    return [vocab[i] for i in np.argsort(-similarities)[:k]]


for word in ["file", "socket", "thread", "encoding", "error", "number"]:
    print(f"{word:>9} -> {', '.join(nearest(word))}")

# %% [markdown]
# The neighbours are usually topical: file-system words near `file`, network
# words near `socket`, concurrency words near `thread`. With only about 100,000
# words of training text they are noisier than embeddings trained on billions
# of words, but the structure is already there.
#
# A quantitative sanity check: words that often appear together should end up
# closer than random pairs of words. We take the 500 most frequent distinct
# (centre, context) pairs and compare their average cosine with that of 2000
# random pairs, and ask for a clear margin.

# %%
pair_counts = Counter(zip(centres.tolist(), contexts.tolist(), strict=True))
frequent_pairs = [(c, o) for (c, o), _ in pair_counts.most_common() if c < o][:500]
random_pairs = [(int(c), int(o)) for c, o in rng.integers(1, len(vocab), size=(2000, 2)) if c != o]


def mean_cosine(unit: np.ndarray, pairs: list[tuple[int, int]]) -> float:
    return float(np.mean([unit[c] @ unit[o] for c, o in pairs]))


cos_frequent, cos_random = mean_cosine(unit_embeddings, frequent_pairs), mean_cosine(unit_embeddings, random_pairs)
print(f"mean cosine: co-occurring pairs {cos_frequent:.3f}, random pairs {cos_random:.3f}")
assert cos_frequent > cos_random + 0.1, "co-occurring words are closer than random pairs"

# %% [markdown]
# Is that margin a property of word2vec or of one lucky run? Two more runs,
# each with its own subsampling, initial vectors, batch order and negatives,
# and, as the baseline, the untrained vectors the runs start from:


# %%
def unit_rows(vectors: torch.Tensor) -> np.ndarray:
    rows = vectors.detach().numpy().astype(np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def margin(unit: np.ndarray) -> float:
    return mean_cosine(unit, frequent_pairs) - mean_cosine(unit, random_pairs)


margins = {0: cos_frequent - cos_random}
for seed in (1, 2):
    margins[seed] = margin(unit_rows(train_skipgram(*training_pairs(seed), seed=seed)[0].input_vectors.weight))
untrained_margin = margin(unit_rows(untrained.input_vectors.weight))
values = np.array(list(margins.values()))
print("margin (co-occurring minus random mean cosine) by seed:", {s: round(m, 3) for s, m in margins.items()})
print(f"mean {values.mean():.3f}, range {values.min():.3f} to {values.max():.3f}; untrained vectors {untrained_margin:+.3f}")
assert values.min() > 0.1 and abs(untrained_margin) < 0.05, "the margin comes from training, on every seed"

# %% [markdown]
# The margin agrees to about two digits on all three seeds, and the untrained
# vectors have none: it is learnt, not an accident of one run. Random pairs
# have a positive average cosine too: word2vec vectors share a
# common direction (related to word frequency), a known quirk of these
# embeddings. The margin over random pairs is what carries meaning.
#
# **A picture.** The vectors live in 32 dimensions. **PCA** finds the two
# orthogonal directions along which the chosen vectors vary most: centre the
# vectors, take the SVD $X = U\Sigma V^\top$, and project onto the first two
# columns of $V$. The variance along each direction is $\sigma_i^2 / (n-1)$,
# which must equal the top eigenvalues of the covariance matrix.

# %%
word_groups = {
    "files": ["file", "directory", "path", "read", "write", "open", "close", "buffer"],
    "network": ["socket", "server", "response", "connection", "host", "port", "address", "url"],
    "text": ["string", "character", "characters", "ascii", "encoding", "decode", "encode", "text"],
    "numbers": ["integer", "float", "number", "decimal", "int", "numeric", "complex", "negative"],
    "concurrency": ["thread", "lock", "process", "queue", "task", "future", "coroutine", "wait"],
}
chosen = [w for words in word_groups.values() for w in words]
assert all(w in word_to_id for w in chosen)
chosen_vectors = unit_embeddings[[word_to_id[w] for w in chosen]]

centred = chosen_vectors - chosen_vectors.mean(axis=0)
_, singular_values, components = np.linalg.svd(centred, full_matrices=False)
projected = centred @ components[:2].T
pca_variance = singular_values[:2] ** 2 / (len(chosen) - 1)
eigenvalues = np.linalg.eigvalsh(np.cov(centred, rowvar=False))[::-1]
np.testing.assert_allclose(pca_variance, eigenvalues[:2], rtol=1e-8)
np.testing.assert_allclose(projected.var(axis=0, ddof=1), pca_variance, rtol=1e-8)
explained = pca_variance / eigenvalues.sum()
print(f"the first two components explain {explained.sum():.0%} of the variance of these words")

fig, ax = plt.subplots(figsize=(7, 5))
start = 0
for group, words in word_groups.items():
    points = projected[start : start + len(words)]
    ax.scatter(points[:, 0], points[:, 1], s=20, label=group)
    for word, (x, y) in zip(words, points, strict=True):
        ax.annotate(word, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8)
    start += len(words)
ax.set_xlabel(f"principal component 1 ({explained[0]:.0%} of variance)")
ax.set_ylabel(f"principal component 2 ({explained[1]:.0%} of variance)")
ax.set_title("Word2vec embeddings projected with PCA")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **What to notice.** Words from the same topic tend to land near each other,
# though the groups overlap: two dimensions keep only a part of the variance,
# and a small corpus gives noisy vectors. Look for the pairs that sit closest
# (`read`/`write`, `host`/`port`, `encode`/`decode` are typical): words that
# fill the same slots in sentences.
#
# **From here to LLMs.** An LLM's first layer is an embedding table just like
# `input_vectors`, trained jointly with the rest of the network rather than on
# its own, over subword tokens instead of words. And the skip-gram objective,
# predicting a word from its neighbours, is a small cousin of the language
# modelling objective: predict the next token from everything before it.
#
# ## What to try next
#
# Two exercises with checks, then more to explore. Each exercise gives a
# function stub that returns `None`; replace its body, run the check cell
# under it, and it prints a verdict. The solutions are folded away under
# each exercise. First, the helpers every check uses, from the `exercises`
# package beside the notebooks.


# %%
from exercises import array_mismatch, check_cases, run_check


# %% [markdown]
# ### Exercise 1: positive pointwise mutual information
#
# Count-based embeddings start from a co-occurrence matrix $C$, where
# $C_{wc}$ counts how often word $w$ appears near context word $c$. Raw
# counts favour frequent words; **PMI** compares each count with what
# independence would predict,
#
# $$\mathrm{PMI}(w, c) = \log\frac{P(w, c)}{P(w)\,P(c)}, \qquad P(w, c) = \frac{C_{wc}}{\sum C},$$
#
# with $P(w)$ and $P(c)$ the row and column sums divided by $\sum C$.
# **PPMI** keeps only the positive values and sets the rest, including the
# $\log 0$ of pairs never seen, to 0. (Levy and Goldberg showed in 2014 that
# skip-gram with negative sampling implicitly factorises this matrix, shifted
# by $\log K$.) Write `ppmi(counts)` without a loop; the check compares it
# with the definition applied cell by cell.


# %%
def ppmi(counts: np.ndarray) -> np.ndarray | None:
    """Positive PMI of a (words, contexts) co-occurrence count matrix, 0 where a count is 0."""
    return None  # your code here


# %%
def check_ppmi(candidate) -> None:
    generator = np.random.default_rng(1)
    cases = []
    for rows, cols in [(2, 2), (5, 7), (12, 9)]:
        counts = generator.poisson(2.0, size=(rows, cols)).astype(float)
        counts[0, 0], counts[-1, -1] = 0.0, 25.0  # one pair never seen, one very frequent
        total = counts.sum()
        expected = np.zeros_like(counts)
        for w in range(rows):
            for c in range(cols):
                if counts[w, c] > 0:
                    pmi = math.log((counts[w, c] / total) / (counts[w].sum() / total * counts[:, c].sum() / total))
                    expected[w, c] = max(pmi, 0.0)
        cases.append(((counts,), expected))
    check_cases(candidate, cases, partial(array_mismatch, rtol=1e-10, atol=1e-12))


print("exercise 1:", run_check(check_ppmi, ppmi))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Broadcast the row and column sums against each other to get the counts
# independence would predict, $\frac{C_{w\cdot}\,C_{\cdot c}}{\sum C}$, and take
# the log of the ratio only where the count is positive (an `np.errstate`
# block or `np.where` before the log keeps $\log 0$ from raising warnings).
#
# ```python
# def ppmi(counts):
#     expected = counts.sum(axis=1, keepdims=True) * counts.sum(axis=0, keepdims=True) / counts.sum()
#     seen = counts > 0
#     pmi = np.zeros_like(counts, dtype=float)
#     pmi[seen] = np.log(counts[seen] / expected[seen])
#     return np.maximum(pmi, 0.0)
# ```
#
# </details>
#
# ### Exercise 2: one merge of byte-pair encoding
#
# Subword tokenisers such as BPE learn their vocabulary by merging: find the
# most frequent pair of adjacent symbols in the corpus, and replace every
# occurrence of it by one new symbol. Write `merge_pair(symbols, pair)` that
# performs one such replacement on a list of symbols, scanning left to
# right, so that `merge_pair(["a", "a", "a"], ("a", "a"))` gives
# `["aa", "a"]` (an occurrence cannot overlap the one just merged). The
# check compares it with a reference on hand-picked and random sequences.


# %%
def merge_pair(symbols: list[str], pair: tuple[str, str]) -> list[str] | None:
    """symbols with every non-overlapping occurrence of `pair`, left to right, joined into one symbol."""
    return None  # your code here


# %%
def check_merge_pair(candidate) -> None:
    generator = np.random.default_rng(2)
    cases = [
        ((list("aaa"), ("a", "a")), ["aa", "a"]),
        ((list("aaaa"), ("a", "a")), ["aa", "aa"]),
        ((["l", "o", "w", "e", "r"], ("l", "o")), ["lo", "w", "e", "r"]),
        ((["th", "e", " ", "th", "e", "n"], ("th", "e")), ["the", " ", "the", "n"]),
        ((list("abc"), ("x", "y")), list("abc")),
        (([], ("a", "b")), []),
    ]
    for _ in range(20):
        symbols = list(generator.choice(list("abc"), size=int(generator.integers(1, 12))))
        pair = tuple(generator.choice(list("abc"), size=2))
        merged, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
                merged.append(symbols[i] + symbols[i + 1])
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        cases.append(((symbols, pair), merged))
    check_cases(
        lambda symbols, pair: candidate(list(symbols), pair),
        cases,
        lambda expected, got: None if list(got) == expected else f"expected {expected}, got {list(got)}",
    )


print("exercise 2:", run_check(check_merge_pair, merge_pair))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Walk with an index; when the pair starts at the current position, emit the
# merged symbol and jump two places, otherwise copy one symbol and move on.
# Joining the list into a string and calling `str.replace` is a tempting
# shortcut that fails once symbols have several characters (it can merge
# across a symbol boundary).
#
# ```python
# def merge_pair(symbols, pair):
#     merged, i = [], 0
#     while i < len(symbols):
#         if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
#             merged.append(symbols[i] + symbols[i + 1])
#             i += 2
#         else:
#             merged.append(symbols[i])
#             i += 1
#     return merged
# ```
#
# </details>
#
# ### More to explore
#
# 1. Remove subsampling (keep every token) and retrain. How do the nearest
#    neighbours of `file` and `the` change, and how much longer is an epoch?
# 2. Replace negative sampling by a full softmax over the vocabulary
#    (`F.cross_entropy` on $v_c^\top U$) and compare loss curves and time per
#    step. Why does this stop being affordable at $V = 50{,}000$?
# 3. Build the PPMI matrix of the docstrings with `ppmi`, take its truncated
#    SVD as 32-dimensional word vectors, and compare their nearest neighbours
#    and margin with word2vec's.
# 4. Use `merge_pair` to train a small BPE: repeat "count adjacent pairs, merge
#    the most frequent" 200 times on the words of the docstrings, and look at
#    the merges it learns first.
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).



# %%
def solution_ppmi(counts):
    expected = counts.sum(axis=1, keepdims=True) * counts.sum(axis=0, keepdims=True) / counts.sum()
    seen = counts > 0
    pmi = np.zeros_like(counts, dtype=float)
    pmi[seen] = np.log(counts[seen] / expected[seen])
    return np.maximum(pmi, 0.0)


def wrong_ppmi(counts):  # the log of raw joint probabilities, with no comparison to independence
    seen = counts > 0
    out = np.zeros_like(counts, dtype=float)
    out[seen] = np.log(counts[seen] / counts.sum())
    return np.maximum(out, 0.0)


def solution_merge_pair(symbols, pair):
    merged, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged


def wrong_merge_pair(symbols, pair):  # merges overlapping occurrences: "aaa" becomes ["aa", "aa"]
    merged = []
    for i, symbol in enumerate(symbols):
        if i + 1 < len(symbols) and (symbol, symbols[i + 1]) == pair:
            merged.append(symbol + symbols[i + 1])
        elif not (i > 0 and (symbols[i - 1], symbol) == pair):
            merged.append(symbol)
    return merged


def untouched(*args):
    return None


for check, solution, wrong in [
    (check_ppmi, solution_ppmi, wrong_ppmi),
    (check_merge_pair, solution_merge_pair, wrong_merge_pair),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, untouched).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
