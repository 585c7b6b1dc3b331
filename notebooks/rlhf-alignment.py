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
# # RLHF and alignment: a reward model, DPO and PPO on the path's GPT
#
# A pretrained model imitates its training text; nothing in that text says which of
# two plausible continuations people *prefer*. Alignment methods learn from
# preferences ("of these two responses, this one is better"):
#
# - **RLHF** (Christiano et al. 2017, Ouyang et al. 2022) fits a **reward model** to
#   the preferences, then improves the policy (the language model) with reinforcement
#   learning, usually **PPO**, while a **KL penalty** keeps it near the reference model.
# - **DPO** (Rafailov et al. 2023) skips the reward model and the RL loop: a
#   classification loss on preference pairs that optimises the same KL-regularised
#   objective.
#
# We do all three on the path's own GPT, pretrained on the Python standard library.
# Real preferences live in raters' heads; to grade every method we need a preference
# we can write down. Ours is a house style that formatters such as Black enforce:
# **strings in double quotes**. The standard library mixes both quote styles, so the
# pretrained model writes `'...'` about as readily as `"..."`. A response's true
# reward is the number of `"` characters minus the number of `'` characters in it.
#
# **What you will build and check**
#
# - preference pairs sampled from the pretrained model and labelled by noisy
#   Bradley-Terry raters;
# - a **reward model**: the pretrained GPT with a scalar head, trained with the
#   Bradley-Terry loss (checked against `-logsigmoid`), graded on held-out pairs;
# - **DPO**, its loss checked against values computed by hand, trained over three
#   seeds and measured against the reference policy: reward gained and KL spent;
# - the **PPO** clipped objective checked by hand, and a short PPO run against the
#   reward model with a KL penalty;
# - where a reward model stops being trustworthy, which is why the KL penalty exists.

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
import statistics
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from pathgpt import GPT, load_pretrained, load_tokens
from torch import nn

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
torch.manual_seed(0)
started = time.process_time()

reference, tokenizer = load_pretrained()
reference.requires_grad_(False)
EOT = tokenizer.eot_id
print(f"the reference policy: the pretrained GPT, {reference.num_parameters():,d} parameters")

# %% [markdown]
# ## 1. Prompts, responses and a reward we can compute
#
# A prompt is the 16 tokens of library code just before a token that opens a string
# (every string earlier on the line is closed), so the model is about to choose a
# quote style. A response is the next
# 8 tokens, sampled from a policy at temperature 1. Every prompt has the same length,
# so a whole batch of them is generated at once with the KV cache. Prompts for
# training come from the training split, prompts for evaluation from the validation
# split.

# %%
PROMPT, RESPONSE = 16, 8
QUOTE_TOKENS = torch.tensor(["'" in tokenizer.decode([i]) or '"' in tokenizer.decode([i]) for i in range(tokenizer.vocab_size)])


def quote_prompts(tokens: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """count prompts (count, PROMPT): the tokens before a token that opens a string, none crossing a document boundary.

    A quote opens a string when the line so far holds an even number of quote characters (every
    earlier string on it is closed), so the response is free to choose its quote style.
    """
    positions = torch.nonzero(QUOTE_TOKENS[tokens[PROMPT:]]).squeeze(1) + PROMPT
    windows = tokens[positions[:, None] + torch.arange(-PROMPT, 0)]
    windows = windows[~(windows == EOT).any(1)]
    line_so_far = [tokenizer.decode(w.tolist()).rpartition("\n")[2] for w in windows]
    opens = torch.tensor([(line.count("'") + line.count('"')) % 2 == 0 and "\n" in tokenizer.decode(w.tolist()) for line, w in zip(line_so_far, windows, strict=True)])
    windows = windows[opens]
    order = torch.randperm(len(windows), generator=torch.Generator().manual_seed(seed))
    return windows[order[:count]]


def true_reward(responses: torch.Tensor) -> torch.Tensor:
    """The house style: double quotes count +1 each, single quotes -1 each (in the decoded text)."""
    texts = [tokenizer.decode(row.tolist()) for row in responses]
    return torch.tensor([float(t.count('"') - t.count("'")) for t in texts])


@torch.no_grad()
def sample(policy: GPT, prompts: torch.Tensor, seed: int) -> torch.Tensor:
    """Whole sequences (B, PROMPT + RESPONSE): each prompt and a response sampled at temperature 1."""
    generator = torch.Generator().manual_seed(seed)
    return policy.generate(prompts, RESPONSE, temperature=1.0, generator=generator)


def response_logprobs(policy: nn.Module, sequences: torch.Tensor) -> torch.Tensor:
    """log pi(y_t | prompt, y_<t) for each response token, (B, RESPONSE)."""
    logits = policy(sequences[:, :-1])[:, PROMPT - 1 :]
    return logits.log_softmax(-1).gather(-1, sequences[:, PROMPT:, None]).squeeze(-1)


train_prompts = quote_prompts(load_tokens("train"), 1024, seed=0)
eval_prompts = quote_prompts(load_tokens("validation"), 256, seed=1)
reference_samples = sample(reference, eval_prompts, seed=2)
reference_reward = true_reward(reference_samples[:, PROMPT:])
print(f"{len(train_prompts)} training and {len(eval_prompts)} evaluation prompts")
for row, reward in zip(reference_samples[:4], reference_reward[:4], strict=True):
    print(f"  {reward:+.0f}  {tokenizer.decode(row[:PROMPT].tolist())[-40:]!r} -> {tokenizer.decode(row[PROMPT:].tolist())!r}")
print(f"reference policy: mean true reward {reference_reward.mean():+.2f} on the evaluation prompts")
assert true_reward(torch.tensor([tokenizer.encode('x = "a" + \'b\'')])).item() == 0.0
assert true_reward(torch.tensor([tokenizer.encode('print("""done""")')])).item() == 6.0

# %% [markdown]
# ## 2. A reward model from preferences
#
# ### The Bradley-Terry model
#
# Raters compare two responses. The Bradley-Terry model says a response with reward
# $r_a$ is preferred over one with reward $r_b$ with probability
#
# $$P(a \succ b) = \sigma(r_a - r_b) = \frac{1}{1 + e^{-(r_a - r_b)}} .$$
#
# A reward model $r_\phi$ is fitted by maximum likelihood on pairs (chosen $y_w$,
# rejected $y_l$), minimising
#
# $$\mathcal{L}_\text{BT} = -\log \sigma\big(r_\phi(y_w) - r_\phi(y_l)\big) = \log\big(1 + e^{-(r_\phi(y_w) - r_\phi(y_l))}\big).$$
#
# Written naively, $\log(1+e^{-d})$ overflows for very negative $d$; the stable form
# is $\max(-d, 0) + \log(1 + e^{-|d|})$. Checked against `F.logsigmoid` at extreme
# margins and against two values by hand: $d = 0$ gives $\log 2$ (no preference) and
# $d = \log 3$ gives $\log(4/3)$ (the chosen one preferred with probability 3/4).


# %%
def bradley_terry_loss(reward_chosen: torch.Tensor, reward_rejected: torch.Tensor) -> torch.Tensor:
    """Mean of -log sigmoid(r_chosen - r_rejected), in a form that never overflows."""
    margin = reward_chosen - reward_rejected
    return (torch.clamp(-margin, min=0) + torch.log1p(torch.exp(-margin.abs()))).mean()


margins = torch.tensor([-1000.0, -50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 50.0, 1000.0], dtype=torch.float64)
for d in margins:
    torch.testing.assert_close(bradley_terry_loss(d, torch.zeros((), dtype=torch.float64)), -F.logsigmoid(d), rtol=1e-12, atol=1e-12)
assert math.isclose(bradley_terry_loss(torch.tensor(0.0, dtype=torch.float64), torch.tensor(0.0)).item(), math.log(2), rel_tol=1e-12)
assert math.isclose(bradley_terry_loss(torch.tensor(math.log(3), dtype=torch.float64), torch.tensor(0.0)).item(), math.log(4 / 3), rel_tol=1e-12)
print("Bradley-Terry loss == -logsigmoid(r_chosen - r_rejected) at 1e-12, margins up to 1000")

# %% [markdown]
# ### Preference pairs from the model itself
#
# As in practice, the pairs come from the policy being aligned: two responses sampled
# for each training prompt. Our raters choose with exactly the Bradley-Terry
# probability of the true reward, so two responses with close rewards are nearly a coin
# flip; pairs with equal rewards are dropped (they teach nothing). The held-out pairs,
# from the evaluation prompts, are labelled by the true reward without noise.


# %%
def preference_pairs(prompts: torch.Tensor, seed: int, noisy: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) whole sequences from two reference samples per prompt."""
    first, second = sample(reference, prompts, seed), sample(reference, prompts, seed + 1)
    margin = true_reward(first[:, PROMPT:]) - true_reward(second[:, PROMPT:])
    keep = margin != 0
    first, second, margin = first[keep], second[keep], margin[keep]
    if noisy:
        first_wins = torch.rand(len(margin), generator=torch.Generator().manual_seed(seed)) < torch.sigmoid(margin)
    else:
        first_wins = margin > 0
    return torch.where(first_wins[:, None], first, second), torch.where(first_wins[:, None], second, first)


chosen, rejected = preference_pairs(train_prompts, seed=10, noisy=True)
held_chosen, held_rejected = preference_pairs(eval_prompts, seed=20, noisy=False)
agreement = (true_reward(chosen[:, PROMPT:]) > true_reward(rejected[:, PROMPT:])).float().mean()
print(f"{len(chosen)} training pairs (raters agree with the true reward on {agreement:.0%}), {len(held_chosen)} held-out pairs")

# %% [markdown]
# The reward model is the pretrained GPT with its vocabulary head replaced by a scalar
# head, as InstructGPT's was (there, the SFT model with its final layer replaced). It
# starts from everything the language model knows about code, so a few dozen steps
# suffice. InstructGPT's head reads the last token only; ours scores every response
# position and sums the scores, a prior that suits a reward made of per-character
# counts and learns it from a few hundred pairs (try the last token alone: it needs
# many more).


# %%
class RewardModel(nn.Module):
    """A GPT body and a scalar head on each response position's features, summed over the response."""

    def __init__(self, body: GPT) -> None:
        super().__init__()
        self.body = body
        self.score = nn.Linear(body.config.d_model, 1)

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        return self.score(self.body.features(sequences)[:, PROMPT:]).squeeze(-1).sum(1)


torch.manual_seed(1)
reward_model = RewardModel(copy.deepcopy(reference).requires_grad_(True))
optimizer = torch.optim.AdamW(reward_model.parameters(), lr=1e-3, weight_decay=0.01)
generator = torch.Generator().manual_seed(1)
for step in range(60):
    batch = torch.randint(len(chosen), (16,), generator=generator)
    loss = bradley_terry_loss(reward_model(chosen[batch]), reward_model(rejected[batch]))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
reward_model.eval().requires_grad_(False)

with torch.no_grad():
    held_accuracy = (reward_model(held_chosen) > reward_model(held_rejected)).float().mean().item()
    scores = reward_model(reference_samples)
correlation = torch.corrcoef(torch.stack([scores, reference_reward]))[0, 1].item()
print(f"reward model: held-out preference accuracy {held_accuracy:.1%}, correlation with the true reward {correlation:.2f}")
assert held_accuracy > 0.8, "the reward model ranks unseen pairs like the true reward"
assert correlation > 0.5, "and its scores follow the true reward on fresh samples"

# %% [markdown]
# The Bradley-Terry loss sees only *differences*, so a reward model is defined up to
# a constant: adding 10 to every score changes no prediction. (Its scale is pinned
# down here because our raters are noisy in exactly the Bradley-Terry way.) The scatter
# centres both rewards.

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.8))
jitter = 0.15 * torch.randn(len(reference_reward), generator=torch.Generator().manual_seed(0))
ax.scatter(reference_reward - reference_reward.mean() + jitter, scores - scores.mean(), s=8, alpha=0.5)
ax.plot([-6, 6], [-6, 6], "k--", lw=1, label="learned = true")
ax.set(xlabel="true reward (centred, jittered)", ylabel="reward model score (centred)", title=f"Reward model on fresh samples (r = {correlation:.2f})")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. Direct Preference Optimization
#
# RLHF maximises reward while staying close to the reference:
#
# $$\max_\pi\; \mathbb{E}_{y\sim\pi}\,[r(y)] - \beta\,\mathrm{KL}(\pi \,\|\, \pi_\text{ref}).$$
#
# Its optimum has a closed form, $\pi^*(y) \propto \pi_\text{ref}(y)\, e^{r(y)/\beta}$,
# which read backwards says that every policy defines an **implicit reward**
# $\hat r(y) = \beta \log \frac{\pi(y)}{\pi_\text{ref}(y)}$ (up to a constant). Put it
# into the Bradley-Terry loss and the reward model disappears:
#
# $$\mathcal{L}_\text{DPO} = -\log\sigma\Big(\beta\Big[\log\frac{\pi(y_w)}{\pi_\text{ref}(y_w)} - \log\frac{\pi(y_l)}{\pi_\text{ref}(y_l)}\Big]\Big).$$
#
# Hand values, with $\beta = 0.5$: the policy gives the chosen response log-probability
# $-1$ and the rejected one $-3$, the reference gives both $-2$. The margin is
# $0.5\,[(-1+2) - (-3+2)] = 1$ and the loss $\log(1 + e^{-1}) \approx 0.313262$. With
# the policy equal to the reference every margin is 0 and the loss is $\log 2$; with
# the chosen and rejected swapped, the margin is $-1$ and the loss $\log(1 + e)$.


# %%
def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta: float):
    """Mean DPO loss and the implicit reward margins, from sequence log-probabilities."""
    margin = beta * ((policy_chosen - reference_chosen) - (policy_rejected - reference_rejected))
    return -F.logsigmoid(margin).mean(), margin


t = lambda *values: torch.tensor(values, dtype=torch.float64)  # noqa: E731
loss, margin = dpo_loss(t(-1.0), t(-3.0), t(-2.0), t(-2.0), beta=0.5)
assert math.isclose(margin.item(), 1.0, rel_tol=1e-12) and math.isclose(loss.item(), 0.31326168751822286, rel_tol=1e-12)
assert math.isclose(dpo_loss(t(-3.0), t(-1.0), t(-2.0), t(-2.0), 0.5)[0].item(), math.log1p(math.e), rel_tol=1e-12)
assert math.isclose(dpo_loss(t(-4.0, -7.0), t(-5.0, -1.0), t(-4.0, -7.0), t(-5.0, -1.0), 0.1)[0].item(), math.log(2), rel_tol=1e-12)
batch_loss, _ = dpo_loss(t(-1.0, -3.0), t(-3.0, -1.0), t(-2.0, -2.0), t(-2.0, -2.0), 0.5)
assert math.isclose(batch_loss.item(), (math.log1p(math.exp(-1)) + math.log1p(math.e)) / 2, rel_tol=1e-12)
print(f"hand example: margin {margin.item():.1f}, loss {loss.item():.6f}; swapped, equal and batched cases agree too")

# %% [markdown]
# The training loop: the reference's log-probabilities of every pair are computed
# once; the policy starts as a copy of the reference. We measure on the evaluation
# prompts, with fresh samples: the mean true reward, and the KL divergence to the
# reference, estimated as the mean of $\log\pi(y) - \log\pi_\text{ref}(y)$ over the
# policy's own samples (in nats per response). The ± is the standard error of the mean
# over the 256 prompts. Three seeds vary the batches.

# %%
BETA, DPO_STEPS = 0.5, 40
with torch.no_grad():
    reference_chosen = response_logprobs(reference, chosen).sum(1)
    reference_rejected = response_logprobs(reference, rejected).sum(1)


@torch.no_grad()
def measure(policy: GPT, seed: int) -> tuple[float, float, float]:
    """Mean true reward, its standard error, and estimated KL(policy || reference), on fresh samples for the evaluation prompts."""
    samples = sample(policy, eval_prompts, seed)
    kl = (response_logprobs(policy, samples) - response_logprobs(reference, samples)).sum(1)
    rewards = true_reward(samples[:, PROMPT:])
    return rewards.mean().item(), rewards.std().item() / math.sqrt(len(rewards)), kl.mean().item()


def train_dpo(seed: int) -> tuple[GPT, list[float]]:
    torch.manual_seed(seed)
    policy = copy.deepcopy(reference).requires_grad_(True)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=3e-4, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(DPO_STEPS):
        batch = torch.randint(len(chosen), (16,), generator=generator)
        loss, _ = dpo_loss(response_logprobs(policy, chosen[batch]).sum(1), response_logprobs(policy, rejected[batch]).sum(1),
                           reference_chosen[batch], reference_rejected[batch], BETA)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return policy.eval().requires_grad_(False), losses


baseline_reward, baseline_error, baseline_kl = measure(reference, seed=100)
dpo_runs = []
for seed in (0, 1, 2):
    policy, losses = train_dpo(seed)
    reward, error, kl = measure(policy, seed=100)
    with torch.no_grad():
        held_margin = BETA * ((response_logprobs(policy, held_chosen) - response_logprobs(reference, held_chosen)).sum(1)
                              - (response_logprobs(policy, held_rejected) - response_logprobs(reference, held_rejected)).sum(1))
    dpo_runs.append({"policy": policy, "losses": losses, "reward": reward, "error": error, "kl": kl, "held_accuracy": (held_margin > 0).float().mean().item()})
print(f"reference policy:  true reward {baseline_reward:+.2f} ± {baseline_error:.2f}, KL {baseline_kl:.2f} nats (0 by definition)")
for seed, run in enumerate(dpo_runs):
    print(f"DPO, seed {seed}:      true reward {run['reward']:+.2f} ± {run['error']:.2f}, KL {run['kl']:.2f} nats;"
          f" implicit reward ranks {run['held_accuracy']:.0%} of held-out pairs right; loss {run['losses'][0]:.3f} -> {statistics.fmean(run['losses'][-5:]):.3f}")
assert abs(baseline_kl) < 1e-9, "the reference's KL to itself is 0"
gains = [(run["reward"] - baseline_reward) / math.hypot(run["error"], baseline_error) for run in dpo_runs]
assert min(gains) > 3, "on every seed DPO's samples earn more true reward, by more than 3 standard errors"
assert all(run["kl"] > 0 for run in dpo_runs), "and the policy has moved away from the reference to get it"
assert all(run["held_accuracy"] > 0.6 for run in dpo_runs)

# %% [markdown]
# On all three seeds DPO raises the true reward of fresh samples from about +0.1 to
# about +0.7 to +0.8, several standard errors above the reference, while moving only
# about 0.5 to 0.75 nats of KL away from it. The implicit reward
# $\beta \log \frac{\pi}{\pi_\text{ref}}$ ranks roughly three quarters of the held-out
# pairs the way the raters did: a little below the explicit reward model's 85%, which
# was trained for exactly that, and far above chance. The training loss starts at
# $\ln 2 \approx 0.693$ on every seed, as it must when the policy equals the
# reference, which is a free check of any DPO implementation.
#
# ## 4. PPO: reinforcement learning against the reward model
#
# Classic RLHF samples responses from the current policy, scores them with the reward
# model, and pushes up the log-probability of responses that scored better than
# expected. With $r_\text{RM}$ the reward model and $\beta$ the KL coefficient, each
# sampled response gets
#
# $$R(y) = r_\text{RM}(y) - \beta \sum_t \big[\log\pi_\text{old}(y_t\mid y_{<t}) - \log\pi_\text{ref}(y_t\mid y_{<t})\big],$$
#
# the second term a one-sample estimate of $\beta\,\mathrm{KL}(\pi\,\|\,\pi_\text{ref})$.
# The **advantage** $A = R - b$ subtracts a baseline $b$ (here the batch mean, as GRPO
# and RLOO do; full PPO learns a value network instead). PPO then takes several
# gradient steps on the same samples, and the **clipped surrogate objective** keeps
# the new policy from moving too far from the one that sampled them:
#
# $$J = \mathbb{E}_t\Big[\min\big(\rho_t A,\; \mathrm{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\,A\big)\Big], \qquad \rho_t = \frac{\pi(y_t\mid y_{<t})}{\pi_\text{old}(y_t\mid y_{<t})}.$$
#
# ### The clip, by hand
#
# Take $\epsilon = 0.2$. With a positive advantage, raising $\rho$ beyond $1.2$ earns
# nothing more, so there is **no gradient** pushing further; with a negative
# advantage the same holds below $0.8$. On the other side of 1 the objective stays
# unclipped: the min picks the pessimistic value, so a step that made things worse is
# always corrected. Value and gradient with respect to $\log\rho$ at four points:


# %%
def ppo_clip_objective(log_ratio: torch.Tensor, advantage: torch.Tensor, epsilon: float = 0.2) -> torch.Tensor:
    """Per-token clipped surrogate min(rho A, clip(rho, 1 - eps, 1 + eps) A), to be maximised."""
    ratio = torch.exp(log_ratio)
    return torch.min(ratio * advantage, torch.clamp(ratio, 1 - epsilon, 1 + epsilon) * advantage)


cases = [  # (ratio, advantage, objective, d objective / d log ratio)
    (1.5, +1.0, 1.2, 0.0),  # good action already boosted past 1 + eps: clipped, no incentive
    (0.5, +1.0, 0.5, 0.5),  # good action made less likely: unclipped, pushed back up
    (0.5, -1.0, -0.8, 0.0),  # bad action already suppressed below 1 - eps: clipped
    (1.5, -1.0, -1.5, -1.5),  # bad action made more likely: unclipped, pushed down
]
for ratio, advantage, value_by_hand, gradient_by_hand in cases:
    log_ratio = torch.tensor(math.log(ratio), dtype=torch.float64, requires_grad=True)
    value = ppo_clip_objective(log_ratio, torch.tensor(advantage, dtype=torch.float64))
    value.backward()
    assert math.isclose(value.item(), value_by_hand, abs_tol=1e-12)
    assert math.isclose(log_ratio.grad.item(), gradient_by_hand, abs_tol=1e-12)
print("clipped objective: value and gradient match the hand table at all four points")

ratios = torch.linspace(0.3, 1.8, 301, dtype=torch.float64)
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for advantage, color in [(1.0, "tab:green"), (-1.0, "tab:red")]:
    ax.plot(ratios, ratios * advantage, ":", color=color, label=rf"unclipped $\rho A$, A={advantage:+.0f}")
    ax.plot(ratios, ppo_clip_objective(ratios.log(), torch.tensor(advantage)), color=color, label=f"clipped, A={advantage:+.0f}")
for edge in (0.8, 1.2):
    ax.axvline(edge, color="gray", lw=0.8)
ax.set(xlabel=r"probability ratio $\rho = \pi / \pi_{old}$", ylabel="surrogate objective", title="PPO's clip: flat where moving further would be greedy")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### A short PPO run
#
# Each iteration samples one response for each of 64 training prompts from the
# current policy, scores them with the reward model (PPO never sees the true reward),
# and takes 2 gradient steps on the clipped objective. We record the reward model's
# score, the true reward and the KL to the reference of each batch.


# %%
def train_ppo(kl_coefficient: float, iterations: int = 15, seed: int = 5) -> dict[str, list[float]]:
    torch.manual_seed(seed)
    policy = copy.deepcopy(reference).requires_grad_(True)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=3e-4, weight_decay=0.0)
    history: dict[str, list[float]] = {"rm": [], "true": [], "kl": []}
    for iteration in range(iterations):
        prompts = train_prompts[64 * iteration % len(train_prompts) :][:64]
        responses = sample(policy.eval(), prompts, seed=1000 * seed + iteration)
        policy.train()
        with torch.no_grad():
            old = response_logprobs(policy, responses)
            kl = (old - response_logprobs(reference, responses)).sum(1)
            score = reward_model(responses)
            total = score - kl_coefficient * kl
            advantage = (total - total.mean())[:, None]  # one advantage for every token of a response
        history["rm"].append(score.mean().item())
        history["true"].append(true_reward(responses[:, PROMPT:]).mean().item())
        history["kl"].append(kl.mean().item())
        for _ in range(2):
            loss = -ppo_clip_objective(response_logprobs(policy, responses) - old, advantage).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    history["policy"] = policy.eval().requires_grad_(False)
    return history


ppo = train_ppo(kl_coefficient=0.1)
ppo_reward, ppo_error, ppo_kl = measure(ppo["policy"], seed=100)
first, last = (lambda v: statistics.fmean(v[:3])), (lambda v: statistics.fmean(v[-3:]))
print(f"PPO: reward model score {first(ppo['rm']):+.2f} -> {last(ppo['rm']):+.2f}, true reward {first(ppo['true']):+.2f} -> {last(ppo['true']):+.2f}"
      f" (first and last 3 iterations); on the evaluation prompts {ppo_reward:+.2f} against the reference's {baseline_reward:+.2f}, KL {ppo_kl:.2f} nats")
assert ppo_reward - baseline_reward > 3 * math.hypot(ppo_error, baseline_error), "PPO against the reward model raises the true reward on held-out prompts"

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
axes[0].plot(ppo["rm"], "o-", label="reward model score")
axes[0].plot(ppo["true"], "s-", label="true reward")
axes[0].set(xlabel="PPO iteration", ylabel="mean over the batch", title="Reward rises")
axes[0].legend()
axes[1].plot(ppo["kl"], "o-", color="tab:purple")
axes[1].set(xlabel="PPO iteration", ylabel="KL to the reference (nats per response)", title="...and the policy moves away from the reference")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Where the reward model stops being right
#
# The reward model was trained on samples of the reference policy. How does it do on
# responses no policy near the reference would write? We score three kinds of
# response for the evaluation prompts: the reference's samples, the DPO policy's, and
# strings of 8 random tokens, and compare the reward model with the true reward.

# %%
random_responses = torch.randint(0, tokenizer.vocab_size - len(tokenizer.special_tokens), (len(eval_prompts), RESPONSE),
                                 generator=torch.Generator().manual_seed(7))
kinds = {
    "reference samples": reference_samples,
    "DPO samples": sample(dpo_runs[0]["policy"], eval_prompts, seed=100),
    "random tokens": torch.cat([eval_prompts, random_responses], dim=1),
}
agreement_by_kind = {}
with torch.no_grad():
    for name, sequences in kinds.items():
        truth, score = true_reward(sequences[:, PROMPT:]), reward_model(sequences)
        differ = truth[:, None] != truth[None, :]
        agree = ((truth[:, None] > truth[None, :]) == (score[:, None] > score[None, :])) & differ
        agreement_by_kind[name] = (agree.sum() / differ.sum()).item()
        print(f"{name:18s}: the reward model orders {agreement_by_kind[name]:.0%} of the pairs with different true rewards correctly")
assert agreement_by_kind["random tokens"] < agreement_by_kind["reference samples"]

# %% [markdown]
# The reward model is most reliable on the kind of text it was trained on and on the
# DPO policy's samples, which stay close to the reference (a KL under one nat), and
# clearly worse on random tokens, text no rater
# ever compared. This is the mechanism behind reward hacking: a policy optimised hard
# against a learnt reward drifts towards text where the reward model is wrong, so RLHF
# keeps the KL penalty to the reference and real pipelines retrain the reward model on
# the policy's new samples. (The PPO run above is a single seed, shown to make the
# objective concrete; its gain is measured against the evaluation prompts' standard
# error, not over seeds as DPO's is.)
#
# ## Beyond this notebook
#
# - **Safety training and red teaming.** The same machinery aligns models against
#   harm: preference pairs where the refusal of a harmful request is chosen, reward
#   models for helpfulness and for harmlessness (Llama 2 trained one of each). Red
#   teaming then searches, by hand and with attacker models, for prompts that get the
#   aligned model to do what its training refuses: role play, another language or an
#   encoding such as base64, many faked examples in a long context, or optimised
#   adversarial suffixes (GCG). They work for the reason section 5 shows in miniature:
#   training shapes behaviour where its data was, and the model's abilities reach
#   further. Results are reported as an attack success rate on a fixed set of
#   behaviours (HarmBench) beside the refusal rate on harmless requests, and input and
#   output classifiers (Llama Guard, constitutional classifiers) are layered around
#   the model. The practice of this topic does this with a small open chat model.
# - **Constitutional AI and RLAIF** (Bai et al. 2022) replace many human labels with a
#   model that judges responses against written principles; the labels then feed the
#   same reward-model or DPO machinery as above.
# - **With more compute** a learner would start from a model that had supervised
#   fine-tuning on demonstrations (the usual reference), use real preference data
#   (for example Anthropic's HH-RLHF) and Hugging Face TRL's `DPOTrainer` and
#   `PPOTrainer`, train for thousands of steps, and measure win rates against the
#   reference with human or model judges instead of a reward we can compute.
#
# ## What to try next
#
# 1. **The Bradley-Terry loss, stable.** Write `my_bradley_terry(chosen, rejected)`: the
#    mean of $-\log\sigma(r_w - r_l)$ that stays finite at margins of $\pm 1000$.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_bradley_terry(chosen, rejected):
#     margin = chosen - rejected
#     return (torch.clamp(-margin, min=0) + torch.log1p(torch.exp(-margin.abs()))).mean()
# ```
#
# (`-F.logsigmoid(chosen - rejected).mean()` is the library's version of the same.)
# </details>
#
# 2. **The DPO loss.** Write `my_dpo(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)`
#    returning the mean loss, from sequence log-probabilities.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_dpo(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
#     margin = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
#     return -F.logsigmoid(margin).mean()
# ```
# </details>
#
# 3. **The optimum DPO aims at.** Write `my_optimal_policy(ref_probs, rewards, beta)`:
#    the distribution $\pi^*(y) \propto \pi_\text{ref}(y)\,e^{r(y)/\beta}$ over a finite set of responses.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_optimal_policy(ref_probs, rewards, beta):
#     return torch.softmax(ref_probs.log() + rewards / beta, dim=-1)
# ```
#
# Small $\beta$ puts all the mass on the best response; large $\beta$ leaves the
# reference unchanged.
# </details>
#
# 4. Without a check: run `train_ppo(kl_coefficient=0.0)` for 40 iterations and read
#    its samples. The true reward counts quote characters, so a policy free of the KL
#    leash can learn to emit runs of `"` that no formatter would write: reward hacking,
#    against a reward we wrote ourselves.
#
# Each check compares your function with the definition on test inputs; the asserts
# show that it accepts the solution and rejects a plausible mistake.


# %%
def report(ok: bool, message: str) -> bool:
    print(("correct: " if ok else "not yet: ") + message)
    return ok


def check_bradley_terry(candidate) -> bool:
    chosen_scores = torch.tensor([0.0, 3.0, -1000.0, 1000.0, math.log(3)], dtype=torch.float64)
    rejected_scores = torch.zeros(5, dtype=torch.float64)
    expected = -F.logsigmoid(chosen_scores - rejected_scores).mean()
    try:
        got = candidate(chosen_scores, rejected_scores)
        ok = got is not None and bool(torch.isfinite(got)) and math.isclose(float(got), float(expected), rel_tol=1e-9)
    except Exception as error:  # a learner's unfinished function may fail in any way
        return report(False, f"{type(error).__name__}: {error}")
    return report(ok, "stable Bradley-Terry loss" if ok else f"got {got}, expected {float(expected):.6f}")


def my_bradley_terry(chosen, rejected):
    ...  # your code here


assert check_bradley_terry(bradley_terry_loss)
assert not check_bradley_terry(lambda c, r: torch.log1p(torch.exp(-(c - r))).mean())  # overflows at -1000
check_bradley_terry(my_bradley_terry)


# %%
def check_dpo(candidate) -> bool:
    cases = [((-1.0, -3.0, -2.0, -2.0, 0.5), 0.31326168751822286), ((-3.0, -1.0, -2.0, -2.0, 0.5), math.log1p(math.e)),
             ((-4.0, -5.0, -4.0, -5.0, 0.1), math.log(2)), ((-2.0, -6.0, -1.0, -4.0, 1.0), math.log1p(math.exp(-1.0)))]
    try:
        got = [float(candidate(*(torch.tensor(v, dtype=torch.float64) for v in args[:4]), args[4])) for args, _ in cases]
    except Exception as error:
        return report(False, f"{type(error).__name__}: {error}")
    ok = all(math.isclose(g, e, rel_tol=1e-9) for g, (_, e) in zip(got, cases, strict=True))
    return report(ok, "DPO loss on the hand cases" if ok else f"got {got}, expected {[e for _, e in cases]}")


def my_dpo(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    ...  # your code here


assert check_dpo(lambda pc, pr, rc, rr, beta: dpo_loss(pc, pr, rc, rr, beta)[0])
assert not check_dpo(lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * (pc - pr)).mean())  # forgot the reference
check_dpo(my_dpo)


# %%
def check_optimal_policy(candidate) -> bool:
    ref_probs = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    rewards = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    cases = {}
    for beta in (0.5, 1.0, 10.0):
        weights = ref_probs * torch.exp(rewards / beta)
        cases[beta] = weights / weights.sum()
    try:
        got = {beta: candidate(ref_probs, rewards, beta) for beta in cases}
        ok = all(g is not None and torch.allclose(torch.as_tensor(g, dtype=torch.float64), e, rtol=0, atol=1e-12) for g, e in zip(got.values(), cases.values(), strict=True))
    except Exception as error:
        return report(False, f"{type(error).__name__}: {error}")
    return report(ok, "pi* is proportional to pi_ref exp(r / beta)" if ok else f"got {got}")


def my_optimal_policy(ref_probs, rewards, beta):
    ...  # your code here


assert check_optimal_policy(lambda p, r, beta: torch.softmax(p.log() + r / beta, dim=-1))
assert not check_optimal_policy(lambda p, r, beta: torch.softmax(p.log() + r * beta, dim=-1))  # beta the wrong way up
check_optimal_policy(my_optimal_policy)
print(f"this notebook used {time.process_time() - started:.0f} s of CPU")
