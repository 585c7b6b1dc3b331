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
# # Fine-tuning: what pre-training buys, full updates, LoRA and instruction tuning
#
# Almost nobody trains a language model for a task from nothing: you take a model
# pre-trained on a large, general corpus and **adapt** it. This notebook adapts the
# path's own GPT, pretrained in the language-modelling notebook on the Python standard
# library, to a small downstream task, and measures every claim it makes.
#
# **What you will build and check**
#
# - an **instruction-tuning** data set (a question about a line of Python, the answer)
#   whose loss skips the prompt tokens (targets `-100`), with the mask shown token by
#   token;
# - **full fine-tuning**, **LoRA** and **training from scratch** on the same task, with
#   the same number of steps and examples, each with its own learning-rate search, over
#   three seeds: the value of pre-training, measured;
# - `LoRALinear` from scratch: unchanged outputs at initialisation, its parameter count
#   (the share per adapted matrix and for the whole model), and merged weights that give
#   the adapter's outputs, checked against Hugging Face's `peft` too;
# - what masking the prompt changes in what the model learns;
# - a **classification head** on the pretrained features;
# - what fine-tuning does to the pretraining skill (forgetting), and LoRA's off switch.
#
# Everything runs on a CPU in a minute or two: a short fine-tune of a model under a
# million parameters, on a few thousand examples.

# %%
# The path's own GPT lives in the pathgpt package beside the notebooks; run alone (as in Colab), fetch it.
try:
    import pathgpt
except ModuleNotFoundError:
    import importlib, io, pathlib, urllib.request, zipfile

    url = "https://github.com/llm-path/llm-path/archive/refs/heads/main.zip"
    with zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(url, timeout=60).read())) as archive:
        for member in archive.namelist():
            file = member.partition("/notebooks/pathgpt/")[2]
            if file.endswith(".py") and "/" not in file:
                pathlib.Path("pathgpt").mkdir(exist_ok=True)
                pathlib.Path("pathgpt", file).write_bytes(archive.read(member))
    importlib.invalidate_caches()
    import pathgpt

# %%
import copy
import math
import os
import random
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from pathgpt import GPT, RECIPE, evaluate, learning_rate, load_pretrained, load_tokens, make_optimizer
from pathgpt import TrainConfig, stdlib_corpus
from pathgpt.tokenizer import SPLIT_PATTERN
from torch import nn

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
torch.manual_seed(0)

base, tokenizer = load_pretrained()
base.requires_grad_(False)
USER, ASSISTANT = tokenizer.special_tokens["<|user|>"], tokenizer.special_tokens["<|assistant|>"]
PAD, EOT = tokenizer.special_tokens["<|pad|>"], tokenizer.eot_id
print(f"pretrained GPT: {base.num_parameters():,d} parameters, vocabulary {tokenizer.vocab_size}")

# %% [markdown]
# ## 1. The downstream task: fill in the blank
#
# The task is small and exact, and it needs what pre-training taught: a line of Python
# with one word replaced by `___`, and the answer is the missing word (`if`, `self`,
# `return`, `None`, `join`, `name`, ...). The words are those the tokenizer keeps as
# a single token, so every answer is one token and grading is exact.
#
# The split follows the pretraining split **by document**: the fine-tuning examples
# (and a development set for choosing learning rates) come from the training
# documents, the test examples from the validation documents, which the pretrained
# model has never read. Test lines that also occur blanked the same way in a training
# document are dropped: they would measure memory, not skill.


# %%
BLANK = "___"
INSTRUCTION = "Fill in: "


def blanked_lines(documents, count: int, seed: int) -> list[tuple[str, str]]:
    """(line with one word replaced by the blank, the word) for up to count distinct code lines."""
    rng = random.Random(seed)
    lines = sorted({line.strip() for d in documents for line in d.text.splitlines() if 10 <= len(line.strip()) <= 60})
    rng.shuffle(lines)
    examples = []
    for line in lines:
        if line.startswith("#"):
            continue
        pieces = re.findall(SPLIT_PATTERN, line)
        words = [i for i, p in enumerate(pieces) if p.strip().isidentifier() and len(tokenizer.encode(" " + p.strip())) == 1]
        if not words:
            continue
        i = rng.choice(words)
        space = pieces[i][: len(pieces[i]) - len(pieces[i].lstrip())]
        examples.append(("".join(pieces[:i]) + space + BLANK + "".join(pieces[i + 1 :]), pieces[i].strip()))
        if len(examples) == count:
            break
    return examples


corpus = stdlib_corpus(RECIPE.corpus_bytes, validation_fraction=RECIPE.validation_fraction)
train_pairs = blanked_lines(corpus.train, 4150, seed=0)
dev_pairs, train_pairs = train_pairs[:150], train_pairs[150:]
seen = {line for line, _ in train_pairs + dev_pairs}
test_pairs = [pair for pair in blanked_lines(corpus.validation, 420, seed=1) if pair[0] not in seen][:400]
answers = Counter(word for _, word in train_pairs)
majority = answers.most_common(1)[0][0]
majority_accuracy = statistics.fmean(word == majority for _, word in test_pairs)
print(f"{len(train_pairs)} fine-tuning, {len(dev_pairs)} development and {len(test_pairs)} test examples")
print(f"most frequent answers: {answers.most_common(8)}; always answering {majority!r} scores {majority_accuracy:.1%} on the test set")
for line, word in test_pairs[:5]:
    print(f"  {line!r:60} -> {word!r}")
assert not {line for line, _ in test_pairs} & seen, "no blanked test line occurs in the fine-tuning data"

# %% [markdown]
# ### The chat format, and the mask
#
# Each example becomes one sequence: `<|user|>`, the instruction and the line,
# `<|assistant|>`, the answer, and `<|endoftext|>` to stop. The model is trained to
# predict each token from the ones before it, but only the **answer's** tokens count:
# the targets of the prompt positions are set to `-100`, which PyTorch's
# `cross_entropy` (and so the model's loss) ignores. Padding to the longest sequence
# of a batch gets `-100` too.
#
# Why `<|endoftext|>` and not a new `<|end|>` marker? The pretrained model learnt to
# produce `<|endoftext|>` at the end of every document, while the chat markers never
# occurred in pretraining: their embedding rows are still random. Reading a random
# marker is fine (the model can learn to react to it), but *producing* one means
# training its row of the embedding table, which LoRA freezes. Real chat fine-tunes
# train those rows (in `peft`, `trainable_token_indices` or `modules_to_save`).


# %%
@dataclass(frozen=True)
class Example:
    ids: list[int]
    """Prompt then answer token ids."""
    prompt_length: int


def make_example(line: str, answer: str) -> Example:
    prompt = [USER, *tokenizer.encode(INSTRUCTION + line, allow_special=False), ASSISTANT]
    reply = tokenizer.encode(" " + answer, allow_special=False) + [EOT]
    return Example(prompt + reply, len(prompt))


def collate(examples: list[Example], mask_prompt: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded inputs and targets (B, T): targets are the next tokens, -100 where they are not learned."""
    length = max(len(e.ids) for e in examples) - 1
    inputs = torch.full((len(examples), length), PAD)
    targets = torch.full((len(examples), length), -100)
    for row, example in enumerate(examples):
        ids = torch.tensor(example.ids)
        inputs[row, : len(ids) - 1] = ids[:-1]
        targets[row, : len(ids) - 1] = ids[1:]
        if mask_prompt:
            targets[row, : example.prompt_length - 1] = -100  # position t predicts token t + 1
    return inputs, targets


train_examples = [make_example(*pair) for pair in train_pairs]
dev_examples = [make_example(*pair) for pair in dev_pairs]
test_examples = [make_example(*pair) for pair in test_pairs]

inputs, targets = collate(test_examples[:2])
print(f"{'position':>8}  {'input token':<22} {'target':<12}")
for t in range(inputs.shape[1]):
    shown = "-100" if targets[0, t] == -100 else repr(tokenizer.decode([int(targets[0, t])]))
    print(f"{t:8d}  {tokenizer.decode([int(inputs[0, t])])!r:<22} {shown:<12}")
learned = targets[0] != -100
assert learned.sum() == len(test_examples[0].ids) - test_examples[0].prompt_length
assert tokenizer.decode(targets[0, learned].tolist()) == " " + test_pairs[0][1] + "<|endoftext|>"
assert (targets[1, len(test_examples[1].ids) - 1 :] == -100).all(), "padding is never learned"

# %% [markdown]
# ## 2. Training and grading
#
# One loop serves every method: AdamW (weight decay on the matrices only, as in
# pretraining) on the parameters that require gradients, a short linear warmup and a
# cosine decay, batches of 16 examples. Grading is **exact match** of the greedy
# answer. Greedy decoding produces the reference answer exactly when, fed the
# reference tokens, the model's most likely next token is right at every answer
# position (`<|endoftext|>` included): each greedy step then sees the same prefix as
# the teacher-forced pass. So one forward pass over padded batches grades all the
# examples, and we check that equivalence against `generate` on a few of them.

# %%
STEPS, BATCH = 40, 16


def finetune(model: nn.Module, examples: list[Example], lr: float, seed: int, *, steps: int = STEPS, mask_prompt: bool = True) -> list[float]:
    """Train the parameters that require gradients; returns each step's loss."""
    schedule = TrainConfig(steps=steps, lr=lr, min_lr=lr / 10, warmup_steps=steps // 10)
    optimizer = make_optimizer(model, lr, weight_decay=0.1)
    optimizer.param_groups = [g for g in optimizer.param_groups if any(p.requires_grad for p in g["params"])]
    for group in optimizer.param_groups:
        group["params"] = [p for p in group["params"] if p.requires_grad]
    rng = random.Random(seed)
    losses = []
    model.train()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, schedule)
        _, loss = model(*collate(rng.sample(examples, BATCH), mask_prompt))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], 1.0)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def grade(model: nn.Module, examples: list[Example], batch_size: int = 100) -> tuple[torch.Tensor, float]:
    """Per-example exact match of the greedy answer (0/1) and the mean loss on answer tokens (nats)."""
    model.eval()
    correct, total_loss, total_tokens = [], 0.0, 0
    for start in range(0, len(examples), batch_size):
        inputs, targets = collate(examples[start : start + batch_size])
        logits = model(inputs)
        learned = targets != -100
        hits = (logits.argmax(-1) == targets) | ~learned
        correct.append(hits.all(dim=1).float())
        total_loss += F.cross_entropy(logits[learned], targets[learned], reduction="sum").item()
        total_tokens += int(learned.sum())
    return torch.cat(correct), total_loss / total_tokens


def greedy_answer(model: GPT, example: Example) -> str:
    prompt = torch.tensor([example.ids[: example.prompt_length]])
    out = model.generate(prompt, 40, temperature=0, stop_token=EOT)[0, example.prompt_length :].tolist()
    return tokenizer.decode(out[: out.index(EOT)] if EOT in out else out)


correct, loss = grade(base, test_examples)
print(f"pretrained model, no fine-tuning: exact match {correct.mean():.1%}, answer loss {loss:.2f} nats per token")

# %% [markdown]
# Without fine-tuning the model has never seen the chat markers and answers nothing
# useful: its answer loss is far above the $\ln V \approx 6.9$ nats of a uniform guess,
# because it confidently continues the prompt as code instead of answering.

# %% [markdown]
# ## 3. LoRA from scratch
#
# For a frozen weight $W \in \mathbb{R}^{d_\text{out}\times d_\text{in}}$, LoRA (Hu et
# al., 2021) learns $A \in \mathbb{R}^{r\times d_\text{in}}$ and $B \in \mathbb{R}^{d_\text{out}\times r}$ with a small rank $r$ and computes
#
# $$h = W x + \frac{\alpha}{r}\, B A x .$$
#
# - $A$ starts random and $B$ at **zero**, so $BA = 0$: at step 0 the adapted model
#   *is* the pretrained model.
# - The factor $\alpha/r$ with $\alpha$ held fixed means that changing the rank needs
#   no new learning rate: the paper sets $\alpha$ once (to the first $r$ tried) and
#   leaves it when varying $r$. (rsLoRA, Kalajdzievski 2023, argues for $\alpha/\sqrt{r}$ at large ranks.)
# - The update has rank at most $r$: LoRA's bet is that adaptation needs few
#   directions.
#
# An adapted matrix trains $r(d_\text{in}+d_\text{out})$ numbers instead of $d_\text{in}d_\text{out}$: for a square $d \times d$ matrix that is a share of $2r/d$. The
# share of the *whole model* is smaller again, since embeddings and norms are not
# adapted; both are computed below. We adapt every linear layer of every block
# (attention's fused `qkv` and `proj`, the SwiGLU's `gate`, `up` and `down`), which
# QLoRA (Dettmers et al., 2023) found closes most of the gap to full fine-tuning.


# %%
class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank update (alpha / rank) * B @ A."""

    def __init__(self, base_layer: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base_layer.requires_grad_(False)
        self.lora_a = nn.Parameter(torch.empty(rank, base_layer.in_features))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))  # as peft and nn.Linear initialise
        self.lora_b = nn.Parameter(torch.zeros(base_layer.out_features, rank))
        self.scaling = alpha / rank
        self.enabled = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        return out + self.scaling * (x @ self.lora_a.T) @ self.lora_b.T if self.enabled else out

    def merged(self) -> nn.Linear:
        """A plain nn.Linear with weight W + (alpha / rank) B A: the adapter folded in, no extra cost."""
        layer = nn.Linear(self.base.in_features, self.base.out_features, bias=False, dtype=self.base.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(self.base.weight + self.scaling * self.lora_b @ self.lora_a)
        return layer


LORA_TARGETS = ("attn.qkv", "attn.proj", "mlp.gate", "mlp.up", "mlp.down")


def add_lora(model: GPT, rank: int, alpha: float, seed: int) -> GPT:
    """A frozen copy of model with every target linear layer of every block wrapped in LoRALinear."""
    torch.manual_seed(seed)
    adapted = copy.deepcopy(model).requires_grad_(False)
    for block in adapted.blocks:
        for path in LORA_TARGETS:
            parent, name = path.split(".")
            module = getattr(block, parent)
            setattr(module, name, LoRALinear(getattr(module, name), rank, alpha))
    return adapted


def lora_layers(model: nn.Module) -> list[LoRALinear]:
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


RANK, ALPHA = 8, 16.0
lora = add_lora(base, RANK, ALPHA, seed=0)
probe_inputs, _ = collate(test_examples[:8])
with torch.no_grad():
    assert torch.equal(lora(probe_inputs), base(probe_inputs)), "B = 0: the adapted model is the base model"

trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
counted = sum(RANK * (m.base.in_features + m.base.out_features) for m in lora_layers(lora))
assert trainable == counted, "only A and B train"
d = base.config.d_model
square = lora.blocks[0].attn.proj
share_square = (square.lora_a.numel() + square.lora_b.numel()) / square.base.weight.numel()
assert share_square == 2 * RANK / d
print(f"{len(lora_layers(lora))} adapted matrices, {trainable:,d} trainable numbers")
print(f"  square {d}x{d} projection: {share_square:.1%} of its numbers (2r/d = {2 * RANK}/{d})")
for m in lora_layers(lora)[:5]:
    print(f"  {m.base.in_features:4d} -> {m.base.out_features:4d}: r(d_in + d_out) / (d_in d_out) = {RANK * (m.base.in_features + m.base.out_features) / m.base.weight.numel():.1%}")
print(f"  whole model: {trainable / base.num_parameters():.1%} of {base.num_parameters():,d} parameters")
print(f"  a 4096x4096 projection of a 7B model at r = {RANK}: 2r/d = {2 * RANK / 4096:.2%}")

# %% [markdown]
# Two different shares, not to be confused: a square $128 \times 128$ projection
# at $r = 8$ trains $2r/d = 16/128 = 12.5\%$ of its own numbers (the wider SwiGLU
# matrices less), while the whole model trains about 7.7%, because the embedding table
# and the norms are not adapted. The per-matrix share falls as $2r/d$ with width, to
# 0.4% at $d = 4096$. The memory saving is larger than the parameter share suggests: AdamW
# keeps two moments for every *trainable* number, and frozen weights need no
# gradient.
#
# ## 4. Does pre-training help? Full fine-tuning, LoRA and training from scratch
#
# The comparison is only fair if each method gets the same data, the same number of
# steps and batches, and its own best learning rate. From-scratch training usually
# wants a larger rate than fine-tuning, and LoRA's few zero-initialised parameters a
# larger one still, so each method searches its own grid, on the development set
# (seed 0); the chosen rate is then run with two more seeds and all three are graded
# on the test set.
# The seed changes the batches, LoRA's random $A$, and the from-scratch model's
# initialisation.


# %%
def fresh(method: str, seed: int) -> nn.Module:
    if method == "from scratch":
        torch.manual_seed(seed)
        return GPT(base.config)  # the same architecture, randomly initialised
    if method == "LoRA":
        return add_lora(base, RANK, ALPHA, seed)
    return copy.deepcopy(base).requires_grad_(True)


GRIDS = {
    "full fine-tuning": [1e-3, 3e-3],
    "LoRA": [1e-2, 3e-2],
    "from scratch": [3e-3, 1e-2, 3e-2],
}
SEEDS = (0, 1, 2)
started = time.process_time()
search, trained = {}, {}
for method, grid in GRIDS.items():
    for lr in grid:
        trained[method, lr] = fresh(method, seed=0)
        finetune(trained[method, lr], train_examples, lr, seed=0)
        search[method, lr] = grade(trained[method, lr], dev_examples)[1]
best_lr = {method: min(grid, key=lambda lr: search[method, lr]) for method, grid in GRIDS.items()}
for method, grid in GRIDS.items():
    cells = "  ".join(f"{lr:g}: {search[method, lr]:.2f}" + ("*" if lr == best_lr[method] else " ") for lr in grid)
    print(f"{method:17s} development answer loss by learning rate  {cells}")
best_scratch_dev = min(search["from scratch", lr] for lr in GRIDS["from scratch"])
assert best_scratch_dev > max(search[m, best_lr[m]] for m in ("full fine-tuning", "LoRA")), "no rate of the grid lets training from scratch catch up"

results: dict[str, list[tuple[float, float]]] = {method: [] for method in GRIDS}
runs: dict[str, list[nn.Module]] = {method: [] for method in GRIDS}
for method in GRIDS:
    for seed in SEEDS:
        if seed == 0:
            model = trained[method, best_lr[method]]  # chosen on the development set, graded on the test set
        else:
            model = fresh(method, seed)
            finetune(model, train_examples, best_lr[method], seed)
        correct, loss = grade(model, test_examples)
        results[method].append((correct.mean().item(), loss))
        runs[method].append(model)
del trained
print(f"{sum(map(len, GRIDS.values())) + len(GRIDS) * (len(SEEDS) - 1)} fine-tunes in {time.process_time() - started:.0f} s of CPU")

# %%
print(f"{'method':17s} {'lr':>6s}  exact match on the test set (3 seeds)    answer loss (nats per token)")
for method, rows in results.items():
    accuracies, losses = [a for a, _ in rows], [l for _, l in rows]
    print(f"{method:17s} {best_lr[method]:6g}  {statistics.fmean(accuracies):6.1%} ± {statistics.stdev(accuracies):4.1%}"
          f" ({', '.join(f'{a:.1%}' for a in accuracies)})   {statistics.fmean(losses):.3f} ± {statistics.stdev(losses):.3f}"
          f" ({', '.join(f'{l:.3f}' for l in losses)})")
accuracy = {method: [a for a, _ in rows] for method, rows in results.items()}
answer_loss = {method: [l for _, l in rows] for method, rows in results.items()}
assert max(answer_loss["full fine-tuning"]) < min(answer_loss["LoRA"]), "full fine-tuning has the lowest answer loss on every seed"
assert max(answer_loss["LoRA"]) < min(answer_loss["from scratch"]), "LoRA beats training from scratch on every seed"
assert min(accuracy["full fine-tuning"]) > max(max(accuracy["from scratch"]), majority_accuracy), "and full fine-tuning answers more lines right than any from-scratch run"

tuned = runs["full fine-tuning"][0]
hits = grade(tuned, test_examples)[0]
for example, (line, word), hit in list(zip(test_examples, test_pairs, hits, strict=True))[:40]:
    assert (greedy_answer(tuned, example) == " " + word) == bool(hit), line
print("greedy generation agrees with the teacher-forced grade on 40 test examples, e.g.:")
for example, (line, word) in list(zip(test_examples, test_pairs, strict=True))[:6]:
    print(f"  {line!r:56} -> {greedy_answer(tuned, example)!r:12} (reference {word!r})")

fig, ax = plt.subplots(figsize=(6.5, 3.8))
for i, (method, rows) in enumerate(results.items()):
    accuracies = [a for a, _ in rows]
    ax.bar(i, statistics.fmean(accuracies), color=["tab:blue", "tab:orange", "tab:gray"][i], alpha=0.6)
    ax.plot([i] * len(accuracies), accuracies, "ko", ms=4)
ax.set_xticks(range(len(results)), [f"{m}\n(lr {best_lr[m]:g})" for m in results])
ax.set(ylabel="exact match on unseen test lines", ylim=(0, 1), title=f"Same task, {STEPS} steps of {BATCH} examples, 3 seeds (dots)")
plt.tight_layout()
plt.show()

# %% [markdown]
# What the table shows, over three seeds at the same budget (40 steps of 16 examples,
# each method at its own best rate):
#
# - **The answer loss ranks the methods the same way on every seed**: full fine-tuning
#   lowest (about 2.0 nats per answer token), LoRA next (about 2.2), training from
#   scratch last (about 2.3), with seed-to-seed spreads of a few hundredths, smaller
#   than the gaps. The pretrained weights are worth something even when only 8% of the
#   numbers may move.
# - **Exact match is a coarse instrument at this budget.** Only full fine-tuning gets
#   past the majority answer (always `self`, 18.8% of the test lines) on every seed, by
#   a few points; LoRA and the from-scratch model both learnt the format and the most
#   frequent answer, and answer `self` to everything. Their difference is in how much
#   probability they put on the right word, which the loss sees and exact match does not.
# - From scratch, no learning rate of its grid reached the pretrained models'
#   development loss, so a larger rate is not what it lacks: it lacks what pretraining
#   taught (what a Python line looks like, which names go with which).
#
# With many more steps all three improve and LoRA closes much of the gap to full
# fine-tuning (the exercise below changes the budget); what does not change is the
# order at equal compute.
#
# ## 5. Merging the adapter, and the same adapter in `peft`
#
# At inference an extra low-rank branch in every adapted layer costs time. Since
# $Wx + \frac{\alpha}{r}BAx = (W + \frac{\alpha}{r}BA)x$, the update folds into the
# weight once, leaving an ordinary model with the original architecture. (Servers
# also do the opposite: keep one base model in memory and switch small adapters per
# request.) In `float64` the two paths agree to rounding; in `float32` the merged
# weight is rounded once and the branch separately, so they differ in the last digits.


# %%
def merge_lora(model: GPT) -> GPT:
    """A copy with every LoRALinear replaced by its merged nn.Linear."""
    merged = copy.deepcopy(model)
    for block in merged.blocks:
        for path in LORA_TARGETS:
            parent, name = path.split(".")
            module = getattr(block, parent)
            setattr(module, name, getattr(module, name).merged())
    return merged


tuned_lora = runs["LoRA"][0]
merged = merge_lora(tuned_lora)
assert not lora_layers(merged) and merged.num_parameters() == base.num_parameters()
with torch.no_grad():
    gap32 = (merged(probe_inputs) - tuned_lora(probe_inputs)).abs().max().item()
    lora64 = copy.deepcopy(tuned_lora).double()
    gap64 = (merge_lora(lora64)(probe_inputs) - lora64(probe_inputs)).abs().max().item()
assert gap64 < 1e-10 and gap32 < 1e-3
assert torch.equal(grade(merged, test_examples)[0], grade(tuned_lora, test_examples)[0]), "the same answers"
print(f"merged vs adapter logits: max difference {gap32:.1e} in float32, {gap64:.1e} in float64; same test answers")

# %% [markdown]
# Hugging Face's `peft` is the library people use for this (it wraps any PyTorch
# module, not only `transformers` models). We wrap the *same* pretrained model with the
# same rank, $\alpha$ and target layers, copy our trained $A$ and $B$ into its
# adapters, and compare: the outputs, and the weights of `merge_and_unload()`
# against our merge. If `peft` is not installed the cell says so and moves on.

# %%
import warnings

# peft imports transformers, whose tqdm.auto warns that Jupyter widgets (unused here) are missing
warnings.filterwarnings("ignore", message="IProgress not found")
try:
    from peft import LoraConfig, get_peft_model
except ImportError:
    print("peft is not installed (pip install peft); skipping the comparison")
else:
    config = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=["qkv", "proj", "gate", "up", "down"])
    peft_model = get_peft_model(copy.deepcopy(base), config)
    peft_trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    ours = {name.replace(".base", ""): module for name, module in tuned_lora.named_modules() if isinstance(module, LoRALinear)}
    copied = 0
    for name, module in peft_model.base_model.model.named_modules():
        if name in ours:
            module.lora_A["default"].weight.data.copy_(ours[name].lora_a)
            module.lora_B["default"].weight.data.copy_(ours[name].lora_b)
            copied += 1
    assert copied == len(ours) == len(LORA_TARGETS) * base.config.n_layers
    peft_model.eval()
    with torch.no_grad():
        peft_gap = (peft_model(probe_inputs) - tuned_lora(probe_inputs)).abs().max().item()
    peft_merged = peft_model.merge_and_unload()
    weight_gap = max((a - b).abs().max().item() for a, b in zip(peft_merged.state_dict().values(), merged.state_dict().values(), strict=True))
    print(f"peft: {peft_trainable:,d} trainable numbers (ours {trainable:,d});"
          f" outputs within {peft_gap:.1e} of ours; merged weights within {weight_gap:.1e}")
    assert peft_trainable == trainable and peft_gap < 1e-4 and weight_gap < 1e-6

# %% [markdown]
# ## 6. What masking the prompt changes
#
# With the prompt masked, the gradient comes only from the answers. Train the same
# full fine-tune on the same batches with every token in the loss, and the model also
# learns to *write the prompt*: the instruction, which is the same in every example,
# and the user's lines. We measure how likely each model makes the instruction after
# `<|user|>`, and how well it answers.

# %%
unmasked = copy.deepcopy(base).requires_grad_(True)
finetune(unmasked, train_examples, best_lr["full fine-tuning"], seed=0, mask_prompt=False)
instruction = tokenizer.encode(INSTRUCTION, allow_special=False)


@torch.no_grad()
def instruction_probability(model: nn.Module) -> float:
    """P(the instruction | <|user|>) per token (geometric mean): the model writing the user's side of the chat."""
    ids = torch.tensor([[USER, *instruction]])
    log_probs = model(ids[:, :-1]).log_softmax(-1)[0, torch.arange(len(instruction)), ids[0, 1:]]
    return log_probs.mean().exp().item()


masked = runs["full fine-tuning"][0]
print(f"{'model (seed 0)':28s} P(instruction | <|user|>) per token   exact match")
rows = {"pretrained": base, "fine-tuned, prompt masked": masked, "fine-tuned, prompt in loss": unmasked}
shares = {}
for name, model in rows.items():
    shares[name] = instruction_probability(model)
    print(f"{name:28s} {shares[name]:34.2e}  {grade(model, test_examples)[0].mean():10.1%}")
assert shares["fine-tuned, prompt in loss"] > 100 * shares["pretrained"], "the unmasked model learnt to write the instruction"
assert shares["fine-tuned, prompt masked"] < shares["fine-tuned, prompt in loss"] / 100, "the masked one did not"

# %% [markdown]
# The unmasked model has learnt the user's turn by heart: asked to continue
# `<|user|>`, it writes the instruction with high probability, and it spent part of its
# updates on the user's lines too. The masked model never received a gradient for any
# prompt token: what it learnt is to answer. At this scale the answers come out
# about as well either way; in real instruction tuning the prompts are long and
# varied, and training on them teaches the model to imitate users instead of
# answering them, so the standard recipes mask them (some report small gains from a
# little prompt loss; it is a choice to measure, not a rule).
#
# ## 7. A classification head
#
# When the answers form a fixed set of labels, a language model can also become a
# classifier: a small new head over the classes replaces the vocabulary head, fed
# with the hidden state at the last prompt position (`model.features`, the normalised
# states the vocabulary head reads). It answers in one forward pass and cannot say
# anything outside the labels. We keep the examples whose missing word is one of the
# eight most frequent answers and classify it, with the pretrained body fine-tuned
# under the new head, against a randomly initialised body trained the same way.


# %%
class Classifier(nn.Module):
    """A GPT body and a linear head on the features of each sequence's last position."""

    def __init__(self, body: GPT, n_classes: int) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(body.config.d_model, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.body.features(ids)[torch.arange(len(ids)), lengths - 1])


LABELS = [word for word, _ in answers.most_common(8)]


def prompts_and_labels(examples: list[Example], pairs: list[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    kept = [(e, LABELS.index(word)) for e, (_, word) in zip(examples, pairs, strict=True) if word in LABELS]
    lengths = torch.tensor([e.prompt_length for e, _ in kept])
    ids = torch.full((len(kept), int(lengths.max())), PAD)
    for row, (e, _) in enumerate(kept):
        ids[row, : e.prompt_length] = torch.tensor(e.ids[: e.prompt_length])
    return ids, lengths, torch.tensor([label for _, label in kept])


def train_classifier(classifier: Classifier, data, steps: int, lr: float, seed: int) -> None:
    ids, lengths, labels = data
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(seed)
    classifier.train()
    for _ in range(steps):
        batch = torch.randint(len(ids), (BATCH,), generator=generator)
        loss = F.cross_entropy(classifier(ids[batch], lengths[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    classifier.eval()


train_data = prompts_and_labels(train_examples, train_pairs)
test_data = prompts_and_labels(test_examples, test_pairs)
class_majority = (test_data[2] == torch.bincount(train_data[2]).argmax()).float().mean().item()
print(f"labels {LABELS}: {len(train_data[2])} training and {len(test_data[2])} test prompts; the majority label scores {class_majority:.1%}")
head_results = {}
for name, lr in [("pretrained body", 1e-3), ("random body", 3e-3)]:
    scores = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        body = copy.deepcopy(base).requires_grad_(True) if name == "pretrained body" else GPT(base.config)
        classifier = Classifier(body, len(LABELS))
        train_classifier(classifier, train_data, steps=20, lr=lr, seed=seed)
        with torch.no_grad():
            scores.append((classifier(*test_data[:2]).argmax(-1) == test_data[2]).float().mean().item())
    head_results[name] = scores
    print(f"{name:16s} + head, 20 steps: test accuracy {statistics.fmean(scores):.1%} ({', '.join(f'{s:.1%}' for s in scores)})")
assert min(head_results["pretrained body"]) > max(head_results["random body"]), "the pretrained body wins on every seed"
assert min(head_results["pretrained body"]) > class_majority + 0.1

# %% [markdown]
# With the same 20 steps, the pretrained body under a new head beats the majority
# label by almost 20 points on every seed (about 59% against 41%), while the randomly
# initialised body never gets past predicting the majority label: 20 steps are enough
# to train a head on features that already separate the classes, and far too few to
# learn such features from nothing. The head also answers in one forward pass and
# cannot produce anything outside its eight labels, which is why classification
# heads (and reward models, in the alignment notebook) are built this way.
#
# ## 8. What fine-tuning does to the pretraining skill
#
# Fine-tuning moves weights towards the new task; how much of the old skill survives?
# We score every model on the pretraining validation text (next-token loss on the
# standard library it was pretrained for). LoRA has a switch full fine-tuning lacks:
# turn the adapters off and the pretrained model is back, exactly.

# %%
validation_tokens = load_tokens("validation")
WINDOWS = 12


@torch.no_grad()
def pretraining_loss(model: nn.Module) -> float:
    return evaluate(model, validation_tokens, max_windows=WINDOWS)


before = pretraining_loss(base)
after_full = statistics.fmean(pretraining_loss(m) for m in runs["full fine-tuning"])
after_lora = statistics.fmean(pretraining_loss(m) for m in runs["LoRA"])
for layer in lora_layers(tuned_lora):
    layer.enabled = False
adapter_off = pretraining_loss(tuned_lora)
for layer in lora_layers(tuned_lora):
    layer.enabled = True
print(f"pretraining validation loss: base {before:.3f}, after full fine-tuning {after_full:.3f} (mean of 3 seeds),"
      f" after LoRA {after_lora:.3f}, LoRA switched off {adapter_off:.3f} (uniform guess: {math.log(tokenizer.vocab_size):.2f})")
window = validation_tokens[: base.config.context][None]
with torch.no_grad():
    favourite = tuned(window).argmax(-1)[0]
print(f"the fine-tuned model's most likely next token on a page of library code is <|endoftext|> at {(favourite == EOT).float().mean():.0%} of the positions")
assert adapter_off == before, "switching the adapters off restores the base model exactly"
assert after_full > before + 1, "full fine-tuning on the task alone costs much of the pretraining skill"

# %% [markdown]
# Fine-tuning on one narrow task costs the general skill: after 40 steps the
# pretraining validation loss is several nats higher than the base model's (above even a
# uniform guess), and the fine-tuned model predicts `<|endoftext|>` at most positions of a
# page of library code, since every training answer ended with it. LoRA's loss with the
# adapters **on** is no better: a low-rank update can still move the output
# distribution a long way. Its advantage is the switch: with the adapters off the base
# model is back bit for bit, so one frozen base can serve many tasks. Real fine-tunes
# limit forgetting by mixing general data into the fine-tuning set, training for
# fewer steps at smaller rates, and checking the general benchmarks before and after.
#
# **With more compute** a learner would fine-tune for longer and on more tasks at
# once, sweep LoRA's rank and targets, try QLoRA (a 4-bit frozen base), and give
# the from-scratch baseline many times the budget to see how much data pre-training
# is worth.
#
# ## What to try next
#
# 1. **The trainable share of one adapted matrix.** Write
#    `my_lora_share(d_in, d_out, rank)`: the number of numbers LoRA trains for one
#    `d_out x d_in` matrix, divided by the matrix's own size. Check it gives $2r/d$ for a square matrix.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_lora_share(d_in, d_out, rank):
#     return rank * (d_in + d_out) / (d_in * d_out)
# ```
#
# $A$ is `rank x d_in` and $B$ is `d_out x rank`; for $d_\text{in} = d_\text{out} = d$ the share is $2rd/d^2 = 2r/d$.
# </details>
#
# 2. **The prompt mask.** Write `my_mask(ids, prompt_length)`: the targets of one
#    sequence of token ids (a list), the next token at each position, with `-100` where
#    the next token belongs to the prompt. The result has one entry fewer than `ids`.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_mask(ids, prompt_length):
#     return [-100 if t + 1 < prompt_length else ids[t + 1] for t in range(len(ids) - 1)]
# ```
#
# Position `t` predicts token `t + 1`; the first answer token is predicted from the
# last prompt position, so it is learned.
# </details>
#
# 3. **Merging by hand.** Write `my_merge(weight, lora_a, lora_b, alpha, rank)`: the
#    merged weight $W + \frac{\alpha}{r} B A$.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_merge(weight, lora_a, lora_b, alpha, rank):
#     return weight + (alpha / rank) * lora_b @ lora_a
# ```
# </details>
#
# 4. Without a check: vary the rank ($r = 1, 2, 4, 16$) with $\alpha$ held at 16, as
#    the LoRA paper does, and plot exact match against trainable parameters; then
#    adapt only `attn.qkv` and see how much of the gap to full fine-tuning opens.
#
# Each check compares your function with the definition on test inputs; the asserts
# show that it accepts the solution and rejects a plausible mistake.


# %%
def report(ok: bool, message: str) -> bool:
    print(("correct: " if ok else "not yet: ") + message)
    return ok


def check_lora_share(candidate) -> bool:
    cases = [(128, 128, 8), (128, 256, 8), (4096, 4096, 16), (352, 128, 4)]
    try:
        got = [candidate(*case) for case in cases]
        ok = all(g is not None and abs(g - r * (a + b) / (a * b)) < 1e-12 for g, (a, b, r) in zip(got, cases, strict=True))
    except Exception as error:  # a learner's unfinished function may fail in any way
        return report(False, f"{type(error).__name__}: {error}")
    return report(ok, "r(d_in + d_out) / (d_in d_out)" if ok else f"got {got} for {cases}")


def my_lora_share(d_in, d_out, rank):
    ...  # your code here


assert check_lora_share(lambda d_in, d_out, r: r * (d_in + d_out) / (d_in * d_out))
assert not check_lora_share(lambda d_in, d_out, r: 2 * r / d_in)  # right for square matrices only
check_lora_share(my_lora_share)


# %%
def check_mask(candidate) -> bool:
    cases = [([5, 6, 7, 8, 9], 3), ([1, 2], 1), ([4, 4, 4, 4], 4)]
    expected = [[-100, -100, 8, 9], [2], [-100, -100, -100]]
    try:
        got = [list(candidate(ids, n)) for ids, n in cases]
    except Exception as error:
        return report(False, f"{type(error).__name__}: {error}")
    return report(got == expected, "prompt targets are -100, answer targets the next token" if got == expected else f"got {got}, expected {expected}")


def my_mask(ids, prompt_length):
    ...  # your code here


def mask_reference(ids, prompt_length):
    return collate([Example(list(ids), prompt_length)])[1][0].tolist()


assert check_mask(mask_reference)
assert not check_mask(lambda ids, n: [-100 if t < n else ids[t + 1] for t in range(len(ids) - 1)])  # masks the first answer token
check_mask(my_mask)


# %%
def check_merge(candidate) -> bool:
    generator = torch.Generator().manual_seed(0)
    weight, a, b = (torch.randn(shape, generator=generator, dtype=torch.float64) for shape in [(6, 5), (2, 5), (6, 2)])
    layer = LoRALinear(nn.Linear(5, 6, bias=False), rank=2, alpha=3.0).double()
    with torch.no_grad():
        layer.base.weight.copy_(weight), layer.lora_a.copy_(a), layer.lora_b.copy_(b)
    x = torch.randn(4, 5, generator=generator, dtype=torch.float64)
    try:
        merged_weight = candidate(weight, a, b, 3.0, 2)
        ok = merged_weight is not None and torch.allclose(x @ merged_weight.T, layer(x), rtol=0, atol=1e-12)
    except Exception as error:
        return report(False, f"{type(error).__name__}: {error}")
    return report(bool(ok), "the merged weight gives the adapter's outputs" if ok else "the merged weight's outputs differ from the adapter's")


def my_merge(weight, lora_a, lora_b, alpha, rank):
    ...  # your code here


assert check_merge(lambda w, a, b, alpha, r: w + (alpha / r) * b @ a)
assert not check_merge(lambda w, a, b, alpha, r: w + alpha * b @ a)  # forgot to divide by the rank
check_merge(my_merge)
