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
# # Reasoning models and test-time compute
#
# The reasoning models of 2024-2026 (OpenAI's o-series, DeepSeek-R1, Qwen's
# and Gemini's thinking modes) answer hard questions better than their base
# models for two reasons that this notebook builds from scratch. They spend
# more computation **at test time**: they write a long chain of intermediate
# steps before answering, and can sample several attempts and pick one. And
# they are trained to do so with **reinforcement learning from verifiable
# rewards** (RLVR): on problems whose answers a program can check, the model
# is rewarded for correct answers, with no human-written solutions, using
# algorithms such as GRPO.
#
# All of it on the path's own pretrained GPT and a task with checkable answers,
# the sum of six digits from 0 to 4:
#
# 1. **The task and its verifier**, and two ways to write a solution: the
#    answer alone, or a **chain of thought** that keeps a running sum.
# 2. **Distilling reasoning traces**: fine-tune the model on traces written by
#    a teacher (here, a program) or on answers alone, over three seeds.
# 3. **Test-time compute**: sampling many solutions and choosing by
#    **self-consistency** (majority vote) or **best-of-n with a verifier**;
#    accuracy against the number of samples, and **process** against
#    **outcome** verification.
# 4. **GRPO from scratch**: group-relative advantages checked by hand, the
#    clipped objective with a KL penalty checked against a plain loop and
#    against the REINFORCE gradient, and a short RL run over three seeds
#    that raises accuracy using nothing but the answer checker.
#
# It runs on a CPU in a minute or two.

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
import copy
import math
import os
import re
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from pathgpt import load_pretrained, make_optimizer

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
torch.manual_seed(0)

pretrained, tokenizer = load_pretrained()
EOT = tokenizer.eot_id

# %% [markdown]
# ## 1. A task with checkable answers
#
# A problem is six digits to add, written `03+04+02+01+00+04=`. Its answer
# can be checked by a program, which is what makes reinforcement learning
# possible without human judges: the **verifier** is a few lines of Python.
# Two ways to write a solution:
#
# * **direct**: `14`, the answer at once;
# * **chain of thought**: `03,07,09,10,10,14|14`, the running sum after each
#   digit, each one the previous plus the next digit, then the answer after `|`.
#
# The chain of thought turns one hard step (six digits at once) into six
# easy ones, and each step can itself be checked. Every number is written with
# two digits so that each step of the trace is as wide as each term of the
# problem: step $k$ then sits at the same distance from the digit it adds,
# whatever $k$, and one attention head that looks a fixed distance back (which
# rotary position embeddings make easy) can fetch it. On this small model the
# format decides whether the trace can be learnt in a few hundred steps: with
# the numbers written at their natural width (`3,7,9,10,10,14|14`), 200 steps
# of 16 examples gave traces no better than answers (23% against 24% over two
# seeds, in our trials while writing this notebook). We write these strings one
# byte per token, with the shared tokenizer's first 256 ids (its byte tokens)
# and none of its merges, so every digit is a token of its own. Llama's and
# DeepSeek's tokenizers split numbers into digits for the same reason: BPE
# merges such as `19` would give each number an arbitrary spelling.

# %%
DIGITS, HIGH = 6, 5  # six digits from 0 to 4: 15,625 problems, sums from 0 to 24


def make_problems(n: int, seed: int, exclude: set[tuple[int, ...]] = frozenset()) -> list[tuple[int, ...]]:
    generator = torch.Generator().manual_seed(seed)
    problems = []
    while len(problems) < n:
        problem = tuple(torch.randint(0, HIGH, (DIGITS,), generator=generator).tolist())
        if problem not in exclude:
            problems.append(problem)
    return problems


def prompt_of(problem) -> str:
    return "+".join(f"{digit:02d}" for digit in problem) + "="


def solution_of(problem, chain_of_thought: bool) -> str:
    if not chain_of_thought:
        return str(sum(problem))
    running = np.cumsum(problem).tolist()
    return ",".join(f"{total:02d}" for total in running) + f"|{running[-1]}"


def final_answer(completion: str, chain_of_thought: bool) -> int | None:
    text = completion.split("|")[-1] if chain_of_thought else completion
    return int(text) if re.fullmatch(r"\d{1,3}", text) else None


def outcome_reward(problem, completion: str, chain_of_thought: bool = True) -> float:
    """The verifier: 1 when the final answer is the sum, else 0 (a malformed answer is wrong)."""
    return float(final_answer(completion, chain_of_thought) == sum(problem))


def process_reward(problem, completion: str) -> float:
    """The share of the steps that check out, up to the first that does not: each the previous step plus its digit.

    Each step is checked against the step written before it, not against the answer, which the
    verifier does not need to know.
    """
    steps = completion.split("|")[0].split(",")
    previous, good = 0, 0
    for digit, step in zip(problem, steps):
        if not re.fullmatch(r"\d{1,3}", step) or int(step) != previous + digit:
            break
        previous, good = int(step), good + 1
    return good / DIGITS


def encode(text: str) -> list[int]:
    return list(text.encode())  # one byte per token: the tokenizer's first 256 ids are the bytes


def decode(ids) -> str:
    return bytes(i for i in ids if i < 256).decode(errors="replace")


example = (3, 4, 2, 1, 0, 4)
assert solution_of(example, True) == "03,07,09,10,10,14|14" and solution_of(example, False) == "14"
assert outcome_reward(example, "03,07,09,10,10,14|14") == 1.0
assert outcome_reward(example, "03,07,09,10,10,15|15") == 0.0
assert outcome_reward(example, "03,07,08,10,10,14|14") == 1.0  # right answer, a wrong step
assert outcome_reward(example, "03,07,09,10,10,14|") == 0.0  # malformed: no answer
assert process_reward(example, "03,07,08,10,10,14|14") == 2 / 6
assert process_reward(example, "03,07,09,10,10,15|15") == 5 / 6
assert process_reward(example, "03,07,09,10,10,14|14") == 1.0
assert process_reward(example, "03,07,09") == 3 / 6  # stopped early: the missing steps do not count
assert prompt_of(example) == "03+04+02+01+00+04="
assert decode(encode("03,07|7")) == "03,07|7" and tokenizer.decode(encode("03,07|7")) == "03,07|7"
every_problem = [tuple(int(c) for c in np.base_repr(i, HIGH).zfill(DIGITS)) for i in range(HIGH**DIGITS)]
order = torch.randperm(len(every_problem), generator=torch.Generator().manual_seed(12345)).tolist()
test_problems = [every_problem[i] for i in order[:100]]  # 100 of the 15,625 problems, never trained on
held_out = set(test_problems)
print(prompt_of(example), solution_of(example, True), "| direct:", solution_of(example, False))

# %% [markdown]
# ## 2. Distilling reasoning traces
#
# The pretrained model knows Python, not this format. We fine-tune it on
# worked examples, with the loss on the solution tokens only (the prompt is
# masked with `-100`, which the shared model's loss ignores), and the
# end-of-text token after each solution so the model learns to stop. Two
# students from the same checkpoint, the same number of steps and examples:
# one sees chain-of-thought traces, one sees answers only. The traces come from
# a teacher that is always right, a program; distilling the long traces of a
# strong reasoning model into a smaller one (as DeepSeek did with R1's traces
# for Qwen and Llama models) is the same move with a neural teacher.


# %%
def batch_of(problems, chain_of_thought: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets for teacher forcing: prompt + solution + <|endoftext|>, loss on the solution only."""
    rows = [(encode(prompt_of(p)), encode(solution_of(p, chain_of_thought)) + [EOT]) for p in problems]
    width = max(len(a) + len(b) for a, b in rows)
    inputs = torch.full((len(rows), width - 1), EOT)
    targets = torch.full((len(rows), width - 1), -100)
    for i, (prompt, solution) in enumerate(rows):
        sequence = prompt + solution
        inputs[i, : len(sequence) - 1] = torch.tensor(sequence[:-1])
        targets[i, len(prompt) - 1 : len(sequence) - 1] = torch.tensor(solution)
    return inputs, targets


SFT_STEPS, SFT_BATCH = 300, 16


def supervised(chain_of_thought: bool, seed: int, steps: int = SFT_STEPS, batch: int = SFT_BATCH, lr: float = 3e-3):
    torch.manual_seed(seed)
    model = copy.deepcopy(pretrained).train()
    optimizer = make_optimizer(model, lr, weight_decay=0.0)
    for step in range(steps):
        inputs, targets = batch_of(make_problems(batch, seed * 1000 + step, held_out), chain_of_thought)
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 10)
        logits = model(inputs)
        # Summed over each solution's tokens, so that a long trace and a one-token answer weigh the same.
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="sum") / batch
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def solve(model, problems, samples: int = 1, temperature: float = 0.0, seed: int = 0) -> list[list[str]]:
    """Completions (as text) for each problem: `samples` of them, greedy when temperature is 0."""
    prompts = torch.tensor([encode(prompt_of(p)) for p in problems for _ in range(samples)])
    generator = torch.Generator().manual_seed(seed)
    out = model.generate(prompts, 28, temperature=temperature, generator=generator, stop_token=EOT)
    texts = []
    for row in out[:, prompts.shape[1] :].tolist():
        texts.append(decode(row[: row.index(EOT)] if EOT in row else row))
    return [texts[i * samples : (i + 1) * samples] for i in range(len(problems))]


def accuracy(model, chain_of_thought: bool = True) -> float:
    completions = solve(model, test_problems)
    return float(np.mean([outcome_reward(p, c[0], chain_of_thought) for p, c in zip(test_problems, completions)]))


students = {"chain of thought": [], "answer only": []}
for seed in range(3):
    for name in students:
        model = supervised(name == "chain of thought", seed)
        students[name].append((accuracy(model, name == "chain of thought"), model))
for name, runs in students.items():
    values = [a for a, _ in runs]
    print(f"{name:16s}: greedy accuracy {np.mean(values):.1%} +- {np.std(values):.1%} over 3 seeds ({', '.join(f'{v:.0%}' for v in values)})")
print("before fine-tuning:", solve(pretrained, test_problems[:1])[0][0][:30].encode())

plt.figure(figsize=(5, 3.4))
for i, (name, runs) in enumerate(students.items()):
    values = [a for a, _ in runs]
    plt.bar(i, np.mean(values), yerr=np.std(values), capsize=6)
    plt.plot([i] * 3, values, "k.", ms=8)
plt.xticks(range(2), list(students))
plt.ylabel("accuracy on 100 held-out sums")
plt.title(f"Same checkpoint, same {SFT_STEPS} steps of {SFT_BATCH} examples")
plt.tight_layout()
plt.show()
cot_accuracy = [a for a, _ in students["chain of thought"]]
direct_accuracy = [a for a, _ in students["answer only"]]
assert min(cot_accuracy) > max(direct_accuracy), (cot_accuracy, direct_accuracy)

# %% [markdown]
# With the same examples and the same number of updates, the students that saw
# traces solve far more held-out sums. A trace costs more tokens to write, and
# that is the point: each token is a step of computation the model can spend,
# and a transformer's computation per token is fixed. A problem that needs more
# serial steps than the network has layers can still be solved if the steps are
# written out. (Reasoning models go further: their traces are not teacher-made
# but discovered by RL, and include checking and backtracking.)
#
# ## 3. Test-time compute: many samples, and how to choose
#
# Our chain-of-thought student, sampled at temperature 1, does not always give
# the same answer. Three ways to turn $n$ samples into one answer:
#
# * **self-consistency** (Wang et al., 2022): the most frequent final answer;
# * **best-of-n with a process verifier**: the sample whose steps check out
#   best, judged by `process_reward`, which needs the problem but not its
#   answer (like a process reward model that scores each step);
# * **pass@n**: whether *any* sample is right, the ceiling that best-of-n with
#   a perfect outcome verifier would reach. It needs the answer key, which at
#   test time we do not have, except on tasks that can be checked (unit tests,
#   proofs, this one).

# %%
policy = max(students["chain of thought"], key=lambda run: run[0])[1]
budget = [1, 2, 4, 8, 16]
problems = test_problems
samples = solve(policy, problems, samples=max(budget), temperature=1.0, seed=1)


def choose(problem, completions: list[str], rule: str) -> float:
    if rule == "pass@n":
        return max(outcome_reward(problem, c) for c in completions)
    if rule == "majority vote":
        answers = [final_answer(c, True) for c in completions]
        answer = Counter(a for a in answers if a is not None).most_common(1)
        return float(bool(answer) and answer[0][0] == sum(problem))
    best = max(completions, key=lambda c: process_reward(problem, c))  # first of the best
    return outcome_reward(problem, best)


rules = ["majority vote", "best-of-n, process verifier", "pass@n"]
curves = {rule: [] for rule in rules}
bands = {rule: [] for rule in rules}
generator = np.random.default_rng(0)
for n in budget:
    for rule in rules:
        scores = np.array([choose(p, s[:n], rule) for p, s in zip(problems, samples)])
        curves[rule].append(scores.mean())
        resampled = [scores[generator.integers(0, len(scores), len(scores))].mean() for _ in range(300)]
        bands[rule].append(np.percentile(resampled, [2.5, 97.5]))
greedy = np.mean([outcome_reward(p, c[0]) for p, c in zip(problems, solve(policy, problems))])
single = curves["majority vote"][0]

plt.figure(figsize=(6.4, 3.8))
for rule in rules:
    low, high = np.array(bands[rule]).T
    plt.plot(budget, curves[rule], "o-", label=rule)
    plt.fill_between(budget, low, high, alpha=0.15)
plt.axhline(greedy, color="grey", ls=":", label=f"greedy, one answer ({greedy:.0%})")
plt.xscale("log", base=2)
plt.xlabel("samples per problem n (temperature 1)")
plt.ylabel("accuracy on 100 held-out sums")
plt.title("Accuracy against test-time samples (95% bootstrap bands)")
plt.legend()
plt.tight_layout()
plt.show()
for rule in rules:
    print(f"{rule:28s}: " + ", ".join(f"n={n}: {v:.0%}" for n, v in zip(budget, curves[rule])))
assert curves["pass@n"] == sorted(curves["pass@n"])
assert curves["majority vote"][-1] > single and curves["best-of-n, process verifier"][-1] > single
assert all(v <= p + 1e-12 for v, p in zip(curves["best-of-n, process verifier"], curves["pass@n"]))
assert curves["best-of-n, process verifier"][-1] > greedy, "checking the steps of 16 samples should beat one greedy answer"

# %% [markdown]
# Spending more samples buys accuracy, with diminishing returns, and the gap
# between pass@n and the practical rules is what a better verifier could
# still win. Compare each curve with the dotted line too: a single sample at
# temperature 1 is worse than the greedy answer, and majority voting mostly
# wins back what sampling lost, while a verifier that checks the steps goes
# beyond greedy decoding (the cell above asserts it). That is why reasoning
# models pair sampling with a verifier or a reward model wherever one exists. Snell et al. (2024) found that, for a fixed compute budget, such
# test-time strategies can beat a model several times larger on problems of
# moderate difficulty.
#
# **Process against outcome.** An outcome reward checks only the final answer,
# so it also rewards a sample that reached the right answer by wrong steps, and
# gives a long solution no clue *where* it went wrong. A process reward checks
# each step (Lightman et al., 2023, trained a model to do so from human step
# labels). Counted over all the samples above:

# %%
flat = [(p, c) for p, s in zip(problems, samples) for c in s]
right_answer = np.array([outcome_reward(p, c) for p, c in flat]) == 1
right_steps = np.array([process_reward(p, c) for p, c in flat]) == 1
print(f"{len(flat)} samples: right answer and every step right {np.mean(right_answer & right_steps):.1%},"
      f" right answer with a wrong step {np.mean(right_answer & ~right_steps):.1%},"
      f" wrong answer after right steps {np.mean(~right_answer & right_steps):.1%},"
      f" both wrong {np.mean(~right_answer & ~right_steps):.1%}")
lucky = next((c for p, c in flat if outcome_reward(p, c) == 1 and process_reward(p, c) < 1), None)
print("a sample the outcome reward credits although a step is wrong:", lucky)
wrong_steps_credited = np.mean(right_answer & ~right_steps)
right_steps_punished = np.mean(~right_answer & right_steps)
assert wrong_steps_credited > 0 and right_steps_punished > 0, "the two rewards disagree in both directions"

# %% [markdown]
# The two rewards disagree in both directions. Some samples reach the right
# answer through a wrong running sum (two mistakes that cancel, or an answer
# that ignores the trace): an outcome reward trained on them teaches that the
# steps do not matter. And some write every running sum right, then copy the
# last one wrongly after `|`: an outcome reward scores all that reasoning as a
# failure, while our process reward, which checks the steps, gives it full
# marks. On real problems, checking steps needs a model of its own (a process
# reward model, trained on labelled steps as in Lightman et al.), which is
# costly to label and can itself be gamed: the DeepSeek-R1 report lists the
# process reward model among its unsuccessful attempts, for those reasons, and
# trains with rule-based rewards on the final answer and the format.

# %% [markdown]
# ## 4. GRPO: reinforcement learning from verifiable rewards
#
# **Group Relative Policy Optimization** (Shao et al., 2024, in DeepSeekMath;
# the algorithm behind DeepSeek-R1) is PPO without the value network. For each
# prompt $q$ it samples a **group** of $G$ completions $o_1..o_G$ from the
# current policy, scores each with the verifier, and uses the group itself as
# the baseline: the advantage of completion $i$ is its reward standardised
# within its group,
#
# $$A_i = \frac{r_i - \operatorname{mean}(r_1..r_G)}{\operatorname{std}(r_1..r_G) + \epsilon}.$$
#
# Every token of $o_i$ gets the same advantage. The loss is PPO's clipped
# surrogate with a KL penalty towards a frozen reference policy (the model
# before RL), averaged over each completion's tokens and then over the group:
#
# $$L = -\frac{1}{G} \sum_i \frac{1}{|o_i|} \sum_t \Big[\min\big(\rho_{i,t} A_i, \operatorname{clip}(\rho_{i,t}, 1 - \varepsilon, 1 + \varepsilon) A_i\big) - \beta \, \mathrm{KL}_{i,t}\Big],$$
#
# with $\rho_{i,t} = \pi_\theta(o_{i,t} \mid \cdot) / \pi_{\text{old}}(o_{i,t} \mid \cdot)$
# and the per-token KL estimate $\pi_{\text{ref}} / \pi_\theta - \log(\pi_{\text{ref}} / \pi_\theta) - 1$,
# which is never negative.
#
# **By hand.** A group of four with rewards $(1, 0, 0, 1)$: the mean is
# $0.5$, and the standard deviation (the sample one, dividing by $G - 1$, as
# `torch.std` and TRL compute it) is $\sqrt{4 \cdot 0.25 / 3} = 0.5774$, so
# $A = (0.866, -0.866, -0.866, 0.866)$. A group whose rewards are all equal
# has $A = 0$: it teaches nothing, which is why GRPO needs problems the model
# solves *sometimes*.


# %%
def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """rewards (prompts, G) -> advantages standardised within each group."""
    return (rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + eps)


advantages = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]]))
by_hand = 0.5 / math.sqrt(1 / 3)
assert torch.allclose(advantages[0], torch.tensor([by_hand, -by_hand, -by_hand, by_hand]), atol=1e-3)
assert torch.equal(advantages[1], torch.zeros(4))
assert torch.allclose(advantages[2], torch.tensor([-0.5, -0.5, -0.5, 1.5]), atol=1e-3)  # mean 1/4, std 1/2
print("advantages of (1, 0, 0, 1):", [round(a, 4) for a in advantages[0].tolist()], f"(by hand +-{by_hand:.4f})")


def token_logprobs(model, sequences: torch.Tensor) -> torch.Tensor:
    """log pi(token t | tokens before it) for every position after the first, (B, T - 1)."""
    logits = model(sequences[:, :-1])
    return logits.log_softmax(-1).gather(-1, sequences[:, 1:, None]).squeeze(-1)


def grpo_loss(new, old, ref, advantages, mask, clip: float = 0.2, beta: float = 0.04) -> torch.Tensor:
    """The GRPO objective on per-token log-probabilities (B, T) with a completion mask, vectorised."""
    ratio = torch.exp(new - old)
    surrogate = torch.minimum(ratio * advantages[:, None], ratio.clamp(1 - clip, 1 + clip) * advantages[:, None])
    kl = torch.exp(ref - new) - (ref - new) - 1
    per_token = surrogate - beta * kl
    return -((per_token * mask).sum(1) / mask.sum(1)).mean()


def grpo_loss_loop(new, old, ref, advantages, mask, clip=0.2, beta=0.04) -> torch.Tensor:
    """The same, one token at a time, as the formula reads."""
    total = 0.0
    for i in range(len(new)):
        terms = []
        for t in range(new.shape[1]):
            if mask[i, t]:
                rho = math.exp(float(new[i, t] - old[i, t]))
                clipped = min(max(rho, 1 - clip), 1 + clip)
                log_ratio = float(ref[i, t] - new[i, t])
                kl = math.exp(log_ratio) - log_ratio - 1
                a = float(advantages[i])
                terms.append(min(rho * a, clipped * a) - beta * kl)
        total += sum(terms) / len(terms)
    return torch.tensor(-total / len(new), dtype=torch.float64)


generator = torch.Generator().manual_seed(0)
shape = (6, 9)
old = -torch.rand(shape, generator=generator, dtype=torch.float64) * 3
new = old + 0.4 * torch.randn(shape, generator=generator, dtype=torch.float64)  # some ratios outside the clip
ref = old + 0.2 * torch.randn(shape, generator=generator, dtype=torch.float64)
mask = torch.rand(shape, generator=generator) < 0.8
mask[:, 0] = True
adv = torch.randn(6, generator=generator, dtype=torch.float64)
assert torch.allclose(grpo_loss(new, old, ref, adv, mask.double()), grpo_loss_loop(new, old, ref, adv, mask), atol=1e-12)

# On-policy (new == old) and without the KL term, the gradient is REINFORCE with group advantages.
logits = torch.randn(6, 9, 5, generator=generator, dtype=torch.float64, requires_grad=True)
actions = torch.randint(0, 5, (6, 9), generator=generator)
logp = logits.log_softmax(-1).gather(-1, actions[..., None]).squeeze(-1)
(grad_grpo,) = torch.autograd.grad(
    grpo_loss(logp, logp.detach(), logp.detach(), adv, mask.double(), beta=0.0), logits, retain_graph=True
)
reinforce = -((logp * adv[:, None] * mask).sum(1) / mask.sum(1)).mean()
(grad_reinforce,) = torch.autograd.grad(reinforce, logits)
assert torch.allclose(grad_grpo, grad_reinforce, atol=1e-12)
print("grpo_loss equals the token-by-token loop, and on-policy its gradient is REINFORCE's (both to 1e-12)")

# %% [markdown]
# Now the run. Each step draws 4 fresh problems, samples a group of 8
# completions for each at temperature 1, scores them with the outcome verifier
# alone, and takes two gradient steps on the GRPO loss (the second one is where
# $\rho \ne 1$ and the clip matters). No solution is ever shown to the model.
# We start from the chain-of-thought student of section 2 (seed 0) and run
# three seeds, measuring greedy accuracy on the 100 held-out sums as the
# samples accumulate.


# %%
def grpo_run(start, seed: int, steps: int = 16, prompts: int = 4, group: int = 8, lr: float = 3e-4) -> dict:
    torch.manual_seed(seed)
    model = copy.deepcopy(start)
    reference = copy.deepcopy(start).eval()
    optimizer = make_optimizer(model, lr, weight_decay=0.0)
    history = {"samples": [0], "accuracy": [accuracy(model)], "reward": [], "informative": []}
    for step in range(steps):
        batch = make_problems(prompts, 50_000 + seed * 1000 + step, held_out)
        model.eval()
        completions = solve(model, batch, samples=group, temperature=1.0, seed=seed * 1000 + step)
        rewards = torch.tensor([[outcome_reward(p, c) for c in cs] for p, cs in zip(batch, completions)])
        advantages = group_advantages(rewards).flatten()
        rows = [encode(prompt_of(p)) + encode(c) + [EOT] for p, cs in zip(batch, completions) for c in cs]
        width = max(map(len, rows))
        sequences = torch.tensor([r + [EOT] * (width - len(r)) for r in rows])
        mask = torch.zeros(len(rows), width - 1)
        start_at = len(encode(prompt_of(batch[0]))) - 1
        for i, r in enumerate(rows):
            mask[i, start_at : len(r) - 1] = 1.0  # the completion and its <|endoftext|>
        with torch.no_grad():
            old, ref = token_logprobs(model, sequences), token_logprobs(reference, sequences)
        model.train()
        for _ in range(2):
            loss = grpo_loss(token_logprobs(model, sequences), old, ref, advantages, mask)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        history["reward"].append(rewards.mean().item())
        history["informative"].append((rewards.std(1) > 0).float().mean().item())
        if (step + 1) % 4 == 0:
            model.eval()
            history["samples"].append((step + 1) * prompts * group)
            history["accuracy"].append(accuracy(model))
    return history


start_model = students["chain of thought"][0][1]
runs = [grpo_run(start_model, seed) for seed in range(3)]
before = runs[0]["accuracy"][0]
after = [r["accuracy"][-1] for r in runs]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for seed, r in enumerate(runs):
    axes[0].plot(r["samples"], r["accuracy"], "o-", label=f"GRPO seed {seed}")
    axes[1].plot(range(1, len(r["reward"]) + 1), r["reward"], "-", label=f"seed {seed}")
axes[0].axhline(before, color="grey", ls=":", label="before RL")
axes[0].set(xlabel="completions sampled", ylabel="greedy accuracy, 100 held-out sums", title="GRPO with the outcome verifier")
axes[0].legend()
axes[1].set(xlabel="step", ylabel="mean reward of the sampled group", title="Reward during training")
axes[1].legend()
plt.tight_layout()
plt.show()
print(f"greedy accuracy before RL {before:.1%}; after {runs[0]['samples'][-1]} samples: "
      + ", ".join(f"{a:.1%}" for a in after) + f" (mean {np.mean(after):.1%})")
print("share of groups with any signal (not all equal), per seed:", [round(float(np.mean(r["informative"])), 2) for r in runs])
assert min(after) > before, (before, after)

# %% [markdown]
# A few hundred samples scored by a five-line checker move the policy, in
# every seed, with no example solution. That is RLVR's appeal: wherever a
# program can check answers (mathematics with known results, code with tests,
# puzzles, formal proofs), a model can improve by trying. What DeepSeek-R1
# added at scale was the observation that, rewarded only for correct final
# answers (and a format), long traces with self-verification and backtracking
# emerge by themselves. Known pitfalls, all visible in small form here:
# groups that are all right or all wrong carry no signal; averaging over each
# completion's length biases the update by length (Dr. GRPO and DAPO change the
# normalisation); and an outcome reward credits right answers reached by wrong
# steps.
#
# ## What to try next
#
# 1. **Unbiased pass@k.** With $n$ samples of which $c$ are correct, the
#    probability that at least one of $k$ drawn without replacement is correct
#    is $1 - \binom{n - c}{k} / \binom{n}{k}$ (the estimator of the Codex paper).
#    Write `pass_at_k(n, c, k)`.
#
# <details><summary>Solution</summary>
#
# ```python
# def pass_at_k(n, c, k):
#     if n - c < k:
#         return 1.0
#     return 1.0 - math.comb(n - c, k) / math.comb(n, k)
# ```
#
# Estimating pass@k from exactly k samples is unbiased too but noisy; drawing
# $n > k$ and using this formula averages over all subsets at once.
# </details>
#
# 2. **Advantages without the standard deviation.** Dr. GRPO (Liu et al., 2025)
#    argues that dividing by the group's standard deviation over-weights
#    problems that are almost always or almost never solved. Write
#    `centred_advantages(rewards)` for rewards of shape `(prompts, G)` that
#    only subtracts each group's mean.
#
# <details><summary>Solution</summary>
#
# ```python
# def centred_advantages(rewards):
#     return rewards - rewards.mean(1, keepdim=True)
# ```
#
# For the group (0, 0, 0, 1), GRPO gives the correct sample 1.5 and this
# gives it 0.75, while the group (0, 1, 0, 1) gets 0.866 and 0.5: without the
# division, rare successes no longer count double.
# </details>
#
# 3. **A process reward.** Run `grpo_run` with `process_reward` in place of
#    `outcome_reward` (or their average) and compare accuracy and the share of
#    samples whose steps are all right.
#
# Write your answers to exercises 1 and 2 in the next cell and run the check
# after it.


# %%
def pass_at_k(n: int, c: int, k: int) -> float:
    raise NotImplementedError  # exercise 1


def centred_advantages(rewards: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # exercise 2


# %%
from exercises import run_check


def check_pass_at_k(candidate) -> None:
    from itertools import combinations

    for n, c, k in [(5, 2, 2), (8, 1, 3), (6, 0, 2), (4, 4, 1), (10, 3, 10), (7, 5, 3)]:
        outcomes = [1] * c + [0] * (n - c)
        subsets = list(combinations(outcomes, k))
        exact = sum(any(s) for s in subsets) / len(subsets)  # every subset of k samples, counted
        assert abs(candidate(n, c, k) - exact) < 1e-12, f"n={n}, c={c}, k={k}: expected {exact:.4f}"


def check_centred_advantages(candidate) -> None:
    rewards = torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    expected = torch.tensor([[-0.25, -0.25, -0.25, 0.75], [-0.5, 0.5, -0.5, 0.5], [0.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(candidate(rewards), expected), "subtract each group's mean, nothing else"


print("exercise 1:", run_check(check_pass_at_k, pass_at_k))
print("exercise 2:", run_check(check_centred_advantages, centred_advantages))

# %% [markdown]
# The checks are tested too: they must pass the solutions above, reject a
# wrong answer, and report an untouched stub as not attempted.


# %%
def solution_pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def wrong_pass_at_k(n, c, k):
    return 1.0 - (1 - c / n) ** k  # draws with replacement


def solution_centred_advantages(rewards):
    return rewards - rewards.mean(1, keepdim=True)


def wrong_centred_advantages(rewards):
    return rewards - rewards.mean()  # the batch's mean, not each group's


assert run_check(check_pass_at_k, solution_pass_at_k) == "passed"
assert run_check(check_centred_advantages, solution_centred_advantages) == "passed"
assert run_check(check_pass_at_k, wrong_pass_at_k).startswith("not yet")
assert run_check(check_centred_advantages, wrong_centred_advantages).startswith("not yet")
assert run_check(check_pass_at_k, pass_at_k).startswith("not attempted")
assert run_check(check_centred_advantages, centred_advantages).startswith("not attempted")
