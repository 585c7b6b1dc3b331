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
# # Interpretability: looking inside the shared model
#
# A trained transformer is a program nobody wrote. Interpretability asks what
# that program computes: what its hidden states represent, which components
# matter for which behaviour, and in what terms its computation can be
# described. This notebook opens the path's own pretrained GPT (trained in the
# language-modelling topic on Python's standard library) with four of the
# field's basic tools, each measured against a baseline rather than read off a
# picture:
#
# 1. **The logit lens**: decode every layer's residual stream with the model's
#    own unembedding, and watch the prediction form layer by layer.
# 2. **Linear probes**: can a linear classifier read a property of the text
#    (is this token inside a string literal? inside brackets?) from a layer's
#    hidden states, better than from the token alone and better than from an
#    untrained network of the same shape?
# 3. **Attention-head ablation**: remove one head at a time and measure what it
#    costs the model, with confidence intervals.
# 4. **A sparse autoencoder** on the residual stream: an overcomplete
#    dictionary of sparsely active features, its reconstruction against its
#    sparsity, against PCA at the same number of active dimensions, and what a
#    few of its features respond to.
#
# It runs on a CPU in about a minute.

# %%
# The path's shared code lives in packages beside the notebooks; run alone (as in Colab), fetch them.
try:
    import exercises
    import pathgpt
except ModuleNotFoundError:
    import importlib, io, pathlib, urllib.request, zipfile

    packages = ("exercises", "pathgpt")
    url = "https://github.com/llm-path/llm-path/archive/refs/heads/main.zip"
    with zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(url, timeout=60).read())) as archive:
        for member in archive.namelist():
            package, _, file = member.partition("/notebooks/")[2].partition("/")
            if package in packages and file.endswith(".py") and "/" not in file:
                pathlib.Path(package).mkdir(exist_ok=True)
                pathlib.Path(package, file).write_bytes(archive.read(member))
    importlib.invalidate_caches()
    import exercises
    import pathgpt

# %%
import io
import math
import os
import tokenize
from contextlib import ExitStack, contextmanager

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from pathgpt import GPT, evaluation_windows, load_pretrained, load_tokens

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
torch.manual_seed(0)

model, tokenizer = load_pretrained()
config = model.config
train_tokens, validation = load_tokens("train"), load_tokens("validation")
inputs, targets = evaluation_windows(validation, config.context, max_windows=24)
print(f"{model.num_parameters():,d} parameters, {config.n_layers} layers of {config.n_heads} heads,"
      f" d_model = {config.d_model}; {inputs.numel():,d} validation tokens to measure on")

# %% [markdown]
# ## 1. The residual stream and the logit lens
#
# Each block reads the **residual stream** $h_\ell$ and adds its attention and
# MLP outputs to it; the final norm and the unembedding turn $h_L$ into
# logits. Because every block only *adds* to the stream, the stream after an
# intermediate block is written in the same basis, more or less, and the
# **logit lens** (nostalgebraist, 2020) decodes it as if it were the last:
# $\operatorname{logits}_\ell = W_U \operatorname{norm}(h_\ell)$. We collect the
# stream with forward hooks on the blocks.


# %%
def residual_streams(net: GPT, idx: torch.Tensor) -> list[torch.Tensor]:
    """h_0 (the embeddings) and the stream after each block, each (B, T, d_model)."""
    with torch.no_grad():
        streams = [net.embed(idx)]
    hooks = [block.register_forward_hook(lambda m, a, out: streams.append(out)) for block in net.blocks]
    try:
        with torch.no_grad():
            net(idx)
    finally:
        for hook in hooks:
            hook.remove()
    return streams


def logit_lens(net: GPT, stream: torch.Tensor) -> torch.Tensor:
    return net.head(net.norm(stream))


streams = residual_streams(model, inputs)
with torch.no_grad():
    final = model(inputs)
assert len(streams) == config.n_layers + 1
assert torch.allclose(logit_lens(model, streams[-1]), final, atol=1e-5), "the last layer's lens is the model"

log_final = final.log_softmax(-1)
lens_loss, lens_accuracy, lens_kl, copies_input = [], [], [], []
with torch.no_grad():
    for stream in streams:
        logits = logit_lens(model, stream)
        lens_loss.append(F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item())
        lens_accuracy.append((logits.argmax(-1) == targets).float().mean().item())
        lens_kl.append(F.kl_div(logits.log_softmax(-1), log_final, log_target=True, reduction="none").sum(-1).mean().item())
        copies_input.append((logits.argmax(-1) == inputs).float().mean().item())

# Baselines on the same tokens: unigram and bigram models counted on the training split.
vocab = config.vocab_size
unigram = torch.bincount(train_tokens, minlength=vocab).double() + 1
unigram_loss = -(unigram / unigram.sum()).log()[targets].mean().item()
codes, counts = torch.unique(train_tokens[:-1] * vocab + train_tokens[1:], return_counts=True)
wanted = (inputs * vocab + targets).flatten()
found = torch.searchsorted(codes, wanted).clamp(max=len(codes) - 1)
pair_counts = torch.where(codes[found] == wanted, counts[found], 0).double()
row_counts = torch.bincount(train_tokens[:-1], minlength=vocab).double()[inputs.flatten()]
bigram_loss = -((pair_counts + 0.01) / (row_counts + 0.01 * vocab)).log().mean().item()  # add-0.01 smoothing

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
layers = list(range(config.n_layers + 1))
axes[0].plot(layers, lens_loss, "o-", label="logit lens")
axes[0].axhline(unigram_loss, color="grey", ls=":", label=f"unigram ({unigram_loss:.2f})")
axes[0].axhline(bigram_loss, color="grey", ls="--", label=f"bigram ({bigram_loss:.2f})")
axes[0].set(xlabel="layer (0 = embeddings)", ylabel="next-token loss (nats)", title="Decoding each layer")
axes[0].set_ylim(0, max(unigram_loss, min(lens_loss[0], 2 * unigram_loss)) + 1)
axes[0].legend()
axes[1].plot(layers, lens_accuracy, "o-", label="top-1 = the next token")
axes[1].plot(layers, copies_input, "s-", label="top-1 = the current token")
axes[1].set(xlabel="layer", ylabel="share of positions", title="What the lens predicts")
axes[1].legend()
plt.tight_layout()
plt.show()
print(f"baselines on the same tokens: unigram {unigram_loss:.3f}, bigram {bigram_loss:.3f}")
for layer in layers:
    print(f"layer {layer}: loss {lens_loss[layer]:6.3f}, top-1 {lens_accuracy[layer]:.1%},"
          f" KL to the final {lens_kl[layer]:.3f}, predicts its own input {copies_input[layer]:.1%}")
assert all(a > b for a, b in zip(lens_kl[:-1], lens_kl[1:])), "each layer brings the prediction closer"
assert lens_loss[-1] < bigram_loss < unigram_loss

# %% [markdown]
# Read from the bottom up. Layer 0 is just the token's embedding, and since the
# shared model ties its unembedding to its embedding, decoding it mostly
# predicts *the token itself*: a word's embedding is closest to its own row.
# Each block then moves the prediction towards the final one (the KL falls at
# every layer), and by the third block the lens passes the bigram model,
# the best one can do from the current token alone. The lens is a rough
# instrument: intermediate layers need not use the final layer's basis, which
# is why the **tuned lens** (Belrose et al., 2023) learns a small affine map
# per layer first.
#
# What the lens shows for one position, layer by layer:

# %%
prompt = "    def __init__(self, name"
ids = torch.tensor([tokenizer.encode(prompt)])
with torch.no_grad():
    for layer, stream in enumerate(residual_streams(model, ids)):
        top = logit_lens(model, stream)[0, -1].softmax(-1).topk(3)
        shown = ", ".join(f"{tokenizer.decode([int(i)])!r} {p:.2f}" for p, i in zip(top.values, top.indices))
        print(f"layer {layer}: {shown}")

# %% [markdown]
# ## 2. Linear probes
#
# A **probe** is a simple classifier trained to read a property from a layer's
# hidden states. If a *linear* probe succeeds, the property is available to the
# model's later layers in the simplest form they can read. Two properties of
# Python code, labelled exactly by the standard library's own `tokenize` module:
#
# * **in a string**: the token lies inside a string literal (docstrings
#   included);
# * **in brackets**: the token lies inside at least one pair of `()`, `[]` or
#   `{}`.
#
# Neither can be read from the token alone: `the`, `x` or `,` occur both inside
# and outside strings and brackets. A probe's accuracy means little by itself,
# so each is compared with four baselines: always answering the majority
# class; the same probe trained on **shuffled labels**, which shows what it
# reaches with nothing to learn; the same probe on layer 0, which knows only
# the token (and shows how far token identity gets); and the same probe on an
# **untrained** network of the same architecture, whose random features of the
# context can also be linearly separable. Train and test sets are split by *document*, over five
# splits.


# %%
def documents(tokens: torch.Tensor) -> list[torch.Tensor]:
    cuts = (tokens == tokenizer.eot_id).nonzero().flatten().tolist()
    return [tokens[a + 1 : b] for a, b in zip([-1, *cuts[:-1]], cuts)]


def code_labels(ids: torch.Tensor) -> tuple[np.ndarray, np.ndarray] | None:
    """Per token, (inside a string literal, inside brackets), from `tokenize`; None if it is not Python."""
    pieces = [tokenizer.token_bytes(int(i)) for i in ids]
    data = b"".join(pieces)
    try:
        text = data.decode("utf-8")
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (UnicodeDecodeError, tokenize.TokenError, SyntaxError):
        return None
    lines = text.splitlines(keepends=True)
    line_start = np.cumsum([0] + [len(line.encode()) for line in lines])

    def offset(row: int, col: int) -> int:
        return int(line_start[row - 1]) + len(lines[row - 1][:col].encode()) if row <= len(lines) else len(data)

    in_string = np.zeros(len(data), bool)
    depth = np.zeros(len(data) + 1, int)
    string_kinds = {tokenize.STRING} | {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)}
    for token in tokens:
        start, end = offset(*token.start), offset(*token.end)
        if token.type in string_kinds:
            in_string[start:end] = True
        elif token.type == tokenize.OP and token.string in "([{":
            depth[end:] += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth[start:] -= 1
    last_byte = np.cumsum([len(p) for p in pieces]) - 1
    return in_string[last_byte], depth[last_byte] > 0


snippet = 'f(x, "a b")\ny = 1\n'
in_string, in_brackets = code_labels(torch.tensor(list(snippet.encode())))  # one token per byte
assert [i for i, v in enumerate(in_string) if v] == [5, 6, 7, 8, 9]  # '"a b"'
assert [i for i, v in enumerate(in_brackets) if v] == [2, 3, 4, 5, 6, 7, 8, 9]  # between ( and )

# %% [markdown]
# The validation documents, cut into up to four windows of the model's
# context each, with each document's labels computed on its whole text. A
# window starts at the beginning of a line outside any string or bracket, so
# that its labels can be known from what it contains. Non-Python documents (the
# language reference) are left out.

# %%
windows, labels, doc_of = [], [], []
for number, doc in enumerate(documents(validation)):
    found = code_labels(doc)
    if found is None or len(doc) < config.context:
        continue
    start, taken = 1, 0
    while start + config.context <= len(doc) and taken < 4:
        at_line_start = tokenizer.token_bytes(int(doc[start - 1])).endswith(b"\n")
        if at_line_start and not found[0][start] and not found[1][start]:
            windows.append(doc[start : start + config.context])
            labels.append(np.stack([f[start : start + config.context] for f in found]))
            doc_of.append(number)
            start, taken = start + config.context, taken + 1
        else:
            start += 1
windows = torch.stack(windows)
labels = torch.tensor(np.stack(labels))  # (windows, 2, T)
doc_ids = torch.tensor(doc_of)[:, None].expand(-1, config.context).flatten()
torch.manual_seed(0)
untrained = GPT(config).eval()
features = {
    "pretrained": torch.stack(residual_streams(model, windows)).flatten(1, 2),
    "untrained": torch.stack(residual_streams(untrained, windows)).flatten(1, 2),
}  # (layers + 1, tokens, d_model)
properties = {"in a string": labels[:, 0].flatten(), "in brackets": labels[:, 1].flatten()}
print(f"{len(windows)} windows from {len(set(doc_of))} Python files: {doc_ids.numel():,d} tokens;"
      + "".join(f" {name}: {y.float().mean():.1%}" for name, y in properties.items()))


def probe_accuracies(x: torch.Tensor, ys: list[torch.Tensor], train: torch.Tensor, ridge: float = 1e-2) -> list[float]:
    """Linear probes fitted by ridge regression to +-1 labels on standardised features; held-out accuracies."""
    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
    x = torch.cat([(x - mean) / std, torch.ones(len(x), 1)], dim=1)
    gram = x[train].T @ x[train] + ridge * int(train.sum()) * torch.eye(x.shape[1])
    accuracies = []
    for y in ys:
        w = torch.linalg.solve(gram, x[train].T @ (y[train].float() * 2 - 1))
        accuracies.append(((x[~train] @ w > 0) == y[~train]).float().mean().item())
    return accuracies


results = {(p, net): [] for p in properties for net in [*features, "shuffled labels"]}
majority = {p: [] for p in properties}
files = torch.tensor(sorted(set(doc_of)))
for split in range(5):
    held_out = files[torch.randperm(len(files), generator=torch.Generator().manual_seed(split))[: len(files) // 4]]
    train = ~torch.isin(doc_ids, held_out)
    for name, y in properties.items():
        share = y[~train].float().mean().item()
        majority[name].append(max(share, 1 - share))
    # The shuffled-label baseline: the same probe on the pretrained features, its training labels permuted.
    rows = train.nonzero().flatten()
    permutation = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(100 + split))]
    shuffled = []
    for y in properties.values():
        y_shuffled = y.clone()
        y_shuffled[rows] = y[permutation]
        shuffled.append(y_shuffled)
    for net, x in features.items():
        extra = shuffled if net == "pretrained" else []
        per_layer = [probe_accuracies(x[layer], [*properties.values(), *extra], train) for layer in layers]
        for i, name in enumerate(properties):
            results[name, net].append([accuracy[i] for accuracy in per_layer])
            if extra:
                results[name, "shuffled labels"].append([accuracy[len(properties) + i] for accuracy in per_layer])

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, name in zip(axes, properties):
    for net, style, label in [("pretrained", "o-", "pretrained model"), ("untrained", "s--", "untrained model"), ("shuffled labels", "^:", "pretrained, shuffled labels")]:
        accuracy = np.array(results[name, net])
        ax.errorbar(layers, accuracy.mean(0), yerr=accuracy.std(0), fmt=style, capsize=4, label=label)
    ax.axhline(np.mean(majority[name]), color="grey", ls=":", label="majority class")
    ax.set(xlabel="layer (0 = embeddings)", title=f"Probe: {name}")
    ax.legend()
axes[0].set_ylabel("held-out accuracy (5 splits)")
plt.tight_layout()
plt.show()
for name in properties:
    pre, rnd = np.array(results[name, "pretrained"]), np.array(results[name, "untrained"])
    shuffled_accuracy = np.array(results[name, "shuffled labels"])
    best = int(pre.mean(0).argmax())
    print(f"  per split, best layer {np.round(pre[:, best], 3)}, layer 0 {np.round(pre[:, 0], 3)},"
          f" untrained {np.round(rnd.max(1), 3)}, shuffled labels {np.round(shuffled_accuracy.max(1), 3)}")
    print(f"{name}: majority {np.mean(majority[name]):.3f}; layer 0 {pre[:, 0].mean():.3f};"
          f" best layer {best}: {pre[:, best].mean():.3f} +- {pre[:, best].std():.3f};"
          f" untrained model's best layer {rnd.mean(0).max():.3f}; shuffled labels' best layer {shuffled_accuracy.mean(0).max():.3f}")
    assert (pre[:, best] > pre[:, 0]).all() and (pre[:, best] > np.array(majority[name])).all()
    assert (pre[:, best] > rnd.max(1)).all(), "the pretrained model must beat the untrained one on every split"
    assert (pre[:, best] > shuffled_accuracy.max(1)).all(), "the probe must beat its shuffled-label baseline on every split"
    assert (shuffled_accuracy.max(1) < np.array(majority[name]) + 0.02).all(), "with shuffled labels there is nothing to learn"

# %% [markdown]
# Both properties become linearly readable as the layers go up, well beyond
# what the token alone gives (layer 0) and beyond an untrained network's
# features, on files the probe never saw. Two cautions, both from the probing
# literature. A probe shows that information is *present*, not that the model
# *uses* it: for that, intervene (ablate or steer along the probe's direction
# and see the behaviour change). And a powerful probe can learn the task
# itself: that is why probes are kept linear and compared with control
# baselines (Hewitt and Liang, 2019).
#
# ## 3. Attention-head ablation
#
# Which heads matter? **Ablate** one (remove its contribution) and measure how
# much worse the model predicts. Setting a head's output to zero moves the
# residual stream somewhere it never is during training; **mean ablation**
# replaces the head's output by its average over a reference set instead, which
# removes the information the head carries about *this* input but keeps the
# stream in range. The heads' outputs are the input of each layer's output
# projection `attn.proj`, one slice of `head_dim` columns per head, so a
# forward pre-hook can replace a slice. Each effect is measured on the same 12
# validation windows as the unablated model, so the differences are paired;
# we report their mean with a 95% interval over windows. Twelve other windows
# are kept aside to test the ranking against random heads.


# %%
@contextmanager
def ablated(layer: int, head: int, replacement: torch.Tensor | None = None):
    """Replace one head's output (the proj input slice) with `replacement` (zeros if None) inside the block."""
    part = slice(head * config.head_dim, (head + 1) * config.head_dim)

    def hook(module, args):
        (x,) = args
        x = x.clone()
        x[..., part] = 0.0 if replacement is None else replacement
        return (x,)

    handle = model.blocks[layer].attn.proj.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def window_losses(rows: slice = slice(0, 12)) -> torch.Tensor:
    """Mean loss of each validation window in `rows` (the first 12 rank the heads, the next 12 test the ranking)."""
    with torch.no_grad():
        logits = model(inputs[rows])
    return F.cross_entropy(logits.transpose(1, 2), targets[rows], reduction="none").mean(-1)


# The hook against an independent way of removing a head: zeroing its columns of the output projection.
zeroed = GPT(config).eval()
zeroed.load_state_dict(model.state_dict())
with torch.no_grad():
    zeroed.blocks[2].attn.proj.weight[:, config.head_dim : 2 * config.head_dim] = 0.0
    with ablated(2, 1):
        assert torch.allclose(model(inputs[:2]), zeroed(inputs[:2]), atol=1e-5), "the hook removes exactly head 1 of layer 2"
    assert not torch.allclose(model(inputs[:2]), zeroed(inputs[:2]), atol=1e-3)


head_means = []
captured = {}
hooks = [
    block.attn.proj.register_forward_pre_hook(lambda m, a, i=i: captured.__setitem__(i, a[0].detach()))
    for i, block in enumerate(model.blocks)
]
with torch.no_grad():
    model(windows[:16])
for hook in hooks:
    hook.remove()
head_means = [captured[i].flatten(0, 1).mean(0) for i in range(config.n_layers)]

clean = window_losses()
effect = np.zeros((config.n_layers, config.n_heads))
interval = np.zeros_like(effect)
zero_effect = np.zeros_like(effect)
for layer in range(config.n_layers):
    for head in range(config.n_heads):
        part = slice(head * config.head_dim, (head + 1) * config.head_dim)
        with ablated(layer, head, head_means[layer][part]):
            difference = window_losses() - clean
        effect[layer, head] = difference.mean().item()
        interval[layer, head] = 1.96 * difference.std().item() / math.sqrt(len(difference))

with ablated(0, 0, head_means[0][: config.head_dim]):
    pass
assert torch.equal(window_losses(), clean), "hooks must come off"

for block in model.blocks:
    block.attn.keep_weights = True
with torch.no_grad():
    model(inputs[:8])
previous_token = np.array([
    block.attn.last_weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean((0, 2)).numpy() for block in model.blocks
])
for block in model.blocks:
    block.attn.keep_weights = False

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
image = axes[0].imshow(effect, cmap="Reds")
axes[0].set(xlabel="head", ylabel="layer", title="Loss increase when mean-ablated (nats)")
plt.colorbar(image, ax=axes[0])
image = axes[1].imshow(previous_token, cmap="Blues", vmin=0, vmax=1)
axes[1].set(xlabel="head", ylabel="layer", title="Attention to the previous token")
plt.colorbar(image, ax=axes[1])
for ax in axes:
    ax.set_xticks(range(config.n_heads))
    ax.set_yticks(range(config.n_layers))
plt.tight_layout()
plt.show()
order = np.argsort(effect, axis=None)[::-1]
for flat in order[:4]:
    layer, head = divmod(int(flat), config.n_heads)
    with ablated(layer, head):
        zero_effect[layer, head] = (window_losses() - clean).mean().item()
    print(f"layer {layer} head {head}: +{effect[layer, head]:.4f} +- {interval[layer, head]:.4f} nats"
          f" (zero ablation +{zero_effect[layer, head]:.4f}); attends to the previous token {previous_token[layer, head]:.0%}")
top_layer, top_head = divmod(int(order[0]), config.n_heads)
assert effect[top_layer, top_head] - interval[top_layer, top_head] > 0, "the most important head matters"
print(f"heads whose removal costs significantly more than nothing: {(effect - interval > 0).sum()} of {effect.size}")

# %% [markdown]
# Is the ranking real, or did it pick the heads that happened to matter on
# these twelve windows? Two tests on the twelve windows kept aside. First, the
# effects measured there must rank the heads as the first twelve windows did
# (a rank correlation, so that one large head cannot carry it alone). Second,
# the heads ranked second to fourth, ablated together, must cost more than
# three heads drawn at random from all but the top one, 30 times; the top head
# is left out of both because any set containing it costs a lot.


# %%
def ablate_heads_loss(heads: list[tuple[int, int]], rows: slice) -> float:
    """Mean loss rise on the windows in `rows` with all `heads` mean-ablated at once."""
    with ExitStack() as stack:
        for layer, head in heads:
            part = slice(head * config.head_dim, (head + 1) * config.head_dim)
            stack.enter_context(ablated(layer, head, head_means[layer][part]))
        ablated_losses = window_losses(rows)
    return (ablated_losses - window_losses(rows)).mean().item()


def ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values.flatten()))


held_out_rows = slice(12, 24)
held_out_effect = np.array([[ablate_heads_loss([(layer, head)], held_out_rows) for head in range(config.n_heads)] for layer in range(config.n_layers)])
rank_agreement = np.corrcoef(ranks(effect), ranks(held_out_effect))[0, 1]
print(f"rank correlation of the per-head effects, ranking windows against held-out windows: {rank_agreement:.2f}")

heads = [divmod(int(flat), config.n_heads) for flat in order]
chosen_cost = ablate_heads_loss(heads[1:4], held_out_rows)
generator = torch.Generator().manual_seed(0)
others = heads[1:]
random_costs = np.array([
    ablate_heads_loss([others[int(i)] for i in torch.randperm(len(others), generator=generator)[:3]], held_out_rows)
    for _ in range(30)
])
print(f"held-out loss rise, heads ranked 2-4 ablated together: +{chosen_cost:.3f} nats;"
      f" 3 random heads other than the top one (30 draws): median +{np.median(random_costs):.3f},"
      f" 90th percentile +{np.quantile(random_costs, 0.9):.3f}")
assert rank_agreement > 0.5, "head effects measured on different windows must rank the heads alike"
assert chosen_cost > np.quantile(random_costs, 0.9), "the ranked heads must cost more than random heads on held-out text"

# %% [markdown]
# The effects are uneven: a few heads carry much of the load, many cost
# almost nothing on their own (redundancy: another head may take over, which a
# single-head ablation cannot see). Zero ablation usually reports larger
# effects than mean ablation, partly because it also pushes the stream off
# distribution. A head that mostly attends to the previous token is the
# simplest kind of head with a known job: it copies information about the
# token before into the current position, which later heads build on (in
# larger models, induction heads that continue repeated text: Olsson et al.,
# 2022). Ablation answers *whether* a component matters for a metric; finding
# *what* it computes takes patching activations between inputs that differ in
# one respect (activation patching) and reading its weights.
#
# ## 4. A sparse autoencoder on the residual stream
#
# A layer's residual stream has `d_model` dimensions but the model seems to
# represent far more features than that, each a direction, most of them
# inactive on any one token (**superposition**). A **sparse autoencoder** (SAE)
# tries to recover them: an overcomplete dictionary of $m > d$ directions and
# an encoder that explains each hidden state with few of them,
#
# $$f = \operatorname{ReLU}(W_e (x - b_d) + b_e), \qquad \hat x = W_d f + b_d, \qquad L = \lVert x - \hat x \rVert^2 + \lambda \lVert f \rVert_1,$$
#
# with the columns of $W_d$ kept at unit length, so the L1 penalty cannot be
# dodged by shrinking $f$ and growing $W_d$. The weight $\lambda$ trades
# reconstruction against sparsity; we sweep it. Quality is measured on
# held-out text three ways: **L0** (active features per token), the
# **fraction of variance unexplained** (FVU), and the **loss recovered** when
# the model runs on the reconstruction instead of the real stream, between 0
# (as bad as replacing the stream by its mean) and 1 (as good as the real one).
# The baseline is PCA: the best reconstruction from the same number of
# dimensions for every token, where the SAE may choose different ones per
# token.


# %%
site = config.n_layers // 2  # the stream after this many blocks


def stream_at(idx: torch.Tensor) -> torch.Tensor:
    return residual_streams(model, idx)[site].flatten(0, 1)


generator = torch.Generator().manual_seed(0)
starts = torch.randint(0, len(train_tokens) - config.context, (96,), generator=generator)
train_acts = stream_at(torch.stack([train_tokens[s : s + config.context] for s in starts]))
test_acts = stream_at(inputs)
scale = train_acts.pow(2).sum(-1).mean().sqrt() / math.sqrt(config.d_model)  # so that E|x|^2 = d_model
train_acts, test_acts = train_acts / scale, test_acts / scale
centred = test_acts - train_acts.mean(0)


class SparseAutoencoder(torch.nn.Module):
    def __init__(self, d: int, m: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        decoder = F.normalize(torch.randn(m, d), dim=-1)
        self.decoder = torch.nn.Parameter(decoder)  # rows are the dictionary's directions
        self.encoder = torch.nn.Parameter(decoder.T.clone())
        self.encoder_bias = torch.nn.Parameter(torch.zeros(m))
        self.decoder_bias = torch.nn.Parameter(train_acts.mean(0).clone())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu((x - self.decoder_bias) @ self.encoder + self.encoder_bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.encode(x)
        return f @ self.decoder + self.decoder_bias, f


def train_sae(penalty: float, seed: int, m: int, steps: int = 300, batch: int = 256) -> SparseAutoencoder:
    sae = SparseAutoencoder(config.d_model, m, seed)
    optimizer = torch.optim.Adam(sae.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = train_acts[torch.randint(0, len(train_acts), (batch,), generator=generator)]
        reconstruction, f = sae(x)
        loss = (reconstruction - x).pow(2).sum(-1).mean() + penalty * f.sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            sae.decoder.copy_(F.normalize(sae.decoder, dim=-1))
    return sae


def loss_with_stream(replace: torch.Tensor | None) -> float:
    """The model's validation loss with the stream at `site` replaced (None: the real stream)."""
    def hook(module, args, output):
        return replace.view_as(output) * scale

    handle = model.blocks[site - 1].register_forward_hook(hook) if replace is not None else None
    try:
        with torch.no_grad():
            logits = model(inputs)
    finally:
        if handle:
            handle.remove()
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item()


clean_loss = loss_with_stream(None)
assert abs(loss_with_stream(test_acts) - clean_loss) < 1e-4, "splicing the real stream back changes nothing"
mean_loss = loss_with_stream(train_acts.mean(0).expand_as(test_acts))


def measure(sae: SparseAutoencoder) -> dict:
    with torch.no_grad():
        reconstruction, f = sae(test_acts)
    spliced = loss_with_stream(reconstruction)
    return {
        "l0": (f > 0).float().sum(-1).mean().item(),
        "fvu": ((reconstruction - test_acts).pow(2).sum() / centred.pow(2).sum()).item(),
        "recovered": (mean_loss - spliced) / (mean_loss - clean_loss),
        "dead": (f.amax(0) == 0).float().mean().item(),
    }


_, _, principal_axes = torch.linalg.svd(train_acts - train_acts.mean(0), full_matrices=False)


def pca_fvu(k: int) -> float:
    """Held-out FVU of the best k-dimensional linear reconstruction fitted on the training activations."""
    mean = train_acts.mean(0)
    basis = principal_axes[:k]
    projected = (test_acts - mean) @ basis.T @ basis
    return ((test_acts - mean - projected).pow(2).sum() / centred.pow(2).sum()).item()


width = 4 * config.d_model
sweep, trained = {}, {}
for penalty in [1.0, 3.0, 10.0]:
    trained[penalty] = train_sae(penalty, seed=0, m=width)
    sweep[penalty] = measure(trained[penalty])
    r = sweep[penalty]
    print(f"lambda {penalty}: L0 {r['l0']:5.1f} of {width}, FVU {r['fvu']:.3f}"
          f" (PCA at that many dimensions {pca_fvu(max(1, round(r['l0']))):.3f}),"
          f" loss recovered {r['recovered']:.1%}, dead features {r['dead']:.0%}")
print(f"(real stream: loss {clean_loss:.3f}; stream replaced by its mean: {mean_loss:.3f})")

# %% [markdown]
# The trade-off: a larger penalty buys sparsity with reconstruction. Is the
# sparse code better than the obvious linear baseline? Three seeds at the
# middle penalty, each against PCA with as many dimensions as the SAE uses on
# average per token. (At the smallest penalty the code is so dense that PCA,
# which is optimal for a fixed number of dimensions, wins: sparsity is the
# point.)

# %%
seeds = [trained[3.0]] + [train_sae(3.0, seed=s, m=width) for s in (1, 2)]
paired = []
for sae in seeds:
    r = measure(sae)
    paired.append((r["fvu"], pca_fvu(max(1, round(r["l0"]))), r["l0"]))
    print(f"seed: L0 {r['l0']:.1f}, SAE FVU {r['fvu']:.3f} against PCA FVU {paired[-1][1]:.3f}")
assert all(sae_fvu < pca for sae_fvu, pca, _ in paired), "the SAE must beat PCA at equal active dimensions"

ks = list(range(1, config.d_model + 1, max(1, config.d_model // 24)))
plt.figure(figsize=(6, 3.8))
plt.plot(ks, [pca_fvu(k) for k in ks], "-", color="grey", label="PCA, k dimensions")
plt.plot([r["l0"] for r in sweep.values()], [r["fvu"] for r in sweep.values()], "o-", label="SAE, lambda sweep")
plt.plot([p[2] for p in paired], [p[0] for p in paired], "x", color="black", label="SAE, lambda 3, 3 seeds")
plt.xscale("log")
plt.xlabel("active dimensions per token (L0, or k for PCA)")
plt.ylabel("fraction of variance unexplained")
plt.title(f"Sparse autoencoder ({width} features) on layer {site}'s stream")
plt.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# A caveat on that comparison: the SAE must also encode *which* features are
# active, which PCA never has to; what the comparison shows is that the
# stream is better described as a sparse combination of many directions than
# as a point in a fixed low-dimensional subspace. Whether the features mean
# anything is a separate question. The usual first look: the tokens on which a
# feature fires hardest, in context.

# %%
sae = seeds[0]
with torch.no_grad():
    activations = sae.encode(test_acts)
frequency = (activations > 0).float().mean(0)
candidates = torch.nonzero((frequency > 0.002) & (frequency < 0.05)).flatten()
flat_inputs = inputs.flatten()
chosen = candidates[activations[:, candidates].amax(0).argsort(descending=True)[:4]]
for feature in chosen.tolist():
    top = activations[:, feature].topk(5).indices
    contexts = [
        tokenizer.decode(flat_inputs[max(0, int(i) - 6) : int(i)].tolist()) + "[" + tokenizer.decode([int(flat_inputs[i])]) + "]"
        for i in top
    ]
    print(f"feature {feature} (active on {frequency[feature]:.1%} of tokens):")
    for context in contexts:
        print("    " + repr(context))

# %% [markdown]
# Some features are clean (one token in one syntactic role), some mix several
# (polysemantic), and at this size many are dead or fire almost everywhere.
# Anthropic's "Towards Monosemanticity" and "Scaling Monosemanticity" and
# OpenAI's top-k SAEs do this at scale, with millions of features, methods to
# keep features alive, and automated interpretation; Neuronpedia publishes such
# dictionaries for open models.
#
# ## What to try next
#
# 1. **Selectivity of a probe.** Hewitt and Liang's control task gives each
#    token *type* a random label, fixed per type; a good probe is *selective*:
#    accurate on the real task and not on the control. Write
#    `control_labels(token_ids, seed)` that returns a 0/1 label per position,
#    drawn at random per distinct token id (the same id always gets the same
#    label), as a `torch.long` tensor.
#
# <details><summary>Solution</summary>
#
# ```python
# def control_labels(token_ids, seed):
#     generator = torch.Generator().manual_seed(seed)
#     table = torch.randint(0, 2, (int(token_ids.max()) + 1,), generator=generator)
#     return table[token_ids]
# ```
#
# Train `probe_accuracy` on `control_labels(windows.flatten(), 0)`: a probe
# that also does well there is memorising token identities, not reading the
# context.
# </details>
#
# 2. **Fraction of variance unexplained.** Write `fvu(x, x_hat)` for two
#    `(N, d)` tensors: the squared error summed over everything, divided by
#    the total squared deviation of `x` from its own mean vector.
#
# <details><summary>Solution</summary>
#
# ```python
# def fvu(x, x_hat):
#     return ((x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum()).item()
# ```
#
# It is 0 for a perfect reconstruction and 1 for always answering the mean.
# </details>
#
# 3. **Steering.** Take the probe direction for "in a string" at its best
#    layer, add a multiple of it to the residual stream at every position with
#    a forward hook, and generate: does the model start writing prose as if it
#    were inside a docstring?
#
# Write your answers to exercises 1 and 2 in the next cell and run the check
# after it.


# %%
def control_labels(token_ids: torch.Tensor, seed: int) -> torch.Tensor:
    raise NotImplementedError  # exercise 1


def fvu(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    raise NotImplementedError  # exercise 2


# %%
from exercises import run_check


def check_control_labels(candidate) -> None:
    ids = torch.tensor([5, 7, 5, 9, 7, 7, 5, 11] * 50)
    labels = candidate(ids, 0)
    assert labels.shape == ids.shape and set(labels.unique().tolist()) <= {0, 1}, "one 0/1 label per position"
    for token in ids.unique():
        assert len(labels[ids == token].unique()) == 1, "the same token id must always get the same label"
    many = torch.arange(2000)
    share = candidate(many, 1).float().mean().item()
    assert 0.4 < share < 0.6, "labels drawn at random, about half ones"
    assert torch.equal(candidate(many, 3), candidate(many, 3)), "the same seed gives the same labels"


def check_fvu(candidate) -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(500, 8, generator=generator, dtype=torch.float64) * 3 + 5
    assert abs(candidate(x, x)) < 1e-12
    assert abs(candidate(x, x.mean(0).expand_as(x)) - 1) < 1e-12, "answering the mean gives 1"
    noisy = x + 0.1 * torch.randn(500, 8, generator=generator, dtype=torch.float64)
    expected = ((noisy - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum()).item()
    assert abs(candidate(x, noisy) - expected) < 1e-12


print("exercise 1:", run_check(check_control_labels, control_labels))
print("exercise 2:", run_check(check_fvu, fvu))

# %% [markdown]
# The checks are tested too: they must pass the solutions above, reject a
# wrong answer, and report an untouched stub as not attempted.


# %%
def solution_control_labels(token_ids, seed):
    generator = torch.Generator().manual_seed(seed)
    table = torch.randint(0, 2, (int(token_ids.max()) + 1,), generator=generator)
    return table[token_ids]


def wrong_control_labels(token_ids, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, token_ids.shape, generator=generator)  # random per position, not per token


def solution_fvu(x, x_hat):
    return ((x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum()).item()


def wrong_fvu(x, x_hat):
    return ((x - x_hat).pow(2).sum() / x.pow(2).sum()).item()  # forgets to centre


assert run_check(check_control_labels, solution_control_labels) == "passed"
assert run_check(check_fvu, solution_fvu) == "passed"
assert run_check(check_control_labels, wrong_control_labels).startswith("not yet")
assert run_check(check_fvu, wrong_fvu).startswith("not yet")
assert run_check(check_control_labels, control_labels).startswith("not attempted")
assert run_check(check_fvu, fvu).startswith("not attempted")
