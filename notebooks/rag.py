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
# # Retrieval-augmented generation, built from the ground up
#
# A language model only knows what was in its training data, frozen at the
# moment training stopped. **Retrieval-augmented generation (RAG)** gives it a
# library: for each question, a *retriever* (also called a *ranker*) finds the
# most relevant passages in a document collection, and the passages are put in
# the prompt so the model can answer from them, cite them, and stay current
# without retraining.
#
# The quality of a RAG system is capped by its retriever: a passage that is not
# retrieved cannot be used. So most of this notebook builds and measures
# retrievers.
#
# **What you will build**
#
# 1. **BM25**, the classic lexical ranker, checked against a hand-computed example.
# 2. **Dense retrieval** with embeddings from a truncated SVD of a TF-IDF matrix
#    (latent semantic analysis), built from scratch.
# 3. **Hybrid retrieval** by reciprocal rank fusion.
# 4. **Recall@k** and **MRR**, evaluated on labelled queries and plotted.
# 5. A **retrieve-then-generate** loop: a prompt built from the top passages and
#    an extractive reader that answers from the prompt alone.
# 6. **Chunking with overlap**, checked to cover the whole text.
#
# Only NumPy and matplotlib are needed; everything runs in seconds.

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
import re
from collections import Counter
from collections.abc import Sequence
from functools import partial
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np

# %% [markdown]
# ## The document collection
#
# Twenty-four short passages on LLM topics, written for this notebook, are the
# documents we will ask about. To make retrieval non-trivial they are hidden
# among a few hundred **distractors**: the first paragraph of every public
# function's docstring in twenty standard-library modules. Each labelled query
# names its relevant passage and the sentence that answers it.

# %%
PASSAGES = {
    "bpe": "Byte pair encoding builds a subword vocabulary by starting from single bytes and repeatedly merging the most frequent adjacent pair. The number of merges sets the vocabulary size. Rare words are split into several known subwords, so no word is ever out of vocabulary.",
    "embeddings": "An embedding layer maps each token id to a learned vector. Tokens used in similar contexts end up with vectors that point in similar directions. The similarity of two embeddings is usually measured with the cosine of the angle between them.",
    "attention": "Scaled dot-product attention compares each query with every key. The scores are divided by the square root of the key dimension before the softmax, which keeps them from growing with the dimension. The output is a weighted average of the value vectors.",
    "positions": "Self-attention by itself ignores the order of the tokens. Positional encodings add information about each token's position, either as fixed sinusoids or as learned vectors. Rotary embeddings instead rotate queries and keys by an angle proportional to the position.",
    "layernorm": "Layer normalization rescales each token's activations to zero mean and unit variance, then applies a learned gain and bias. It stabilises the training of deep transformers. Most modern models apply it before each sublayer, which is called pre-norm.",
    "residual": "A residual connection adds a block's input to its output. Gradients can then flow directly through the identity path, which makes very deep networks trainable.",
    "perplexity": "Perplexity is the exponential of the average negative log-likelihood per token. A model that spreads its probability uniformly over a vocabulary of size V has perplexity V. Perplexities are only comparable between models that use the same tokenizer.",
    "bleu": "BLEU measures the overlap of n-grams between a candidate translation and reference translations. Counts are clipped so a candidate cannot gain credit by repeating a word. A brevity penalty punishes candidates that are shorter than the references.",
    "rouge": "ROUGE-L scores a summary by the longest common subsequence it shares with a reference summary. Because it is based on recall, it rewards summaries that cover the content of the reference.",
    "lora": "Low-rank adaptation freezes the pretrained weights and learns a small update as the product of two thin matrices. Only the thin matrices are trained, so fine-tuning needs a fraction of the memory. After training the update can be merged into the original weights at no inference cost.",
    "quantization": "Quantization stores weights with fewer bits, for example as 8-bit integers with a scale factor. An int8 model needs a quarter of the memory of a float32 model. Per-channel scales keep the error small when some rows have much larger values than others.",
    "kv_cache": "During generation, a key-value cache stores the keys and values of all previous tokens. Each new token then computes only its own query, key and value instead of reprocessing the whole sequence. The cache grows linearly with the sequence length and often limits the batch size.",
    "temperature": "Sampling temperature divides the logits before the softmax. A temperature below one makes the distribution sharper and the output more predictable. A temperature above one makes it flatter and the output more diverse.",
    "top_p": "Top-k sampling keeps only the k most probable tokens and renormalises their probabilities. Nucleus or top-p sampling keeps the smallest set of tokens whose cumulative probability exceeds p, so the number of candidates adapts to the confidence of the model.",
    "rlhf": "Reinforcement learning from human feedback starts from people comparing pairs of model answers. A reward model is trained to predict which answer people prefer. The language model is then optimised to produce answers the reward model scores highly, with a penalty for drifting far from the original model.",
    "mixed_precision": "Mixed precision training runs most operations in 16-bit floating point while keeping a 32-bit master copy of the weights. Loss scaling multiplies the loss before the backward pass so that small float16 gradients do not underflow to zero.",
    "accumulation": "Gradient accumulation sums the gradients of several small batches before taking one optimizer step. It simulates a large batch when the large batch does not fit in memory.",
    "adam": "Adam keeps running averages of the gradient and of its square for every parameter. It divides each update by the square root of the second average, so every parameter gets its own effective step size. AdamW applies weight decay directly to the weights instead of adding it to the gradient.",
    "dropout": "Dropout sets a random fraction of activations to zero during training and rescales the rest. It discourages units from relying on each other and reduces overfitting. At inference time dropout is switched off.",
    "bm25": "BM25 ranks documents by the query terms they contain, weighting rare terms more through inverse document frequency. Its parameter k1 makes the benefit of repeated terms saturate. The parameter b controls how strongly scores are normalised by document length.",
    "dense": "Dense retrieval encodes queries and documents as vectors and ranks documents by their similarity to the query vector. It can match a question to a passage that uses different words with the same meaning. An approximate nearest neighbour index makes the search fast over millions of vectors.",
    "rag": "Retrieval-augmented generation retrieves passages relevant to a question and places them in the prompt. The model can then answer from up-to-date or private documents it never saw during training, and cite its sources.",
    "beam_search": "Beam search keeps the few most probable partial sequences at every step instead of only the single best one. It suits tasks with one correct output such as translation. For open-ended text it tends to produce dull and repetitive output.",
    "cross_entropy": "Cross-entropy loss is the negative log-probability that the model assigns to the correct next token, averaged over the positions. Minimising it is the same as maximising the likelihood of the training text.",
}

# (query, relevant passage, index of the answering sentence in that passage).
# Some share many words with their passage, others are paraphrased on purpose.
QUERIES = [
    ("How does byte pair encoding decide which symbols to merge?", "bpe", 0),
    ("Why can a subword tokenizer handle words it has never seen?", "bpe", 2),
    ("How do I measure how close two token vectors are?", "embeddings", 2),
    ("Why are attention scores divided by the square root of the dimension?", "attention", 1),
    ("What do rotary embeddings do to queries and keys?", "positions", 2),
    ("Where do modern models put the normalization layer?", "layernorm", 2),
    ("Why do skip connections let very deep networks learn?", "residual", 1),
    ("When is it fair to compare the perplexity of two models?", "perplexity", 2),
    ("What stops a translation metric from rewarding very short outputs?", "bleu", 2),
    ("Which summary metric uses the longest common subsequence?", "rouge", 0),
    ("How does LoRA save memory during fine-tuning?", "lora", 1),
    ("How much smaller is a model stored in 8-bit integers than in 32-bit floats?", "quantization", 1),
    ("What limits the batch size when generating long sequences?", "kv_cache", 2),
    ("What happens when the temperature is below one?", "temperature", 1),
    ("Which tokens does nucleus sampling keep?", "top_p", 1),
    ("What does the reward model learn from human comparisons?", "rlhf", 1),
    ("Why multiply the loss before backpropagation when training in half precision?", "mixed_precision", 1),
    ("How can I train with a big batch that does not fit on my GPU?", "accumulation", 1),
    ("How does AdamW handle weight decay?", "adam", 2),
    ("Is dropout still active when the model makes predictions?", "dropout", 2),
    ("What keeps a document from winning just by repeating a query word many times?", "bm25", 1),
    ("How is search over millions of vectors made fast?", "dense", 2),
    ("How can a chatbot answer from company documents it was never trained on?", "rag", 1),
    ("Why is beam search a poor choice for creative story writing?", "beam_search", 2),
    ("What is minimising cross-entropy equivalent to?", "cross_entropy", 1),
]


def split_sentences(text: str) -> list[str]:
    """Split after '.', '?' or '!' followed by whitespace (good enough for this text)."""
    return [s for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s]


MODULES = [
    "collections", "itertools", "functools", "json", "re", "string", "textwrap",
    "typing", "pathlib", "argparse", "datetime", "random", "statistics",
    "fractions", "decimal", "heapq", "bisect", "csv", "logging", "unittest",
]  # fmt: skip


def first_paragraph(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


def distractor_documents() -> dict[str, str]:
    """First docstring paragraph of each public function, class and method, keyed by name."""
    documents: dict[str, str] = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, obj in inspect.getmembers(module):
            if name.startswith("_") or not (inspect.isroutine(obj) or inspect.isclass(obj)):
                continue
            members = [(f"{module_name}.{name}", obj)]
            if inspect.isclass(obj):
                members += [
                    (f"{module_name}.{name}.{n}", m)
                    for n, m in vars(obj).items()
                    if not n.startswith("_") and inspect.isroutine(m)
                ]
            for key, member in members:
                text = first_paragraph(member)
                if len(text.split()) >= 5 and text not in documents.values():
                    documents[key] = text
    return documents


documents = {**PASSAGES, **distractor_documents()}
doc_ids = list(documents)
print(f"{len(documents)} documents: {len(PASSAGES)} passages + {len(documents) - len(PASSAGES)} docstrings")
assert all(0 <= i < len(split_sentences(PASSAGES[p])) for _, p, i in QUERIES)

# %% [markdown]
# ## 1. BM25
#
# BM25 scores a document $D$ for a query $Q$ by summing, over the query terms
# $t$, an inverse document frequency times a saturating term frequency:
#
# $$\text{score}(D, Q) = \sum_{t \in Q} \text{IDF}(t)\,
# \frac{f(t, D)\,(k_1 + 1)}{f(t, D) + k_1\big(1 - b + b\,\frac{|D|}{\text{avgdl}}\big)},
# \qquad \text{IDF}(t) = \ln\Big(1 + \frac{N - n_t + 0.5}{n_t + 0.5}\Big)$$
#
# where $f(t, D)$ counts $t$ in $D$, $|D|$ is the document length, avgdl the
# average length, $N$ the number of documents and $n_t$ how many contain $t$.
#
# * **IDF**: a term in few documents (*quantization*) is strong evidence, one in
#   most documents (*return*) is weak.
# * **$k_1$** (typically 1.2-2): the second occurrence of a term helps less than
#   the first, and the tenth hardly at all.
# * **$b$** (typically 0.75): how much a long document is penalised, since it
#   contains more terms by chance.
#
# Tokenization is deliberately simple: lowercase words, minus a short stop-word
# list. No stemming, so *cat* and *cats* are different terms.

# %%
STOP_WORDS = set(
    "a an and are as at be by can do does for from how i in is it its my of on or so that the "
    "their them then this to was what when which who why with".split()
)


def tokenize(text: str) -> list[str]:
    return [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in STOP_WORDS]


class BM25:
    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.term_counts = [Counter(tokenize(text)) for text in texts]
        self.lengths = np.array([sum(c.values()) for c in self.term_counts], dtype=float)
        self.avg_length = self.lengths.mean()
        document_frequency = Counter(term for counts in self.term_counts for term in counts)
        n = len(texts)
        self.idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in document_frequency.items()}

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query."""
        length_norm = self.k1 * (1 - self.b + self.b * self.lengths / self.avg_length)
        result = np.zeros(len(self.term_counts))
        for term in tokenize(query):
            if term not in self.idf:
                continue
            tf = np.array([counts[term] for counts in self.term_counts], dtype=float)
            result += self.idf[term] * tf * (self.k1 + 1) / (tf + length_norm)
        return result


# %% [markdown]
# **Hand check.** Three documents: `the cat sat on the mat` (after stop words:
# *cat sat mat*, length 3), `the dog sat` (*dog sat*, 2), `cats and dogs`
# (*cats dogs*, 2). So $N = 3$ and avgdl $= 7/3$. Query `cat sat`, $k_1 = 1.5$,
# $b = 0.75$:
#
# * IDF(cat) $= \ln(1 + 2.5/1.5) = \ln(8/3)$, IDF(sat) $= \ln(1 + 1.5/2.5) = \ln 1.6$.
# * Document 1: $|D|/\text{avgdl} = 9/7$, so the denominator is
#   $1 + 1.5\,(0.25 + 0.75 \cdot 9/7)$ for each term, each with $f = 1$.
# * Document 2: only *sat* matches, with $|D|/\text{avgdl} = 6/7$.
# * Document 3 scores 0: *cats* is not *cat* without stemming.

# %%
toy = BM25(["the cat sat on the mat", "the dog sat", "cats and dogs"], k1=1.5, b=0.75)
tf_part_1 = 2.5 / (1 + 1.5 * (0.25 + 0.75 * 9 / 7))
tf_part_2 = 2.5 / (1 + 1.5 * (0.25 + 0.75 * 6 / 7))
hand = [(math.log(8 / 3) + math.log(1.6)) * tf_part_1, math.log(1.6) * tf_part_2, 0.0]
np.testing.assert_allclose(toy.scores("cat sat"), hand, rtol=1e-12)
print("BM25 toy scores:", np.round(toy.scores("cat sat"), 4))

# %% [markdown]
# The toy checks a few numbers. On the real collection, we compare every
# score of every labelled query with a second, deliberately naive
# implementation that follows the formula term by term in plain Python
# (no NumPy, no precomputed document frequencies), so that the two share no
# code but the tokenizer.


# %%
def bm25_by_the_formula(texts: Sequence[str], query: str, k1: float = 1.5, b: float = 0.75) -> list[float]:
    documents_tokens = [tokenize(text) for text in texts]
    average_length = sum(len(tokens) for tokens in documents_tokens) / len(documents_tokens)
    containing = {term: sum(1 for tokens in documents_tokens if term in tokens) for term in tokenize(query)}
    scores = []
    for tokens in documents_tokens:
        score = 0.0
        for term in tokenize(query):
            if containing[term] == 0:
                continue
            idf = math.log(1 + (len(texts) - containing[term] + 0.5) / (containing[term] + 0.5))
            f = tokens.count(term)
            score += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len(tokens) / average_length))
        scores.append(score)
    return scores


# %%
tf = np.arange(0, 11)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
for k1 in (0.5, 1.2, 2.0, 5.0):
    ax1.plot(tf, tf * (k1 + 1) / (tf + k1), "o-", label=f"k1 = {k1}")
ax1.set_xlabel("occurrences of the term in the document")
ax1.set_ylabel("term-frequency factor (b = 0, average length)")
ax1.set_title("k1: repeated terms saturate")
ax1.legend()
relative_length = np.linspace(0.25, 4, 100)
for b in (0.0, 0.5, 0.75, 1.0):
    ax2.plot(relative_length, 2.5 / (1 + 1.5 * (1 - b + b * relative_length)), label=f"b = {b}")
ax2.set_xlabel("document length / average length")
ax2.set_ylabel("factor for one occurrence (k1 = 1.5)")
ax2.set_title("b: long documents are discounted")
ax2.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** On the left, with $k_1 = 1.2$ ten occurrences of a term
# earn less than twice the credit of one, and no count can earn more than
# $k_1 + 1$: a document cannot win by repeating a query word. As $k_1$ grows BM25 approaches raw term counting. On the right, with
# $b = 0$ length is ignored; with $b = 1$ a document twice the average length
# needs twice the occurrences for the same credit.
#
# ## 2. Dense retrieval with LSA embeddings
#
# BM25 only matches identical words. A **dense retriever** maps texts to vectors
# so that texts about the same thing land close together even with different
# words. Production systems use a trained neural encoder; here we build the
# classic linear version, **latent semantic analysis**:
#
# 1. Build the TF-IDF matrix $X$ (documents x terms), rows scaled to unit length.
# 2. Take its truncated SVD, $X \approx U_r \Sigma_r V_r^\top$. The rows of $V_r$
#    are $r$-dimensional term embeddings, and terms that co-occur in documents
#    get similar ones.
# 3. Embed any text by its TF-IDF vector times $V_r$, normalise, and rank by
#    cosine similarity (a dot product of unit vectors).


# %%
def truncated_svd(matrix: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Top `rank` singular values and right singular vectors (columns of V) of `matrix`.

    With fewer rows (documents) than columns (terms), the small Gram matrix
    X X^T = U S^2 U^T gives U and S by an eigendecomposition, and then
    V = X^T U S^-1. Much cheaper than a full SVD, and exact for the top values.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(matrix @ matrix.T)  # ascending order
    top = np.argsort(eigenvalues)[::-1][:rank]
    singular_values = np.sqrt(np.maximum(eigenvalues[top], 0))
    v = matrix.T @ eigenvectors[:, top] / singular_values
    return singular_values, v


class LSARetriever:
    def __init__(self, texts: Sequence[str], dimensions: int) -> None:
        tokenized = [tokenize(t) for t in texts]
        self.vocabulary = {term: i for i, term in enumerate(sorted({t for toks in tokenized for t in toks}))}
        df = Counter(term for toks in tokenized for term in set(toks))
        self.idf = np.zeros(len(self.vocabulary))
        for term, i in self.vocabulary.items():
            self.idf[i] = math.log(len(texts) / df[term]) + 1
        self.matrix = np.stack([self.tfidf(toks) for toks in tokenized])
        self.singular_values, self.projection = truncated_svd(self.matrix, dimensions)
        self.doc_embeddings = self.embed_tokens_batch(tokenized)

    def tfidf(self, tokens: list[str]) -> np.ndarray:
        vector = np.zeros(len(self.vocabulary))
        for term, count in Counter(tokens).items():
            if term in self.vocabulary:
                vector[self.vocabulary[term]] = (1 + math.log(count)) * self.idf[self.vocabulary[term]]
        norm = np.linalg.norm(vector)
        return vector / norm if norm > 0 else vector

    def embed_tokens_batch(self, tokenized: list[list[str]]) -> np.ndarray:
        embeddings = np.stack([self.tfidf(toks) for toks in tokenized]) @ self.projection
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        return embeddings / np.maximum(norms, 1e-12)

    def scores(self, query: str) -> np.ndarray:
        """Cosine similarity between the query and every document."""
        return self.doc_embeddings @ self.embed_tokens_batch([tokenize(query)])[0]


texts = [documents[d] for d in doc_ids]
bm25 = BM25(texts)
for query, _, _ in QUERIES:
    np.testing.assert_allclose(bm25.scores(query), bm25_by_the_formula(texts, query), rtol=1e-12, atol=1e-12)
print(f"BM25 scores of all {len(QUERIES)} queries on all {len(texts)} documents match the formula")
lsa = LSARetriever(texts, dimensions=128)
print(f"vocabulary {len(lsa.vocabulary):,} terms -> {lsa.projection.shape[1]} dimensions")

# Our eigendecomposition shortcut against NumPy's full SVD of the same matrix: the same top
# singular values, and the same subspace (singular vectors are unique only up to sign, so
# compare the projections V V^T onto their span).
v, sv = lsa.projection, lsa.singular_values
_, full_sv, full_vt = np.linalg.svd(lsa.matrix, full_matrices=False)
np.testing.assert_allclose(sv, full_sv[: len(sv)], rtol=1e-10)
np.testing.assert_allclose(v @ v.T, full_vt[: len(sv)].T @ full_vt[: len(sv)], atol=1e-10)
np.testing.assert_allclose(v.T @ v, np.eye(v.shape[1]), atol=1e-10)

# %% [markdown]
# ## 3. Hybrid retrieval: reciprocal rank fusion
#
# Lexical and dense retrievers fail on different queries, so combining them
# helps. Their scores live on unrelated scales, so **reciprocal rank fusion**
# (Cormack et al., 2009) ignores scores and uses ranks only:
#
# $$\text{RRF}(d) = \sum_{\text{retrievers } s} \frac{1}{60 + \text{rank}_s(d)}$$
#
# with ranks starting at 1. The constant 60 keeps one retriever's first place from
# outweighing a consistent high rank in the other.


# %%
def ranking(scores: np.ndarray) -> np.ndarray:
    """Document indices from best to worst (ties broken by index, for determinism)."""
    return np.argsort(-scores, kind="stable")


def reciprocal_rank_fusion(rankings: Sequence[np.ndarray], k: int = 60) -> np.ndarray:
    fused = np.zeros(len(rankings[0]))
    for order in rankings:
        fused[order] += 1 / (k + np.arange(1, len(order) + 1))
    return ranking(fused)


# Hand check: A ranks (0, 1, 2), B ranks (2, 1, 0). Documents 0 and 2 each get
# 1/61 + 1/63 = 0.032266; document 1, second in both, gets 2/62 = 0.032258. The
# extremes win narrowly, and 0 precedes 2 by the stable tie-break.
fused = reciprocal_rank_fusion([np.array([0, 1, 2]), np.array([2, 1, 0])])
assert fused.tolist() == [0, 2, 1]
assert reciprocal_rank_fusion([np.array([1, 0, 2]), np.array([1, 2, 0])])[0] == 1, (
    "agreement on first place wins"
)

# %% [markdown]
# ## 4. Measuring retrieval: recall@k and MRR
#
# * **Recall@k**: the fraction of a query's relevant documents found in the top
#   $k$, averaged over queries. For RAG this is the number that matters: is the
#   answer *somewhere* in what we put in the prompt?
# * **Mean reciprocal rank**: the average of $1/\text{rank}$ of the first
#   relevant document; 1 if it is always first, 0.5 if always second.
#
# Hand check with two queries whose relevant document is `7`, ranked third in the
# first result list and first in the second: recall@1 = 1/2, recall@3 = 1,
# MRR = (1/3 + 1)/2 = 2/3.


# %%
def recall_at_k(rankings: Sequence[Sequence[int]], relevant: Sequence[set[int]], k: int) -> float:
    return float(
        np.mean([len(set(r[:k]) & rel) / len(rel) for r, rel in zip(rankings, relevant, strict=True)])
    )


def mean_reciprocal_rank(rankings: Sequence[Sequence[int]], relevant: Sequence[set[int]]) -> float:
    reciprocal_ranks = []
    for r, rel in zip(rankings, relevant, strict=True):
        ranks = [position for position, doc in enumerate(r, start=1) if doc in rel]
        reciprocal_ranks.append(1 / ranks[0] if ranks else 0.0)
    return float(np.mean(reciprocal_ranks))


toy_rankings, toy_relevant = [[3, 5, 7], [7, 1, 2]], [{7}, {7}]
assert recall_at_k(toy_rankings, toy_relevant, 1) == 0.5 and recall_at_k(toy_rankings, toy_relevant, 3) == 1.0
assert math.isclose(mean_reciprocal_rank(toy_rankings, toy_relevant), 2 / 3)

# %%
relevant = [{doc_ids.index(passage)} for _, passage, _ in QUERIES]
rankings = {"BM25": [], "dense (LSA)": [], "hybrid (RRF)": []}
for query, _, _ in QUERIES:
    lexical, dense = ranking(bm25.scores(query)), ranking(lsa.scores(query))
    rankings["BM25"].append(lexical)
    rankings["dense (LSA)"].append(dense)
    rankings["hybrid (RRF)"].append(reciprocal_rank_fusion([lexical, dense]))

ks = [1, 2, 3, 5, 10, 20]
recalls = {name: [recall_at_k(r, relevant, k) for k in ks] for name, r in rankings.items()}
print(f"{'retriever':<14}" + "".join(f"{'R@' + str(k):>7}" for k in ks) + f"{'MRR':>7}")
for name, r in rankings.items():
    print(
        f"{name:<14}"
        + "".join(f"{v:>7.2f}" for v in recalls[name])
        + f"{mean_reciprocal_rank(r, relevant):>7.2f}"
    )

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in recalls.items():
    ax.plot(ks, values, "o-", label=name)
ax.set_xscale("log")
ax.set_xticks(ks, [str(k) for k in ks])
ax.set_xlabel("k (documents retrieved)")
ax.set_ylabel("recall@k")
ax.set_ylim(0, 1.05)
ax.set_title(f"Retrieval on {len(QUERIES)} labelled queries, {len(documents)} documents")
ax.legend()
plt.show()

# %% [markdown]
# Two checks and a question of noise. The metrics are recomputed another
# way: from the rank of each query's relevant document, recall@$k$ is the
# fraction of ranks $\le k$ and MRR the mean of $1/\text{rank}$. A random
# ranking is the floor: its expected recall@$k$ is $k/N$. And 25 queries are
# few: each query moves recall by 0.04. So every figure gets a 95%
# **bootstrap** interval (resample the 25 queries with replacement 2000 times,
# recompute, take the 2.5th and 97.5th percentiles), and the comparisons
# between retrievers are **paired**: the same resampled queries for both, so
# that the interval is for the difference itself.

# %%
ranks = {name: np.array([list(r).index(next(iter(rel))) + 1 for r, rel in zip(rs, relevant, strict=True)])
         for name, rs in rankings.items()}  # fmt: skip
for name in rankings:
    np.testing.assert_allclose(recalls[name], [np.mean(ranks[name] <= k) for k in ks], rtol=1e-12)
    np.testing.assert_allclose(mean_reciprocal_rank(rankings[name], relevant), np.mean(1 / ranks[name]), rtol=1e-12)

bootstrap = np.random.default_rng(0).integers(0, len(QUERIES), size=(2000, len(QUERIES)))


def interval(per_query: np.ndarray) -> tuple[float, float]:
    """95% bootstrap interval of the mean of a per-query score."""
    low, high = np.percentile(per_query[bootstrap].mean(axis=1), [2.5, 97.5])
    return float(low), float(high)


chance_at_5 = 5 / len(documents)
for name in rankings:
    low, high = interval(ranks[name] <= 5)
    mrr_low, mrr_high = interval(1 / ranks[name])
    print(f"{name:<14} recall@5 {np.mean(ranks[name] <= 5):.2f} [{low:.2f}, {high:.2f}]   "
          f"MRR {np.mean(1 / ranks[name]):.2f} [{mrr_low:.2f}, {mrr_high:.2f}]")  # fmt: skip
    assert low > 20 * chance_at_5, f"{name} is far above a random ranking (recall@5 = {chance_at_5:.3f})"
for a, b in [("BM25", "dense (LSA)"), ("BM25", "hybrid (RRF)"), ("hybrid (RRF)", "dense (LSA)")]:
    low, high = interval(1 / ranks[a] - 1 / ranks[b])
    print(f"MRR of {a} minus {b}: {np.mean(1 / ranks[a] - 1 / ranks[b]):+.2f}, 95% interval [{low:+.2f}, {high:+.2f}]")
bm25_minus_dense = interval(1 / ranks["BM25"] - 1 / ranks["dense (LSA)"])
assert bm25_minus_dense[0] > 0, "BM25's lead over LSA is larger than the noise of 25 queries"

# %% [markdown]
# **What to notice.** BM25 is a strong baseline: even the paraphrased questions
# keep one or two distinctive words with their passage (*nucleus*, *dropout*,
# *batch*). The LSA embeddings are weaker at the top ranks: they
# were learnt from a few hundred short documents, and they blur a question
# towards its general topic. Fusion lands in between: it rescues some of the
# dense retriever's misses, but the weak dense ranking also pushes a few of
# BM25's first places down. The paired intervals put BM25 clearly ahead of
# LSA; the other two gaps exclude zero only just (their lower ends are near
# +0.01), so a handful of different queries could reorder fusion and its
# neighbours. And BM25's recall@5 interval of [1, 1] says only that all 25
# answers were found: a bootstrap cannot see failures the sample does not
# contain. Fusion pays off when both retrievers are good and
# fail on *different* queries, which is the case with a trained neural encoder;
# that is why hybrid retrieval is a common default in production. The lesson
# that carries over: measure any dense retriever against BM25 on your own
# labelled queries before adopting it.
#
# Looking at the failures is more instructive than the averages:

# %%
for i, (query, passage_id, _) in enumerate(QUERIES):
    rank = list(rankings["BM25"][i]).index(doc_ids.index(passage_id)) + 1
    if rank > 1:
        print(f"BM25 rank {rank}: {query!r} -> top document {doc_ids[rankings['BM25'][i][0]]!r}")

# %% [markdown]
# ## 5. Retrieve, then generate
#
# The generator sees only a prompt. We build one from the top-$k$ passages,
# numbered so that an answer can cite them. The "model" here is an honest
# stand-in: an **extractive reader** that parses the passages out of the prompt,
# splits them into sentences, and returns the sentence sharing the most
# IDF-weighted content words with the question (with its citation). It cannot
# invent anything, which makes the effect of retrieval easy to see: with the
# wrong passages in the prompt, no answer is possible.


# %%
def build_prompt(question: str, passages: Sequence[str]) -> str:
    context = "\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1))
    return (
        "Answer the question using only the passages below. Cite the passage number.\n\n"
        f"{context}\n\nQuestion: {question}\nAnswer:"
    )


def extractive_reader(prompt: str, idf: dict[str, float]) -> str:
    """Return the sentence of the prompt's passages that best overlaps the question."""
    question = re.search(r"^Question: (.*)$", prompt, flags=re.MULTILINE).group(1)
    question_terms = set(tokenize(question))
    best_score, best_answer = 0.0, "I don't know."
    for number, passage in re.findall(r"^\[(\d+)\] (.*)$", prompt, flags=re.MULTILINE):
        for sentence in split_sentences(passage):
            score = sum(idf.get(t, 0.0) for t in question_terms & set(tokenize(sentence)))
            if score > best_score:
                best_score, best_answer = score, f"{sentence} [{number}]"
    return best_answer


def strip_citation(answer: str) -> str:
    return re.sub(r"\s*\[\d+\]$", "", answer)


question, passage_id, _ = QUERIES[13]
top_ids = [doc_ids[i] for i in rankings["hybrid (RRF)"][13][:3]]
example_prompt = build_prompt(question, [documents[d] for d in top_ids])
print(example_prompt)
print(extractive_reader(example_prompt, bm25.idf))

# %% [markdown]
# Now the whole labelled set, under six conditions: no context at all (what a
# closed-book model would have, minus its memory), three random documents, the
# top three from each retriever, and an oracle that is handed the relevant
# passage. We score each answer by **exact match** with the gold sentence and by
# the SQuAD-style **token F1** (word overlap with the gold sentence), which gives
# partial credit. The random condition is one draw of luck, so it is repeated
# 20 times with different documents, and its bars show the mean with the
# range over the draws.

# %%
rng = np.random.default_rng(0)
conditions = {
    "no retrieval": lambda i: [],
    "3 random docs": lambda i: list(rng.choice(len(doc_ids), size=3, replace=False)),
    "BM25 top-3": lambda i: list(rankings["BM25"][i][:3]),
    "dense top-3": lambda i: list(rankings["dense (LSA)"][i][:3]),
    "hybrid top-3": lambda i: list(rankings["hybrid (RRF)"][i][:3]),
    "oracle passage": lambda i: [doc_ids.index(QUERIES[i][1])],
}


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of word precision and recall between two answers."""
    pred, ref = re.findall(r"[a-z0-9]+", prediction.lower()), re.findall(r"[a-z0-9]+", gold.lower())
    overlap = sum((Counter(pred) & Counter(ref)).values())
    return 0.0 if overlap == 0 else 2 * overlap / (len(pred) + len(ref))


def answer_scores(pick_documents) -> tuple[float, float]:
    """Exact match and token F1 over the labelled questions, with the documents `pick_documents(i)` in the prompt."""
    em_scores, f1_scores = [], []
    for i, (question, passage_id, sentence_index) in enumerate(QUERIES):
        prompt = build_prompt(question, [texts[j] for j in pick_documents(i)])
        answer = strip_citation(extractive_reader(prompt, bm25.idf))
        gold = split_sentences(PASSAGES[passage_id])[sentence_index]
        em_scores.append(answer == gold)
        f1_scores.append(token_f1(answer, gold))
    return float(np.mean(em_scores)), float(np.mean(f1_scores))


scores = {name: [answer_scores(pick)] for name, pick in conditions.items()}
scores["3 random docs"] += [answer_scores(conditions["3 random docs"]) for _ in range(19)]
scores = {name: np.array(runs) for name, runs in scores.items()}
exact_match = {name: runs[:, 0].mean() for name, runs in scores.items()}
f1 = {name: runs[:, 1].mean() for name, runs in scores.items()}
random_em, random_f1 = scores["3 random docs"][:, 0], scores["3 random docs"][:, 1]
print(f"3 random docs over 20 draws: exact match {random_em.min():.2f} to {random_em.max():.2f}, "
      f"token F1 {random_f1.min():.2f} to {random_f1.max():.2f}")  # fmt: skip


def error_bars(column: int) -> np.ndarray:
    """Distance from the mean to the lowest and highest draw (zero for the deterministic conditions)."""
    return np.array([[runs[:, column].mean() - runs[:, column].min(), runs[:, column].max() - runs[:, column].mean()]
                     for runs in scores.values()]).T  # fmt: skip


x = np.arange(len(conditions))
fig, ax = plt.subplots(figsize=(10, 4))
bars_em = ax.bar(x - 0.2, list(exact_match.values()), width=0.4, yerr=error_bars(0), capsize=3, label="exact match")
bars_f1 = ax.bar(x + 0.2, list(f1.values()), width=0.4, yerr=error_bars(1), capsize=3, label="token F1")
ax.bar_label(bars_em, fmt="%.2f")
ax.bar_label(bars_f1, fmt="%.2f")
ax.set_xticks(x, list(conditions))
ax.set_ylabel("score on the 25 labelled questions")
ax.set_ylim(0, 1.1)
ax.set_title("Extractive answers with and without retrieval")
ax.legend()
plt.show()

# %%
assert exact_match["no retrieval"] == 0.0, "with nothing in the prompt the reader cannot answer"
for retriever in ("BM25 top-3", "dense top-3", "hybrid top-3"):
    assert exact_match[retriever] >= random_em.max() + 0.3, "retrieval makes answering possible"
    assert f1[retriever] >= random_f1.max() + 0.3, "even against the luckiest of 20 random draws"
assert exact_match["oracle passage"] < 0.8, (
    "even with the right passage, the lexical reader misses paraphrases"
)

# %% [markdown]
# **What to notice.** The gap between random documents and retrieved ones is the
# value of retrieval. The gap between a retriever and the oracle is what a better
# retriever could still gain (here almost nothing for BM25: its top three nearly
# always contain the passage). The oracle's own misses are the reader's errors:
# for paraphrased questions, the sentence that names the topic shares more words
# with the question than the sentence that answers it. Token F1 gives those
# near-misses partial credit. A real LLM reader understands paraphrase, so it
# fixes exactly these cases, and it adds a risk the extractive reader does not
# have: with bad passages it may answer anyway, from memory or invention. When you
# debug a RAG system, measure the parts separately: recall@k of the retriever on
# labelled queries, and answer quality given the right passage.
#
# ## 6. Chunking with overlap
#
# Real documents are much longer than our passages, and both retrievers and
# prompts work best on pieces of a few hundred tokens. Documents are therefore
# split into **chunks**. Consecutive chunks **overlap**, so a sentence cut by a
# chunk boundary still appears whole in the next chunk, as long as it is no
# longer than the overlap.


# %%
def chunk_words(words: Sequence[str], size: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) word spans of length `size`, each starting `size - overlap` after the previous."""
    if not 0 <= overlap < size:
        raise ValueError("need 0 <= overlap < size")
    spans, start = [], 0
    while True:
        end = min(start + size, len(words))
        spans.append((start, end))
        if end == len(words):
            return spans
        start += size - overlap


long_text = " ".join(PASSAGES.values())
words = long_text.split()
size, overlap = 60, 25
spans = chunk_words(words, size, overlap)
print(f"{len(words)} words -> {len(spans)} chunks of up to {size} words, overlap {overlap}")

covered = np.zeros(len(words), dtype=int)
for start, end in spans:
    covered[start:end] += 1
assert covered.min() >= 1, "every word is in at least one chunk"
assert spans[0][0] == 0 and spans[-1][1] == len(words)
assert all(s2 == e1 - overlap for (_, e1), (s2, _) in pairwise(spans)), (
    "consecutive chunks share `overlap` words"
)
rebuilt = list(words[: spans[0][1]])
for start, end in spans[1:]:
    rebuilt += words[start + overlap : end]
assert rebuilt == words, "dropping each chunk's overlap and concatenating gives back the text"

# Every sentence no longer than the overlap lies whole inside some chunk.
position = 0
for sentence in split_sentences(long_text):
    n = len(sentence.split())
    if n <= overlap:
        assert any(s <= position and position + n <= e for s, e in spans), sentence
    position += n
print("chunks cover the text; every sentence of at most", overlap, "words fits inside one chunk")

# %%
fig, ax = plt.subplots(figsize=(10, 3))
for i, (start, end) in enumerate(spans):
    ax.barh(i % 2, end - start, left=start, height=0.6, alpha=0.6, color=f"C{i % 2}")
    ax.text((start + end) / 2, i % 2, str(i), ha="center", va="center")
ax.set_yticks([0, 1], ["even chunks", "odd chunks"])
ax.set_xlabel("word position in the text")
ax.set_title(f"{len(spans)} chunks of {size} words with {overlap} words of overlap")
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** Every word position is under at least one bar, and each
# boundary of one chunk falls inside its neighbour. Overlap costs storage and
# retrieval work (here 25 of every 60 words are repeated) and can put
# near-duplicate chunks side by side in the results; splitting on sentence or
# section boundaries is the usual refinement.
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
# ### Exercise 1: nDCG@k
#
# Recall@$k$ only asks whether the relevant document is in the top $k$.
# When relevance comes in grades (say 3 = answers the question, 1 = related),
# search engines report **normalised discounted cumulative gain**: each
# retrieved document earns its grade $g_i$, discounted by its position,
#
# $$\mathrm{DCG@}k = \sum_{i=1}^{k} \frac{g_i}{\log_2(i + 1)}, \qquad \mathrm{nDCG@}k = \frac{\mathrm{DCG@}k}{\mathrm{IDCG@}k},$$
#
# where IDCG@$k$ is the DCG@$k$ of the best possible order (all graded
# documents sorted by grade). Write `ndcg_at_k(ranking, grades, k)` for a
# ranking (a list of document ids, best first) and a dict of grades
# (documents not in it have grade 0); return 0.0 when no document has a
# positive grade. The check compares it with a reference on hand-made and
# random cases.


# %%
def ndcg_at_k(ranking: Sequence[int], grades: dict[int, float], k: int) -> float | None:
    """Normalised discounted cumulative gain of the first k documents of `ranking`."""
    return None  # your code here


# %%
def check_ndcg_at_k(candidate) -> None:
    def reference(ranking, grades, k):
        dcg = sum(grades.get(doc, 0.0) / math.log2(position + 1) for position, doc in enumerate(ranking[:k], start=1))
        ideal = sorted(grades.values(), reverse=True)[:k]
        idcg = sum(g / math.log2(position + 1) for position, g in enumerate(ideal, start=1))
        return dcg / idcg if idcg > 0 else 0.0

    generator = np.random.default_rng(1)
    cases = [
        (([7, 3, 5], {7: 3}, 1), 1.0),
        (([3, 7, 5], {7: 3}, 3), 1 / math.log2(3)),
        (([1, 2, 3], {9: 2}, 3), 0.0),
        (([1, 2, 3], {}, 3), 0.0),
    ]
    for _ in range(30):
        ranking = [int(d) for d in generator.permutation(20)[: int(generator.integers(1, 20))]]
        grades = {int(d): float(generator.integers(1, 4)) for d in generator.choice(20, size=int(generator.integers(1, 6)), replace=False)}
        k = int(generator.integers(1, 25))
        cases.append(((ranking, grades, k), reference(ranking, grades, k)))
    check_cases(candidate, cases, partial(array_mismatch, rtol=1e-12, atol=1e-12))


print("exercise 1:", run_check(check_ndcg_at_k, ndcg_at_k))

# %% [markdown]
# <details><summary>Solution</summary>
#
# The ideal order uses *all* graded documents, not only the retrieved ones:
# a ranking that misses a highly graded document must score below 1 even if
# what it did retrieve is in the right order. And the ideal list is cut at
# $k$ too.
#
# ```python
# def ndcg_at_k(ranking, grades, k):
#     def dcg(gains):
#         return sum(g / math.log2(position + 1) for position, g in enumerate(gains, start=1))
#
#     ideal = dcg(sorted(grades.values(), reverse=True)[:k])
#     return dcg([grades.get(doc, 0.0) for doc in ranking[:k]]) / ideal if ideal > 0 else 0.0
# ```
#
# </details>
#
# ### Exercise 2: chunks of whole sentences
#
# Section 6 cut chunks at fixed word counts, splitting sentences. A common
# refinement packs whole sentences instead: walk through the sentences in
# order and add each to the current chunk while the chunk stays within
# `max_words` words; otherwise start a new chunk with it. A sentence longer
# than `max_words` on its own becomes a chunk by itself. Write
# `chunk_sentences(sentences, max_words)` returning the list of chunks, each
# a list of consecutive sentences. The check compares it with a reference on
# the passages of this notebook and on random sentence lengths.


# %%
def chunk_sentences(sentences: Sequence[str], max_words: int) -> list[list[str]] | None:
    """Greedy packing of consecutive whole sentences into chunks of at most max_words words."""
    return None  # your code here


# %%
def check_chunk_sentences(candidate) -> None:
    def reference(sentences, max_words):
        chunks, current, words = [], [], 0
        for sentence in sentences:
            n = len(sentence.split())
            if current and words + n > max_words:
                chunks.append(current)
                current, words = [], 0
            current.append(sentence)
            words += n
        return [*chunks, current] if current else chunks

    generator = np.random.default_rng(2)
    all_sentences = split_sentences(long_text)
    cases = [((all_sentences, limit), reference(all_sentences, limit)) for limit in (10, 40, 60, 200)]
    cases.append((([], 10), []))
    for _ in range(20):
        lengths = generator.integers(1, 15, size=int(generator.integers(1, 12)))
        sentences = [" ".join(["word"] * int(n)) + "." for n in lengths]
        limit = int(generator.integers(3, 30))
        cases.append(((sentences, limit), reference(sentences, limit)))
    def mismatch(expected, got):
        if got == expected:
            return None
        first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
        return f"{len(got)} chunks, expected {len(expected)}; the first difference is chunk {first}"

    check_cases(candidate, cases, mismatch)


print("exercise 2:", run_check(check_chunk_sentences, chunk_sentences))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Keep a running word count; close the current chunk only when it is not
# empty and the next sentence would overflow it, so that an over-long
# sentence still gets a chunk of its own instead of an empty chunk before it.
#
# ```python
# def chunk_sentences(sentences, max_words):
#     chunks, current, words = [], [], 0
#     for sentence in sentences:
#         n = len(sentence.split())
#         if current and words + n > max_words:
#             chunks.append(current)
#             current, words = [], 0
#         current.append(sentence)
#         words += n
#     return [*chunks, current] if current else chunks
# ```
#
# </details>
#
# ### More to explore
#
# 1. Add stemming (strip a final *s*, *ing*, *ed*) to `tokenize` and see how
#    BM25's recall@1 changes, including on the `cat`/`cats` example.
# 2. Vary the LSA dimension (16, 64, 256) and plot recall@5 against it, with
#    bootstrap intervals.
# 3. Write five queries that use none of their passage's words and compare BM25,
#    dense and hybrid on them.
# 4. Index the chunks from section 6, or those of exercise 2, instead of whole
#    passages and measure recall@3.
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).



# %%
def solution_ndcg_at_k(ranking, grades, k):
    def dcg(gains):
        return sum(g / math.log2(position + 1) for position, g in enumerate(gains, start=1))

    ideal = dcg(sorted(grades.values(), reverse=True)[:k])
    return dcg([grades.get(doc, 0.0) for doc in ranking[:k]]) / ideal if ideal > 0 else 0.0


def wrong_ndcg_at_k(ranking, grades, k):  # the ideal order of the retrieved documents only
    gains = [grades.get(doc, 0.0) for doc in ranking[:k]]
    dcg = sum(g / math.log2(position + 1) for position, g in enumerate(gains, start=1))
    ideal = sum(g / math.log2(position + 1) for position, g in enumerate(sorted(gains, reverse=True), start=1))
    return dcg / ideal if ideal > 0 else 0.0


def solution_chunk_sentences(sentences, max_words):
    chunks, current, words = [], [], 0
    for sentence in sentences:
        n = len(sentence.split())
        if current and words + n > max_words:
            chunks.append(current)
            current, words = [], 0
        current.append(sentence)
        words += n
    return [*chunks, current] if current else chunks


def wrong_chunk_sentences(sentences, max_words):  # closes a chunk when it would reach the limit, not exceed it
    chunks, current, words = [], [], 0
    for sentence in sentences:
        n = len(sentence.split())
        if current and words + n >= max_words:
            chunks.append(current)
            current, words = [], 0
        current.append(sentence)
        words += n
    return [*chunks, current] if current else chunks


def untouched(*args):
    return None


for check, solution, wrong in [
    (check_ndcg_at_k, solution_ndcg_at_k, wrong_ndcg_at_k),
    (check_chunk_sentences, solution_chunk_sentences, wrong_chunk_sentences),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, untouched).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
