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
# # RLHF and alignment: reward models, DPO and PPO
#
# A pre-trained language model imitates its training text; a fine-tuned one imitates
# demonstrations. Neither knows which of two plausible answers people *prefer*. Alignment
# methods learn from preferences: "of these two responses, this one is better".
#
# - **RLHF** (Christiano et al. 2017, Ouyang et al. 2022) first fits a **reward model** to
#   the preferences, then improves the policy (the language model) with reinforcement
#   learning, usually **PPO**, while a **KL penalty** keeps it close to the starting model.
# - **DPO** (Rafailov et al. 2023) skips the reward model and the RL loop: a classification
#   loss on preference pairs that provably optimises the same KL-regularised objective.
#
# **What you will build**
#
# 1. A toy world where we know the *true* reward, so every method can be graded.
# 2. A reward model trained with the Bradley-Terry loss, written from scratch and checked
#    against PyTorch, with held-out accuracy.
# 3. A tiny autoregressive policy, supervised fine-tuned on demonstrations: the reference.
# 4. DPO from its formula, checked on a hand-computed example, trained on preference pairs,
#    including the surprise that the chosen responses can become *less* likely, and a fix.
# 5. PPO with the clipped surrogate objective (checked by hand) and a KL penalty, optimising
#    the learned reward while the KL to the reference stays bounded.

# %%
import copy
import math

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)  # tiny tensors: a second thread costs more in synchronisation than it saves
torch.manual_seed(0)
data_rng = torch.Generator().manual_seed(0)

# %% [markdown]
# ## A toy world with a known reward
#
# A "response" is six words from a vocabulary of eight. Each word has a hidden value (helpful
# words are positive, rude ones negative) and saying the same word twice in a row costs 0.8.
# In real RLHF this function lives in the heads of human raters and nobody can write it
# down; here we can, so we can check whether each method finds what people want.

# %%
WORDS = ["sure", "here", "answer", "thanks", "hmm", "sorry", "ugh", "whatever"]
WORD_VALUES = torch.tensor([0.5, 0.5, 1.0, 0.7, -0.2, 0.0, -1.0, -1.5])
VOCAB, LENGTH = len(WORDS), 6
REPEAT_PENALTY = 0.8


def true_reward(responses: torch.Tensor) -> torch.Tensor:
    """The hidden preference of our 'raters': word values minus a penalty per immediate repeat."""
    repeats = (responses[:, 1:] == responses[:, :-1]).sum(dim=1)
    return WORD_VALUES[responses].sum(dim=1) - REPEAT_PENALTY * repeats


def show(responses: torch.Tensor) -> list[str]:
    """Responses as readable strings of words."""
    return [" ".join(WORDS[i] for i in row) for row in responses.tolist()]


best = torch.tensor([[2, 3, 2, 3, 2, 3]])
print(f"best possible: {show(best)[0]!r} -> {true_reward(best).item():.1f}")
assert math.isclose(true_reward(best).item(), 5.1, abs_tol=1e-6)
assert math.isclose(true_reward(torch.tensor([[6, 6, 0, 1, 2, 3]])).item(), -2.0 + 2.7 - 0.8, abs_tol=1e-6)

# %% [markdown]
# ## 1. A reward model from preferences
#
# ### The Bradley-Terry model
#
# Raters compare two responses. The Bradley-Terry model says that a response with reward $r_a$
# is preferred over one with reward $r_b$ with probability
#
# $$P(a \succ b) = \sigma(r_a - r_b) = \frac{1}{1 + e^{-(r_a - r_b)}} .$$
#
# A reward model $r_\phi$ is fitted by maximum likelihood on pairs (chosen $y_w$, rejected
# $y_l$), i.e. by minimising
#
# $$\mathcal{L}_\text{BT} = -\log \sigma\big(r_\phi(y_w) - r_\phi(y_l)\big) = \log\big(1 + e^{-(r_\phi(y_w) - r_\phi(y_l))}\big).$$
#
# Written naively, $\log(1+e^{-d})$ overflows for very negative $d$; the stable form is
# $\max(-d, 0) + \log(1 + e^{-|d|})$. We check it against `F.logsigmoid`, including extreme
# margins, and against two values computed by hand: $d = 0$ gives $\log 2$ (the model cannot
# tell the responses apart) and $d = \log 3$ gives $\log(4/3)$ (it prefers the chosen one
# with probability 3/4).


# %%
def bradley_terry_loss(reward_chosen: torch.Tensor, reward_rejected: torch.Tensor) -> torch.Tensor:
    """Mean of -log sigmoid(r_chosen - r_rejected), in a form that never overflows."""
    margin = reward_chosen - reward_rejected
    return (torch.clamp(-margin, min=0) + torch.log1p(torch.exp(-margin.abs()))).mean()


margins = torch.tensor([-50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 50.0], dtype=torch.float64)
for d in margins:
    torch.testing.assert_close(bradley_terry_loss(d, torch.zeros(())), -F.logsigmoid(d))
torch.testing.assert_close(
    bradley_terry_loss(margins, torch.zeros_like(margins)), -F.logsigmoid(margins).mean()
)
assert math.isclose(
    bradley_terry_loss(torch.tensor(0.0), torch.tensor(0.0)).item(), math.log(2), rel_tol=1e-6
)
assert math.isclose(
    bradley_terry_loss(torch.tensor(math.log(3)), torch.tensor(0.0)).item(), math.log(4 / 3), rel_tol=1e-6
)
print("Bradley-Terry loss == -logsigmoid(r_chosen - r_rejected), stable at margins of +-50")

# %% [markdown]
# ### Synthetic preference data
#
# We draw random pairs of responses and let our "raters" choose with exactly the
# Bradley-Terry probability of the hidden reward. Raters are noisy: two responses whose
# rewards are close are nearly a coin flip. The held-out test pairs are labelled by the true
# reward without noise, so test accuracy measures how well the model ranks responses.


# %%
def random_responses(count: int) -> torch.Tensor:
    return torch.randint(VOCAB, (count, LENGTH), generator=data_rng)


def label_pairs(first: torch.Tensor, second: torch.Tensor, noisy: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (chosen, rejected). Noisy raters follow Bradley-Terry; exact ones the true reward."""
    reward_first, reward_second = true_reward(first), true_reward(second)
    keep = reward_first != reward_second
    first, second = first[keep], second[keep]
    margin = (reward_first - reward_second)[keep]
    if noisy:
        first_wins = torch.rand(len(margin), generator=data_rng) < torch.sigmoid(margin)
    else:
        first_wins = margin > 0
    first_wins = first_wins.unsqueeze(1)
    return torch.where(first_wins, first, second), torch.where(first_wins, second, first)


train_chosen, train_rejected = label_pairs(random_responses(6000), random_responses(6000), noisy=True)
test_chosen, test_rejected = label_pairs(random_responses(1000), random_responses(1000), noisy=False)
agreement = (true_reward(train_chosen) > true_reward(train_rejected)).float().mean().item()
print(f"{len(train_chosen)} training pairs; raters agree with the true reward on {agreement:.0%} of them")

# %% [markdown]
# The reward model embeds the words, looks at each pair of neighbouring words with a width-2
# convolution (so it *can* notice repeats), and sums a score over positions. In a real system
# the reward model is the language model itself with its next-token head replaced by a
# scalar head.


# %%
class RewardModel(nn.Module):
    """Scores a response: embeddings -> width-2 convolution -> ReLU -> per-position score -> sum."""

    def __init__(self, embed: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.pad = VOCAB  # an extra id marking both ends, so every word sits in two windows
        self.embedding = nn.Embedding(VOCAB + 1, embed)
        self.bigram = nn.Conv1d(embed, hidden, kernel_size=2)
        self.score = nn.Linear(hidden, 1)

    def forward(self, responses: torch.Tensor) -> torch.Tensor:
        pad = torch.full((responses.shape[0], 1), self.pad)
        x = self.embedding(torch.cat([pad, responses, pad], dim=1)).transpose(1, 2)
        features = torch.relu(self.bigram(x)).transpose(1, 2)
        return self.score(features).squeeze(-1).sum(dim=1)


torch.manual_seed(1)
reward_model = RewardModel()
optimizer = torch.optim.AdamW(reward_model.parameters(), lr=1e-2, weight_decay=0.01)
for _step in range(300):
    index = torch.randint(len(train_chosen), (256,), generator=data_rng)
    loss = bradley_terry_loss(reward_model(train_chosen[index]), reward_model(train_rejected[index]))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
reward_model.requires_grad_(False)

with torch.no_grad():
    test_accuracy = (reward_model(test_chosen) > reward_model(test_rejected)).float().mean().item()
    probe = random_responses(2000)
    learned, actual = reward_model(probe), true_reward(probe)
correlation = torch.corrcoef(torch.stack([learned, actual]))[0, 1].item()
print(f"held-out preference accuracy {test_accuracy:.1%}, correlation with the true reward {correlation:.3f}")
assert test_accuracy > 0.85, "the reward model ranks unseen pairs like the true reward"
assert correlation > 0.9

# %% [markdown]
# The Bradley-Terry loss only sees *differences* of rewards, so a reward model is defined up
# to an additive constant: adding 10 to every score changes no prediction. (Its *scale* is
# pinned down here because raters are noisy in exactly the Bradley-Terry way; with
# noise-free labels the loss would push the scale up forever.) In the plot we therefore
# centre both rewards. Points near the diagonal mean the reward model has recovered the
# hidden preference, scale included.

# %%
fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(actual - actual.mean(), learned - learned.mean(), s=6, alpha=0.4)
limits = [actual.min() - actual.mean() - 0.5, actual.max() - actual.mean() + 0.5]
ax.plot(limits, limits, "k--", linewidth=1, label="learned = true")
ax.set_xlabel("true reward (centred)")
ax.set_ylabel("reward model score (centred)")
ax.set_title(f"Reward model vs hidden reward (r = {correlation:.3f})")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. The policy and its reference
#
# The policy is a tiny autoregressive language model over the eight words: a GRU reads the
# words so far and predicts the next one. The probability of a response is the product of
# its word probabilities, so
#
# $$\log \pi(y) = \sum_{t=1}^{6} \log \pi(y_t \mid y_{<t}).$$
#
# Before alignment comes **supervised fine-tuning (SFT)** on demonstrations. Ours come from
# lazy demonstrators who overuse "hmm" and "sorry": the SFT model is fluent in the format
# but mediocre. It becomes the **reference policy** $\pi_\text{ref}$ that DPO and PPO start
# from and are kept close to.

# %%
BOS = VOCAB  # start-of-response token


class Policy(nn.Module):
    def __init__(self, embed: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB + 1, embed)
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, VOCAB)

    def forward(self, responses: torch.Tensor) -> torch.Tensor:
        """Next-word logits at every position, given the words before it (teacher forcing)."""
        start = torch.full((responses.shape[0], 1), BOS)
        hidden, _ = self.gru(self.embedding(torch.cat([start, responses[:, :-1]], dim=1)))
        return self.head(hidden)


def token_logprobs(policy: Policy, responses: torch.Tensor) -> torch.Tensor:
    """log pi(y_t | y_<t) for every word of every response, shape (batch, LENGTH)."""
    logits = policy(responses)
    return F.log_softmax(logits, dim=-1).gather(-1, responses.unsqueeze(-1)).squeeze(-1)


def sequence_logprob(policy: Policy, responses: torch.Tensor) -> torch.Tensor:
    return token_logprobs(policy, responses).sum(dim=1)


@torch.no_grad()
def sample(policy: Policy, count: int, generator: torch.Generator) -> torch.Tensor:
    """Draw count responses word by word, carrying the GRU state."""
    word, state, words = torch.full((count,), BOS), None, []
    for _ in range(LENGTH):
        output, state = policy.gru(policy.embedding(word).unsqueeze(1), state)
        probabilities = F.softmax(policy.head(output[:, 0]), dim=-1)
        word = torch.multinomial(probabilities, 1, generator=generator).squeeze(1)
        words.append(word)
    return torch.stack(words, dim=1)


DEMO_WORD_PROBS = torch.tensor([0.15, 0.10, 0.05, 0.05, 0.25, 0.20, 0.10, 0.10])
demonstrations = torch.multinomial(DEMO_WORD_PROBS, 4000 * LENGTH, replacement=True, generator=data_rng)
demonstrations = demonstrations.view(4000, LENGTH)

torch.manual_seed(2)
reference = Policy()
optimizer = torch.optim.Adam(reference.parameters(), lr=1e-2)
for _step in range(200):
    batch = demonstrations[torch.randint(len(demonstrations), (256,), generator=data_rng)]
    loss = -sequence_logprob(reference, batch).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
reference.requires_grad_(False)

eval_rng = torch.Generator().manual_seed(3)
reference_samples = sample(reference, 4000, eval_rng)
word_frequencies = torch.bincount(reference_samples.flatten(), minlength=VOCAB) / reference_samples.numel()
reference_reward = true_reward(reference_samples).mean().item()
print(f"SFT reference: mean true reward {reference_reward:.2f} (best possible 5.1)")
for text, reward in zip(show(reference_samples[:3]), true_reward(reference_samples[:3]), strict=True):
    print(f"   {reward:+.1f}  {text}")
assert (word_frequencies - DEMO_WORD_PROBS).abs().max() < 0.03, "SFT imitates the demonstrations"

# %% [markdown]
# ## 3. Direct Preference Optimization
#
# RLHF maximises reward while staying close to the reference:
#
# $$\max_\pi\; \mathbb{E}_{y\sim\pi}\,[r(y)] - \beta\,\mathrm{KL}(\pi \,\|\, \pi_\text{ref}).$$
#
# Its optimum has a closed form, $\pi^*(y) \propto \pi_\text{ref}(y)\, e^{r(y)/\beta}$, which
# can be read backwards: every policy defines an **implicit reward**
# $\hat r(y) = \beta \log \frac{\pi(y)}{\pi_\text{ref}(y)}$ (up to a constant). Put that into
# the Bradley-Terry loss and the reward model disappears:
#
# $$\mathcal{L}_\text{DPO} = -\log\sigma\Big(\beta\Big[\log\frac{\pi(y_w)}{\pi_\text{ref}(y_w)} - \log\frac{\pi(y_l)}{\pi_\text{ref}(y_l)}\Big]\Big).$$
#
# The bracket times $\beta$ is the **implicit reward margin**. A hand example with
# $\beta = 0.5$: the policy gives the chosen response log-probability $-1$ and the rejected
# one $-3$; the reference gives both $-2$. The margin is $0.5\,[(-1+2) - (-3+2)] = 1$ and the
# loss $\log(1 + e^{-1}) \approx 0.3133$.


# %%
def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DPO loss (mean) and implicit reward margins, from sequence log-probabilities."""
    margin = beta * ((policy_chosen - reference_chosen) - (policy_rejected - reference_rejected))
    return -F.logsigmoid(margin).mean(), margin


loss, margin = dpo_loss(
    torch.tensor(-1.0), torch.tensor(-3.0), torch.tensor(-2.0), torch.tensor(-2.0), beta=0.5
)
assert math.isclose(margin.item(), 1.0, rel_tol=1e-6)
assert math.isclose(loss.item(), math.log1p(math.exp(-1.0)), rel_tol=1e-6)
print(f"hand example: margin {margin.item():.1f}, loss {loss.item():.4f}")

# %% [markdown]
# **Preference pairs.** As in practice, the pairs come from the reference policy itself: for
# each "prompt" we sample four responses and the rater marks the best as chosen and the
# worst as rejected. A held-out set of pairs tracks progress.


# %%
def best_and_worst_of(count: int, candidates: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    responses = sample(reference, count * candidates, eval_rng).view(count, candidates, LENGTH)
    rewards = true_reward(responses.view(-1, LENGTH)).view(count, candidates)
    rows = torch.arange(count)
    return responses[rows, rewards.argmax(dim=1)], responses[rows, rewards.argmin(dim=1)]


pairs_chosen, pairs_rejected = best_and_worst_of(2000)
held_chosen, held_rejected = best_and_worst_of(500)
ref_chosen, ref_rejected = (
    sequence_logprob(reference, pairs_chosen),
    sequence_logprob(reference, pairs_rejected),
)
held_ref_chosen = sequence_logprob(reference, held_chosen)
held_ref_rejected = sequence_logprob(reference, held_rejected)

loss_at_start, _ = dpo_loss(ref_chosen, ref_rejected, ref_chosen, ref_rejected, beta=0.5)
assert math.isclose(loss_at_start.item(), math.log(2), rel_tol=1e-6)
print(f"at the start policy == reference, so every margin is 0 and the loss is log 2 = {loss_at_start:.4f}")

# %% [markdown]
# The training loop. Besides the loss we record, on held-out pairs, the implicit reward
# margin, how much more (or less) likely the chosen and rejected responses have become than
# under the reference, and the true reward of fresh samples from the policy.
#
# We train twice: plain DPO, and DPO plus a small **negative log-likelihood term on the
# chosen responses** ($\lambda = 1$, per word), a fix used in practice (RPO, Pang et al. 2024;
# Llama 3) for an effect you will see in the plot.

# %%
BETA = 0.5


def train_dpo(nll_weight: float, steps: int = 200, seed: int = 4) -> dict[str, list[float]]:
    """DPO (+ optional NLL on chosen) from the reference; returns held-out metrics every 25 steps."""
    torch.manual_seed(seed)
    batch_rng = torch.Generator().manual_seed(seed)
    sample_rng = torch.Generator().manual_seed(seed + 1)
    policy = copy.deepcopy(reference).requires_grad_(True)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    history: dict[str, list[float]] = {"step": [], "margin": [], "chosen": [], "rejected": [], "reward": []}
    for step in range(steps + 1):
        if step % 25 == 0:
            with torch.no_grad():
                chosen = sequence_logprob(policy, held_chosen) - held_ref_chosen
                rejected = sequence_logprob(policy, held_rejected) - held_ref_rejected
            history["step"].append(step)
            history["margin"].append(BETA * (chosen - rejected).mean().item())
            history["chosen"].append(chosen.mean().item())
            history["rejected"].append(rejected.mean().item())
            history["reward"].append(true_reward(sample(policy, 2000, sample_rng)).mean().item())
        if step == steps:
            break
        index = torch.randint(len(pairs_chosen), (256,), generator=batch_rng)
        policy_chosen = sequence_logprob(policy, pairs_chosen[index])
        policy_rejected = sequence_logprob(policy, pairs_rejected[index])
        loss, _ = dpo_loss(policy_chosen, policy_rejected, ref_chosen[index], ref_rejected[index], BETA)
        loss = loss - nll_weight * policy_chosen.mean() / LENGTH
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return history


dpo = train_dpo(nll_weight=0.0)
dpo_nll = train_dpo(nll_weight=1.0)
for name, run in [("DPO", dpo), ("DPO + NLL", dpo_nll)]:
    print(
        f"{name:10} margin {run['margin'][-1]:+.2f} | log pi/pi_ref chosen {run['chosen'][-1]:+.2f}, "
        f"rejected {run['rejected'][-1]:+.2f} | true reward {run['reward'][0]:+.2f} -> {run['reward'][-1]:+.2f}"
    )
    assert run["margin"][-1] > 1.0, "the implicit reward separates held-out chosen from rejected"
    assert run["reward"][-1] > run["reward"][0] + 1.0, "samples from the policy got better"
    assert run["chosen"][-1] - run["rejected"][-1] > 2.0, "chosen gain probability relative to rejected"
assert dpo_nll["chosen"][-1] > 0.1, "with the NLL term the chosen responses become more likely"
chosen_reward = true_reward(pairs_chosen).mean().item()
print(f"average true reward of the chosen responses in the data: {chosen_reward:+.2f}")
assert dpo["reward"][-1] > chosen_reward + 0.5, "plain DPO's samples beat the typical chosen response"

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for run, name, style in [(dpo, "DPO", "-"), (dpo_nll, "DPO + NLL", "--")]:
    axes[0].plot(run["step"], run["chosen"], "o" + style, color="tab:green", label=f"{name}: chosen")
    axes[0].plot(run["step"], run["rejected"], "s" + style, color="tab:red", label=f"{name}: rejected")
    axes[1].plot(run["step"], run["reward"], "o" + style, label=name)
axes[0].axhline(0, color="gray", linewidth=0.8)
axes[0].set_xlabel("DPO step")
axes[0].set_ylabel(r"mean $\log \pi(y) - \log \pi_{ref}(y)$ (held-out)")
axes[0].set_title("Likelihood of chosen and rejected responses")
axes[0].legend(fontsize=8)
axes[1].axhline(reference_reward, color="gray", linestyle=":", label="SFT reference")
axes[1].axhline(chosen_reward, color="tab:green", linestyle=":", label="average chosen response")
axes[1].set_xlabel("DPO step")
axes[1].set_ylabel("mean true reward of samples")
axes[1].set_title("What the raters actually get")
axes[1].legend()
plt.show()

# %% [markdown]
# What to notice on the left: plain DPO pushes the *rejected* responses down much faster
# than anything else, and after a brief rise the *chosen* responses become less likely too.
# DPO only constrains the **difference** of the two log-ratios; the probability mass it
# takes away does not have to go to the chosen responses, and here it flows to responses
# better than the typical chosen one (right panel: plain DPO's samples score well above the
# average chosen response). This "likelihood displacement" is real and sometimes harmful
# (the mass can also flow somewhere bad). The NLL term anchors the chosen responses: their
# likelihood rises and stays up, at the price of a smaller improvement in reward, since it
# also pulls the policy towards imitating the data set.
#
# ## 4. PPO: reinforcement learning against the reward model
#
# Classic RLHF samples responses from the current policy, scores them with the reward model,
# and pushes up the log-probability of responses that scored better than expected. With
# $r_\text{RM}$ the reward model and $\beta$ the KL coefficient, each sampled response gets
#
# $$R(y) = r_\text{RM}(y) - \beta \sum_t \big[\log\pi_\text{old}(y_t\mid y_{<t}) - \log\pi_\text{ref}(y_t\mid y_{<t})\big],$$
#
# the second term being a one-sample estimate of $\beta\,\mathrm{KL}(\pi\,\|\,\pi_\text{ref})$.
# The **advantage** $A = R - b$ subtracts a baseline $b$ (here the batch mean: GRPO and RLOO
# work this way; full PPO learns a value network instead) so only better-than-average
# responses are reinforced. PPO then takes several gradient steps on the same samples, and
# the **clipped surrogate objective** stops the new policy from moving too far from the one
# that sampled them:
#
# $$J = \mathbb{E}_t\Big[\min\big(\rho_t A,\; \mathrm{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\,A\big)\Big], \qquad \rho_t = \frac{\pi(y_t\mid y_{<t})}{\pi_\text{old}(y_t\mid y_{<t})}.$$
#
# ### The clip, by hand
#
# Take $\epsilon = 0.2$. With a positive advantage, raising $\rho$ beyond $1.2$ earns nothing
# more, so there is **no gradient** pushing further; with a negative advantage the same
# holds below $0.8$. On the other side of 1 the objective stays unclipped: the min picks
# the more pessimistic value, so a step that made things worse is always corrected. We
# check the value and the gradient with respect to $\log\rho$ at four points.


# %%
def ppo_clip_objective(
    log_ratio: torch.Tensor, advantage: torch.Tensor, epsilon: float = 0.2
) -> torch.Tensor:
    """Per-token clipped surrogate min(rho * A, clip(rho, 1 - eps, 1 + eps) * A), to be maximised."""
    ratio = torch.exp(log_ratio)
    return torch.min(ratio * advantage, torch.clamp(ratio, 1 - epsilon, 1 + epsilon) * advantage)


cases = [  # (ratio, advantage, expected objective, expected d objective / d log ratio)
    (1.5, +1.0, 1.2, 0.0),  # good action already boosted past 1 + eps: clipped, no incentive
    (0.5, +1.0, 0.5, 0.5),  # good action made less likely: unclipped, gradient pushes it back up
    (0.5, -1.0, -0.8, 0.0),  # bad action already suppressed below 1 - eps: clipped
    (1.5, -1.0, -1.5, -1.5),  # bad action made more likely: unclipped, gradient pushes it down
]
for ratio, advantage, expected_value, expected_gradient in cases:
    log_ratio = torch.tensor(math.log(ratio), dtype=torch.float64, requires_grad=True)
    value = ppo_clip_objective(log_ratio, torch.tensor(advantage, dtype=torch.float64))
    value.backward()
    assert math.isclose(value.item(), expected_value, abs_tol=1e-12)
    assert math.isclose(log_ratio.grad.item(), expected_gradient, abs_tol=1e-12)
print("clipped objective: value and gradient match the hand table at all four points")

ratios = torch.linspace(0.3, 1.8, 301, dtype=torch.float64)
fig, ax = plt.subplots(figsize=(6, 4))
for advantage, color in [(1.0, "tab:green"), (-1.0, "tab:red")]:
    ax.plot(ratios, ratios * advantage, ":", color=color, label=rf"unclipped $\rho A$, A={advantage:+.0f}")
    ax.plot(
        ratios,
        ppo_clip_objective(ratios.log(), torch.tensor(advantage)),
        color=color,
        label=f"clipped, A={advantage:+.0f}",
    )
for edge in (0.8, 1.2):
    ax.axvline(edge, color="gray", linewidth=0.8)
ax.set_xlabel(r"probability ratio $\rho = \pi / \pi_{old}$")
ax.set_ylabel("surrogate objective")
ax.set_title("PPO's clip: flat where moving further would be greedy")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### The PPO loop
#
# Each iteration samples 256 responses from the current policy, scores them, and takes 4
# gradient steps on the clipped objective. We run it twice: with the KL penalty
# ($\beta = 0.5$) and without it ($\beta = 0$), and record the reward-model score, the true
# reward (which PPO never sees) and the estimated $\mathrm{KL}(\pi\,\|\,\pi_\text{ref})$ in
# nats per response.


# %%
def train_ppo(
    kl_coefficient: float, iterations: int = 60, epochs: int = 4, seed: int = 5
) -> dict[str, list[float]]:
    """PPO with a sequence-level reward, mean baseline and per-token clipped ratios."""
    torch.manual_seed(seed)
    rollout_rng = torch.Generator().manual_seed(seed)
    policy = copy.deepcopy(reference).requires_grad_(True)
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    history: dict[str, list[float]] = {"rm_reward": [], "true_reward": [], "kl": []}
    for _ in range(iterations):
        responses = sample(policy, 256, rollout_rng)
        with torch.no_grad():
            old_logprobs = token_logprobs(policy, responses)
            kl = (old_logprobs - token_logprobs(reference, responses)).sum(dim=1)
            score = reward_model(responses)
            total = score - kl_coefficient * kl
            advantage = (total - total.mean()).unsqueeze(1)  # same advantage for every word
        history["rm_reward"].append(score.mean().item())
        history["true_reward"].append(true_reward(responses).mean().item())
        history["kl"].append(kl.mean().item())
        for _ in range(epochs):
            log_ratio = token_logprobs(policy, responses) - old_logprobs
            loss = -ppo_clip_objective(log_ratio, advantage).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    history["samples"] = show(sample(policy, 3, rollout_rng))
    return history


KL_COEFFICIENT, KL_BOUND = 0.5, 5.0
ppo = train_ppo(KL_COEFFICIENT)
ppo_no_kl = train_ppo(0.0)


def final(values: list[float], last: int = 10) -> float:
    return sum(values[-last:]) / last


for name, run in [(f"PPO, beta={KL_COEFFICIENT}", ppo), ("PPO, no KL", ppo_no_kl)]:
    print(
        f"{name:14}: RM reward {run['rm_reward'][0]:+.2f} -> {final(run['rm_reward']):+.2f}, "
        f"true reward {run['true_reward'][0]:+.2f} -> {final(run['true_reward']):+.2f}, "
        f"KL {final(run['kl']):.2f} nats"
    )
    print(f"{'':14}  e.g. {run['samples'][0]!r}")
assert final(ppo["rm_reward"]) > ppo["rm_reward"][0] + 2.0, "PPO raises the reward model's score"
assert final(ppo["true_reward"]) > ppo["true_reward"][0] + 2.0, "... and the true reward with it"
assert max(ppo["kl"]) < KL_BOUND, f"with the penalty the KL to the reference stays below {KL_BOUND} nats"
assert final(ppo_no_kl["kl"]) > 2 * final(ppo["kl"]), "without it the policy drifts much further"

# %% [markdown]
# The left panel shows the reward rising in both runs; the right panel shows what it cost.
# Without a penalty the policy collapses onto a single high-scoring response: the KL keeps
# growing until the policy is nearly deterministic. Here the reward model is good, so that
# response is genuinely good. With a real reward model, trained on finite and noisy human
# labels, unbounded optimisation finds the places where the reward model is *wrong* (reward
# hacking: length, flattery, formatting tricks), and the collapse destroys the diversity the
# reference had. The KL penalty trades some reward for staying in the region where the
# reward model was trained.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for run, name, style in [(ppo, rf"$\beta$={KL_COEFFICIENT}", "-"), (ppo_no_kl, "no KL", "--")]:
    axes[0].plot(run["rm_reward"], style, color="tab:blue", label=f"reward model, {name}")
    axes[0].plot(run["true_reward"], style, color="tab:orange", label=f"true reward, {name}")
    axes[1].plot(run["kl"], style, color="tab:purple", label=name)
axes[0].set_xlabel("PPO iteration")
axes[0].set_ylabel("mean reward of sampled responses")
axes[0].set_title("Reward rises")
axes[0].legend(fontsize=8)
axes[1].axhline(KL_BOUND, color="gray", linestyle=":", label=f"bound asserted ({KL_BOUND:.0f} nats)")
axes[1].set_xlabel("PPO iteration")
axes[1].set_ylabel(r"KL($\pi \,\|\, \pi_{ref}$), nats per response")
axes[1].set_title("The KL penalty keeps the policy near the reference")
axes[1].legend()
plt.show()

# %% [markdown]
# ## Beyond this notebook
#
# - **Constitutional AI / RLAIF** (Bai et al. 2022) replaces many human labels with a model
#   that judges responses against written principles; the preference data then feed the same
#   reward-model or DPO machinery as above.
# - **Safety evaluation** tests the aligned model on prompts built to elicit harm (red
#   teaming) and measures refusals on harmful requests *and* over-refusals on harmless ones:
#   optimising one against the other is the same trade-off as reward against KL.
# - The true reward in real life is unknown, so the "true reward" curves above become human
#   evaluations or held-out preference win rates.
#
# ## What to try next
#
# 1. Make the raters noisier (divide the margin by 3 inside `torch.sigmoid`) or give them
#    fewer pairs. How do the reward model's accuracy and PPO's *true* reward change while the
#    reward-model score keeps rising? That gap is reward over-optimisation.
# 2. Sweep DPO's $\beta$ over $0.05, 0.5, 5$ and plot the final KL to the reference (sample
#    responses and average $\log\pi - \log\pi_\text{ref}$) against the true reward.
# 3. Replace the batch-mean baseline in PPO by no baseline at all ($A = R$). What happens to
#    the variance of the reward curve?
# 4. Compute the exact optimum $\pi^*(y) \propto \pi_\text{ref}(y)\,e^{r_\text{RM}(y)/\beta}$
#    by enumerating all $8^6$ responses, and compare its expected reward and KL with PPO's.
