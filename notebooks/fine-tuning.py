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
# # Fine-tuning: full updates vs LoRA
#
# Almost nobody trains a language model from nothing. You take a model pre-trained on a
# large, general corpus and **adapt** it to your data. There are two ways to spend the
# update:
#
# - **Full fine-tuning** updates every weight. It is the most expressive, but each adapted
#   model is a full copy, the optimizer state is 2-3 times the model, and the model tends to
#   **forget** what it knew.
# - **LoRA** (Low-Rank Adaptation, Hu et al. 2021) freezes the pre-trained weights and learns
#   a small low-rank *correction* $\Delta W = \frac{\alpha}{r} B A$ for a few weight matrices.
#   It trains a tiny fraction of the parameters, the adapter can be switched off to get the
#   original model back, and it can be merged into the weights so inference costs nothing
#   extra.
#
# **What you will build**
#
# 1. A tiny GPT-style character language model, pre-trained on Python's documentation.
# 2. A new domain it has never seen: server log lines.
# 3. Full fine-tuning on the new domain.
# 4. `LoRALinear` from scratch: a frozen `nn.Linear` plus a rank-$r$ update, with its output
#    checked to be unchanged at initialisation and its parameter count checked.
# 5. Loss curves of both methods, a merge of LoRA into the base weights (checked to give the
#    same outputs), and a measurement of **catastrophic forgetting** on the original domain.

# %%
import copy
import importlib
import inspect
import math
import random
import string

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)  # tiny tensors: a second thread costs more in synchronisation than it saves
torch.manual_seed(0)

# %% [markdown]
# ## Two domains
#
# **Domain A (pre-training)**: the docstrings of twenty standard-library modules, English prose
# about Python. **Domain B (fine-tuning)**: synthetic log lines, written by a small generator
# with a fixed seed. Both are encoded with the same fixed alphabet of printable ASCII
# characters, so one model can read both.

# %%
MODULE_NAMES = [
    "collections",
    "itertools",
    "functools",
    "json",
    "re",
    "string",
    "textwrap",
    "typing",
    "pathlib",
    "argparse",
    "datetime",
    "random",
    "statistics",
    "fractions",
    "decimal",
    "heapq",
    "bisect",
    "csv",
    "logging",
    "unittest",
]
ALPHABET = string.ascii_letters + string.digits + string.punctuation + " \n"
CHAR_TO_ID = {char: index for index, char in enumerate(ALPHABET)}


def gather_docstrings(module_names: list[str]) -> str:
    """Concatenate the docstrings of the modules and of the classes and functions they define."""
    parts = []
    for name in module_names:
        module = importlib.import_module(name)
        parts.append(inspect.getdoc(module) or "")
        for _, obj in sorted(vars(module).items()):
            is_own = getattr(obj, "__module__", None) == name
            if is_own and (inspect.isclass(obj) or inspect.isfunction(obj)):
                parts.append(inspect.getdoc(obj) or "")
    return "\n\n".join(part for part in parts if part)


def make_log_lines(count: int, seed: int) -> str:
    """Synthetic service logs: timestamps, levels, services, requests, latencies."""
    rng = random.Random(seed)
    services = ["auth", "billing", "search", "gateway", "cache", "mailer"]
    resources = ["users", "orders", "invoices", "sessions", "items"]
    lines = []
    for _ in range(count):
        stamp = f"2024-03-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        service, resource = rng.choice(services), rng.choice(resources)
        kind = rng.random()
        if kind < 0.5:
            status = rng.choice([200, 200, 200, 201, 204, 404, 500])
            level = "INFO" if status < 400 else "WARN" if status < 500 else "ERROR"
            message = f"GET /api/v1/{resource}/{rng.randint(1, 9999)} {status} {rng.randint(2, 900)}ms"
        elif kind < 0.75:
            level, message = "INFO", f"cache miss for key {resource}:{rng.randint(1, 9999)}"
        else:
            level = "WARN"
            message = f"retrying connection to db-{rng.randint(1, 4)} (attempt {rng.randint(1, 5)}/5)"
        lines.append(f"{stamp} {level:5} [{service}] {message}")
    return "\n".join(lines) + "\n"


def encode(text: str) -> torch.Tensor:
    """Map text to character ids, dropping characters outside the alphabet."""
    return torch.tensor([CHAR_TO_ID[c] for c in text if c in CHAR_TO_ID], dtype=torch.long)


def decode(ids: torch.Tensor) -> str:
    """Map character ids back to text."""
    return "".join(ALPHABET[i] for i in ids.tolist())


docs_ids = encode(gather_docstrings(MODULE_NAMES))
split = int(0.9 * len(docs_ids))
docs_train, docs_val = docs_ids[:split], docs_ids[split:]
logs_train, logs_val = encode(make_log_lines(1500, seed=1)), encode(make_log_lines(200, seed=2))
print(f"domain A (docs): {len(docs_train):,} train / {len(docs_val):,} val characters")
print(f"domain B (logs): {len(logs_train):,} train / {len(logs_val):,} val characters")
print(decode(logs_train[:180]))

# %% [markdown]
# ## A tiny GPT
#
# Token and position embeddings, two pre-norm transformer blocks (causal self-attention with
# four heads, then an MLP), and a linear head. Query, key, value and output projections are
# separate `nn.Linear` layers so that LoRA can target some of them.

# %%
CONTEXT, WIDTH, HEADS, LAYERS = 32, 64, 4, 2


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, time, width = x.shape

        def split_heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, time, self.heads, width // self.heads).transpose(1, 2)

        q, k, v = split_heads(self.q_proj(x)), split_heads(self.k_proj(x)), split_heads(self.v_proj(x))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(attended.transpose(1, 2).reshape(batch, time, width))


class Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyGPT(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(len(ALPHABET), WIDTH)
        self.position_embedding = nn.Embedding(CONTEXT, WIDTH)
        self.blocks = nn.ModuleList([Block(WIDTH, HEADS) for _ in range(LAYERS)])
        self.norm = nn.LayerNorm(WIDTH)
        self.head = nn.Linear(WIDTH, len(ALPHABET))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1])
        x = self.token_embedding(ids) + self.position_embedding(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


print(f"TinyGPT: {count_parameters(TinyGPT()):,} parameters")

# %% [markdown]
# Training and evaluation are plain next-character prediction over random windows of 32
# characters. The validation loss uses a fixed set of windows, so numbers are comparable
# across models.


# %%
def random_windows(
    ids: torch.Tensor, count: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """count windows of CONTEXT characters (inputs) and the same shifted by one (targets)."""
    starts = torch.randint(len(ids) - CONTEXT - 1, (count,), generator=generator)
    windows = torch.stack([ids[s : s + CONTEXT + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


def lm_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean next-character cross-entropy over every position of every window."""
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


VAL_WINDOWS = {
    "docs": random_windows(docs_val, 256, torch.Generator().manual_seed(10)),
    "logs": random_windows(logs_val, 256, torch.Generator().manual_seed(11)),
}


@torch.no_grad()
def evaluate(model: nn.Module, domain: str) -> float:
    """Validation loss on the fixed windows of one domain (eval mode, no gradients)."""
    model.eval()
    loss = lm_loss(model, *VAL_WINDOWS[domain]).item()
    model.train()
    return loss


def train(
    model: nn.Module, ids: torch.Tensor, steps: int, lr: float, seed: int, eval_domain: str | None = None
) -> dict[str, list]:
    """AdamW on the trainable parameters; records training loss and, every 20 steps, a val loss."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    history: dict[str, list] = {"train": [], "eval_step": [], "eval": []}
    model.train()
    for step in range(steps + 1):
        if eval_domain is not None and step % 20 == 0:
            history["eval_step"].append(step)
            history["eval"].append(evaluate(model, eval_domain))
        if step == steps:
            break
        loss = lm_loss(model, *random_windows(ids, 32, generator))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history["train"].append(loss.item())
    return history


# %% [markdown]
# ## Pre-training on domain A
#
# A few hundred steps are enough for the model to learn English spelling, common words and
# the look of Python documentation. It has never seen a log line.

# %%
torch.manual_seed(0)
pretrained = TinyGPT()
pretrain_history = train(pretrained, docs_train, steps=400, lr=3e-3, seed=0)
pretrained.eval()
for p in pretrained.parameters():
    p.requires_grad_(False)

before = {domain: evaluate(pretrained, domain) for domain in ("docs", "logs")}
print(f"pre-trained: docs val loss {before['docs']:.3f}, logs val loss {before['logs']:.3f}")
assert before["docs"] < 0.7 * math.log(len(ALPHABET)), "pre-training beat the uniform guess"
assert before["logs"] > before["docs"], "logs are a new domain for this model"

# %% [markdown]
# ## Full fine-tuning
#
# Copy the pre-trained model, unfreeze everything, train on logs.

# %%
full_model = copy.deepcopy(pretrained)
for p in full_model.parameters():
    p.requires_grad_(True)
FINETUNE_STEPS = 200
full_history = train(full_model, logs_train, FINETUNE_STEPS, lr=1e-3, seed=1, eval_domain="logs")
print(f"full fine-tuning trained {count_parameters(full_model, trainable_only=True):,} parameters")

# %% [markdown]
# ## LoRA from scratch
#
# For a frozen weight $W \in \mathbb{R}^{d_\text{out}\times d_\text{in}}$, LoRA learns
# $A \in \mathbb{R}^{r\times d_\text{in}}$ and $B \in \mathbb{R}^{d_\text{out}\times r}$ with
# $r \ll d$, and computes
#
# $$h = W x + b + \frac{\alpha}{r}\, B A x .$$
#
# - $A$ starts random and $B$ starts at **zero**, so $BA = 0$: the adapted model is *exactly*
#   the pre-trained model at step 0, and training starts from what it knows.
# - $\alpha/r$ fixes the scale of the update, so changing the rank does not require retuning
#   the learning rate.
# - The update has rank at most $r$. The LoRA paper's bet, confirmed in practice, is that the
#   change fine-tuning needs is low-rank.
#
# $r(d_\text{in}+d_\text{out})$ trainable numbers replace $d_\text{in} d_\text{out}$: for a
# 4096 × 4096 projection of a 7B model and $r=8$ that is 65,536 instead of 16.8 million.


# %%
class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank update (alpha / rank) * B @ A."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))  # like nn.Linear's own weights
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scaling = alpha / rank
        self.enabled = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output = self.base(x)
        if self.enabled:
            output = output + self.scaling * (x @ self.lora_a.T) @ self.lora_b.T
        return output

    def merged(self) -> nn.Linear:
        """A plain nn.Linear with weight W + (alpha / rank) * B @ A: no extra cost at inference."""
        linear = nn.Linear(self.base.in_features, self.base.out_features, dtype=self.base.weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(self.base.weight + self.scaling * self.lora_b @ self.lora_a)
            linear.bias.copy_(self.base.bias)
        return linear


def replace_module(root: nn.Module, path: str, new: nn.Module) -> None:
    """Swap the submodule at a dotted path such as "blocks.0.mlp.2" for new."""
    parent_path, _, name = path.rpartition(".")
    setattr(root.get_submodule(parent_path), name, new)


def add_lora(model: TinyGPT, rank: int, alpha: float, targets: tuple[str, ...]) -> TinyGPT:
    """Freeze a copy of model and wrap the target linear layers (paths inside each block)."""
    adapted = copy.deepcopy(model)
    for p in adapted.parameters():
        p.requires_grad_(False)
    for index in range(len(adapted.blocks)):
        for target in targets:
            path = f"blocks.{index}.{target}"
            replace_module(adapted, path, LoRALinear(adapted.get_submodule(path), rank, alpha))
    return adapted


def lora_layers(model: nn.Module) -> list[LoRALinear]:
    """Every LoRALinear inside model."""
    return [module for module in model.modules() if isinstance(module, LoRALinear)]


RANK, ALPHA = 4, 8.0
TARGETS = ("attention.q_proj", "attention.v_proj", "mlp.0", "mlp.2")
torch.manual_seed(1)
lora_model = add_lora(pretrained, RANK, ALPHA, TARGETS)

probe = VAL_WINDOWS["logs"][0][:8]
with torch.no_grad():
    torch.testing.assert_close(lora_model(probe), pretrained(probe), rtol=0, atol=1e-6)  # B = 0

trainable = count_parameters(lora_model, trainable_only=True)
expected = sum(RANK * (layer.base.in_features + layer.base.out_features) for layer in lora_layers(lora_model))
total = count_parameters(lora_model)
print(f"{len(lora_layers(lora_model))} adapted layers, each {RANK} * (d_in + d_out) trainable numbers")
print(f"LoRA trainable parameters: {trainable:,} of {total:,} ({trainable / total:.1%})")
assert expected == LAYERS * RANK * (2 * (WIDTH + WIDTH) + 2 * (WIDTH + 4 * WIDTH))
assert trainable == expected, "only A and B train"
assert trainable < 0.1 * total

# %% [markdown]
# We adapt the query and value projections (the LoRA paper's choice) and both MLP layers
# (common practice since QLoRA: adapting only attention leaves this small model far behind
# full fine-tuning; try it). At initialisation the adapted model's logits equal the
# pre-trained model's (checked to $10^{-6}$; on most machines they agree bit for bit). The
# fraction of trainable parameters shrinks with width, as $2r/d$: it is 6% here and well
# under 1% for a model with $d = 4096$. LoRA usually takes a larger learning rate than full
# fine-tuning, since its few parameters start from zero. Same number of steps, same batches.

# %%
lora_history = train(lora_model, logs_train, FINETUNE_STEPS, lr=1e-2, seed=1, eval_domain="logs")
for name, parameter in lora_model.named_parameters():
    if "lora_" not in name:
        torch.testing.assert_close(parameter, pretrained.get_parameter(name.replace(".base", "")))
print("every pre-trained weight inside the LoRA model is unchanged")

after_full = {domain: evaluate(full_model, domain) for domain in ("docs", "logs")}
after_lora = {domain: evaluate(lora_model, domain) for domain in ("docs", "logs")}
for label, result in [("full fine-tuning", after_full), ("LoRA", after_lora)]:
    print(f"{label:16}: logs val loss {before['logs']:.3f} -> {result['logs']:.3f}")
    assert result["logs"] < 0.7 * before["logs"], f"{label} learned the new domain"

# %% [markdown]
# The plot shows the validation loss on logs during both runs. Notice that both curves fall
# steeply: most of what the model needs (which characters follow which) is already in the
# pre-trained weights, and the adaptation mostly re-weights it. Full fine-tuning, with 16
# times more trainable parameters, ends lower.

# %%
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(full_history["eval_step"], full_history["eval"], "o-", label="full fine-tuning (lr 1e-3)")
ax.plot(lora_history["eval_step"], lora_history["eval"], "s-", label=f"LoRA r={RANK} (lr 1e-2)")
ax.axhline(before["docs"], color="gray", linestyle=":", label="pre-trained model on its own domain")
ax.set_xlabel("fine-tuning step")
ax.set_ylabel("validation loss on logs (nats per character)")
ax.set_title("Adapting to a new domain")
ax.legend()
plt.show()

# %% [markdown]
# ## Merging the adapter
#
# At inference an extra low-rank branch in every adapted layer costs time. Since
# $Wx + \frac{\alpha}{r}BAx = (W + \frac{\alpha}{r}BA)x$, the update can be folded into the
# weight once, giving an ordinary model with the original architecture and speed. Serving
# systems also do the opposite: keep one base model in memory and switch small adapters per
# request.
#
# The two computations round differently in `float32` (the merged weight is rounded once,
# the branch adds a separately rounded term), so we compare the predicted next-character
# probabilities with an absolute tolerance of $10^{-5}$, and the logits in `float64`, where
# they agree to about $10^{-14}$.


# %%
def merge_lora(model: TinyGPT) -> TinyGPT:
    """A copy of model with every LoRALinear replaced by its merged nn.Linear."""
    merged = copy.deepcopy(model)
    paths = [name for name, module in merged.named_modules() if isinstance(module, LoRALinear)]
    for path in paths:
        replace_module(merged, path, merged.get_submodule(path).merged())
    return merged


merged_model = merge_lora(lora_model)
assert not lora_layers(merged_model), "no LoRA branch left"
assert count_parameters(merged_model) == count_parameters(pretrained), "same architecture as the base"
x_logs = VAL_WINDOWS["logs"][0]
with torch.no_grad():
    probs_merged = F.softmax(merged_model(x_logs), dim=-1)
    probs_adapter = F.softmax(lora_model(x_logs), dim=-1)
    lora_64 = copy.deepcopy(lora_model).double()
    gap_64 = (merge_lora(lora_64)(x_logs) - lora_64(x_logs)).abs().max().item()
torch.testing.assert_close(probs_merged, probs_adapter, atol=1e-5, rtol=0)
assert gap_64 < 1e-10, "in float64 the logits agree to rounding"
print("next-character probabilities, merged vs adapter: equal within atol 1e-5 (float32)")
print(f"logits in float64: max difference {gap_64:.1e}")

# %% [markdown]
# ## Catastrophic forgetting
#
# What happened to the original skill? We evaluate every model on the held-out
# *documentation*. Full fine-tuning moved every weight towards logs, so its docs loss rises.
# LoRA changed the function too: its adapter is active on every input, and 200 steps on logs
# only taught it that every text is a log. LoRA has an escape hatch that full fine-tuning
# lacks: switch the adapter off and the pre-trained model is back, exactly.

# %%
for layer in lora_layers(lora_model):
    layer.enabled = False
docs_adapter_off = evaluate(lora_model, "docs")
for layer in lora_layers(lora_model):
    layer.enabled = True

print(f"docs val loss: pre-trained {before['docs']:.3f}")
print(
    f"               full fine-tuning {after_full['docs']:.3f}  (+{after_full['docs'] - before['docs']:.3f})"
)
print(
    f"               LoRA, adapter on {after_lora['docs']:.3f}  (+{after_lora['docs'] - before['docs']:.3f})"
)
print(f"               LoRA, adapter off {docs_adapter_off:.3f}")
assert after_full["docs"] > before["docs"] + 0.05, "full fine-tuning forgets part of domain A"
assert abs(docs_adapter_off - before["docs"]) < 1e-6, "removing the adapter restores the base model"

labels = ["pre-trained", "full FT", "LoRA (on)", "LoRA (off)"]
docs_losses = [before["docs"], after_full["docs"], after_lora["docs"], docs_adapter_off]
logs_losses = [before["logs"], after_full["logs"], after_lora["logs"], evaluate(pretrained, "logs")]
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, losses, title in [
    (axes[0], docs_losses, "original domain: docs"),
    (axes[1], logs_losses, "new domain: logs"),
]:
    ax.bar(labels, losses, color=["gray", "tab:blue", "tab:orange", "tab:green"])
    ax.set_title(title)
    ax.set_xlabel("model")
axes[0].set_ylabel("validation loss, lower is better")
fig.suptitle("Learning the new domain vs keeping the old one")
plt.show()

# %% [markdown]
# Read the two panels together: the left shows what each model kept, the right what it learned.
# With the adapter on, LoRA forgets somewhat less than full fine-tuning here, but far from
# nothing: a rank-4 update is enough to move a small model's behaviour a long way (at scale,
# "LoRA learns less and forgets less", Biderman et al. 2024). The reliable protection is
# the off switch, or mixing some original-domain data into fine-tuning.
#
# ## What the models write
#
# Prompted with the start of a log line, the pre-trained model continues in the style of
# documentation, while the fine-tuned models continue the log line. Compare how long each
# stays in format with its validation loss above. (Sampling with a fixed seed, temperature
# 0.7.)


# %%
@torch.no_grad()
def generate(model: nn.Module, prompt: str, length: int, seed: int, temperature: float = 0.7) -> str:
    """Sample length characters after prompt, one at a time, from the last CONTEXT characters."""
    generator = torch.Generator().manual_seed(seed)
    ids = encode(prompt)
    model.eval()
    for _ in range(length):
        logits = model(ids[-CONTEXT:].unsqueeze(0))[0, -1] / temperature
        next_id = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
        ids = torch.cat([ids, next_id])
    return decode(ids)


prompt = "2024-03-14 09:"
for label, model in [("pre-trained", pretrained), ("full FT", full_model), ("LoRA", lora_model)]:
    print(f"{label:12}| {generate(model, prompt, 60, seed=3)!r}")

# %% [markdown]
# **Prompting instead of training.** A large model can often do a new task from a
# description or a few examples in its prompt (*in-context learning*), with no weight update
# at all. It is the cheapest adaptation and the first thing to try; it costs context length
# on every request and cannot teach knowledge or a format the model has no inkling of.
# A model this small has no in-context ability worth the name: the windows above already
# contained earlier log lines, and the pre-trained model still wrote prose. Fine-tuning
# (full or LoRA) is the step up when prompting is not enough.
#
# ## What to try next
#
# 1. Vary the rank ($r = 1, 2, 8, 16$, keeping $\alpha/r$ fixed) and plot the final logs loss
#    against the number of trainable parameters. Where does it stop improving?
# 2. Add LoRA to `k_proj`, `out_proj` and the MLP layers. Does it close the gap to full
#    fine-tuning? What does it do to forgetting?
# 3. Reduce forgetting in full fine-tuning: mix 20% documentation windows into every
#    fine-tuning batch ("replay") and compare the docs loss.
# 4. Train two adapters (logs, and a third domain of your own) on the same frozen base, and
#    switch between them at inference by swapping `lora_a` and `lora_b`.
