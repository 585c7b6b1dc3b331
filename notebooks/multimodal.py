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
# # Multimodal models: patches, contrastive pairs and image tokens
#
# A transformer reads a sequence of vectors; it does not care whether they came
# from words. Vision transformers cut an image into patches and embed each one
# as a token. CLIP trains an image encoder and a text encoder together so that
# an image and its caption land on nearby vectors, which lets it classify
# images into categories it was never trained on, just by writing their names.
# Vision-language models such as LLaVA go one step further: they project the
# image encoder's patch vectors into a language model's embedding space and put
# them in its input sequence as *image tokens*, so the language model can talk
# about the picture.
#
# **What you will build**
#
# 1. **ViT patch embeddings**: patchify an image and project each patch, checked
#    equal to a `Conv2d` whose kernel and stride are the patch size.
# 2. A **synthetic image-caption dataset** drawn with NumPy: coloured shapes
#    with captions like "a red circle", with some colour-shape combinations held
#    out of training entirely.
# 3. The **symmetric InfoNCE loss** of CLIP, checked against a hand computation
#    and a loop-by-loop reference, and its gradient against finite differences.
# 4. **CLIP-style contrastive training** of a tiny ViT and a text encoder, then
#    **zero-shot classification** of the held-out combinations, measured
#    against chance and an untrained model over several seeds.
# 5. **How a vision-language model connects the two**: a projector, image
#    tokens spliced into the sequence (LLaVA-style), with the shapes of a real
#    model worked out, and a tiny captioner trained on top of the frozen image
#    encoder, compared with a blind baseline.
#
# Everything is small enough to train on a CPU in well under a minute.

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
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(
    1
)  # tiny tensors: a second thread cost more in synchronisation than it saved (measured)
torch.manual_seed(0)

# %% [markdown]
# ## 1. An image as a sequence of patches
#
# A ViT (Dosovitskiy et al., 2020) splits an $H \times W$ image with $C$
# channels into non-overlapping $P \times P$ patches, flattens each patch into
# a vector of $C P^2$ numbers and multiplies it by one learned matrix, giving
# $N = HW/P^2$ tokens of width $d$. A learned `[CLS]` token is prepended and a
# learned position embedding added, and the sequence goes through an ordinary
# transformer encoder.
#
# "Flatten each patch and apply the same linear map" is exactly a convolution
# whose kernel is the patch size and whose stride is the patch size too, so the
# windows do not overlap. Real implementations use the convolution; we write
# the patching by hand with `reshape` and `permute` and check that the two
# agree.


# %%
def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, C*patch*patch), patches in row-major order, each flattened as (C, p, p)."""
    b, c, h, w = images.shape
    assert h % patch == 0 and w % patch == 0, "the image size must be a multiple of the patch size"
    x = images.reshape(b, c, h // patch, patch, w // patch, patch)
    x = x.permute(0, 2, 4, 1, 3, 5)  # B, rows, cols, C, p, p
    return x.reshape(b, (h // patch) * (w // patch), c * patch * patch)


class PatchEmbedding(nn.Module):
    def __init__(self, channels: int, patch: int, dim: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(channels * patch * patch, dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(patchify(images, self.patch))


embed = PatchEmbedding(channels=3, patch=8, dim=64).double()
conv = nn.Conv2d(3, 64, kernel_size=8, stride=8).double()
with torch.no_grad():
    conv.weight.copy_(embed.proj.weight.view(64, 3, 8, 8))
    conv.bias.copy_(embed.proj.bias)
images = torch.randn(5, 3, 32, 32, dtype=torch.float64)
ours = embed(images)
reference = conv(images).flatten(2).transpose(1, 2)  # (B, d, 4, 4) -> (B, 16, d)
print(
    "patch tokens:", tuple(ours.shape), "max difference from Conv2d:", (ours - reference).abs().max().item()
)
assert ours.shape == (5, 16, 64) and torch.allclose(ours, reference, rtol=0, atol=1e-12)

# Patch k covers rows 8*(k // 4) ... and columns 8*(k % 4) ... of the image:
k = 6
assert torch.equal(patchify(images, 8)[0, k], images[0, :, 8:16, 16:24].reshape(-1))
# The unfold operation of torch gives the same patches, in a (C*p*p, N) layout:
assert torch.equal(patchify(images, 8), F.unfold(images, kernel_size=8, stride=8).transpose(1, 2))

# %% [markdown]
# ## 2. A dataset of coloured shapes
#
# Six colours and five shapes make 30 combinations, each with the caption
# "a {colour} {shape}". Every image is drawn fresh: random size and position,
# colour jitter, and noise on a grey background, so no two are alike.
#
# Six combinations are **held out**: no red, green or blue triangle or cross
# is ever shown in training, though red, green and blue circles, squares and
# rings are, and so are yellow, magenta and cyan triangles and crosses. The
# held-out images test whether the model has learned colour and shape as
# separate concepts it can combine, which is what makes CLIP's zero-shot
# classification possible.

# %%
COLOURS = {
    "red": (0.9, 0.1, 0.1),
    "green": (0.1, 0.75, 0.1),
    "blue": (0.15, 0.25, 0.95),
    "yellow": (0.95, 0.9, 0.1),
    "magenta": (0.9, 0.1, 0.9),
    "cyan": (0.1, 0.85, 0.9),
}
SHAPES = ["circle", "square", "triangle", "cross", "ring"]
COMBOS = [(colour, shape) for colour in COLOURS for shape in SHAPES]
HELD_OUT = [(colour, shape) for colour in ["red", "green", "blue"] for shape in ["triangle", "cross"]]
TRAIN = [combo for combo in COMBOS if combo not in HELD_OUT]
SIZE = 32


def shape_mask(shape: str, rng: np.random.Generator) -> np.ndarray:
    """A boolean SIZE x SIZE mask of one shape at a random position and size."""
    r = rng.uniform(8, 12)
    cy, cx = SIZE / 2 + rng.uniform(-3, 3, size=2)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    dy, dx = yy - cy, xx - cx
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "ring":
        return (dx**2 + dy**2 <= r**2) & (dx**2 + dy**2 >= (0.55 * r) ** 2)
    if shape == "square":
        return np.maximum(abs(dx), abs(dy)) <= 0.8 * r
    if shape == "triangle":  # apex up: the half-width grows from 0 at the top to r at the bottom
        return (dy >= -r) & (dy <= 0.8 * r) & (abs(dx) <= (dy + r) / 1.8)
    if shape == "cross":
        arm = r / 4
        return ((abs(dx) <= arm) & (abs(dy) <= r)) | ((abs(dy) <= arm) & (abs(dx) <= r))
    raise ValueError(shape)


def draw(colour: str, shape: str, rng: np.random.Generator) -> np.ndarray:
    """One (3, SIZE, SIZE) float32 image."""
    mask = shape_mask(shape, rng)
    rgb = np.clip(np.array(COLOURS[colour]) + rng.uniform(-0.08, 0.08, 3), 0, 1)
    background = rng.uniform(0.35, 0.55)
    image = np.where(mask[None], rgb[:, None, None], background)
    return (image + rng.normal(0, 0.04, image.shape)).astype(np.float32)


def batch(combos: list[tuple[str, str]], rng: np.random.Generator) -> torch.Tensor:
    return torch.from_numpy(np.stack([draw(c, s, rng) for c, s in combos]))


rng = np.random.default_rng(0)
for shape in SHAPES:
    areas = [shape_mask(shape, rng).mean() for _ in range(50)]
    assert 0.04 < min(areas) and max(areas) < 0.6, (shape, min(areas), max(areas))
sample = draw("red", "ring", rng)
assert sample.shape == (3, SIZE, SIZE) and sample.dtype == np.float32

fig, axes = plt.subplots(len(COLOURS), len(SHAPES), figsize=(7, 8.4))
for ax, (colour, shape) in zip(axes.flat, COMBOS):
    ax.imshow(np.clip(draw(colour, shape, rng).transpose(1, 2, 0), 0, 1))
    held = (colour, shape) in HELD_OUT
    ax.set_title(
        f"{colour} {shape}" + (" (held out)" if held else ""), fontsize=7, color="C3" if held else "k"
    )
    ax.axis("off")
fig.suptitle("The 30 combinations; the 6 in red are never seen in training")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. The contrastive objective: symmetric InfoNCE
#
# Take a batch of $n$ matching pairs. Encode the images to unit vectors
# $u_1..u_n$ and the captions to unit vectors $v_1..v_n$, and form the $n \times n$ matrix of scaled cosine similarities $L_{ij} = s\, u_i \cdot v_j$. Row $i$
# is a classification problem, "which of the $n$ captions belongs to image
# $i$?", whose right answer is $j = i$; column $j$ is the same question the
# other way round. CLIP's loss is the average of the two cross-entropies:
#
# $$\mathcal{L} = \frac{1}{2}\left[\frac{1}{n}\sum_i -\log \frac{e^{L_{ii}}}{\sum_j e^{L_{ij}}}
# + \frac{1}{n}\sum_j -\log \frac{e^{L_{jj}}}{\sum_i e^{L_{ij}}}\right].$$
#
# The other $n - 1$ captions in the batch are the negatives, so larger batches
# give a harder, more informative task (CLIP used 32,768). The scale $s = 1/\tau$ is learned. Every combination appears at most once per batch here, so
# no caption in the batch is a second right answer.


# %%
def clip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of matching pairs (row i of each goes together)."""
    logits = scale * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    targets = torch.arange(len(logits))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


# By hand: image vectors (1, 0) and (0, 1), caption vectors (0.8, 0.6) and (0, 1), all of unit length.
# Cosines [[0.8, 0], [0.6, 1]]; at scale 10 the logits are [[8, 0], [6, 10]], and each cross-entropy term
# -log(e^x / (e^x + e^y)) is log(1 + e^(y - x)):
rows = (math.log(1 + math.exp(-8)) + math.log(1 + math.exp(-4))) / 2  # image -> caption: rows
cols = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-10))) / 2  # caption -> image: columns
u = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
v = torch.tensor([[0.8, 0.6], [0.0, 1.0]], dtype=torch.float64)
print(f"by hand {(rows + cols) / 2:.15f}\nclip_loss {clip_loss(u, v, 10.0).item():.15f}")
assert math.isclose(clip_loss(u, v, 10.0).item(), (rows + cols) / 2, rel_tol=1e-12)
assert rows < cols, "the two directions differ: caption 1 is close to both images, image 1 is not"


def clip_loss_loops(image_emb: np.ndarray, text_emb: np.ndarray, scale: float) -> float:
    """The same loss with explicit loops and a stable log-sum-exp, as an independent reference."""
    u = image_emb / np.linalg.norm(image_emb, axis=1, keepdims=True)
    v = text_emb / np.linalg.norm(text_emb, axis=1, keepdims=True)
    n = len(u)
    logits = [[scale * float(np.dot(u[i], v[j])) for j in range(n)] for i in range(n)]

    def nll(scores: list[float], right: int) -> float:
        m = max(scores)
        return m + math.log(sum(math.exp(s - m) for s in scores)) - scores[right]

    image_to_text = sum(nll(logits[i], i) for i in range(n)) / n
    text_to_image = sum(nll([logits[i][j] for i in range(n)], j) for j in range(n)) / n
    return (image_to_text + text_to_image) / 2


g = torch.Generator().manual_seed(1)
img_e, txt_e = (
    torch.randn(8, 16, dtype=torch.float64, generator=g),
    torch.randn(8, 16, dtype=torch.float64, generator=g),
)
assert math.isclose(
    clip_loss(img_e, txt_e, 7.5).item(), clip_loss_loops(img_e.numpy(), txt_e.numpy(), 7.5), rel_tol=1e-12
)
assert torch.autograd.gradcheck(
    lambda x, y: clip_loss(x, y, 7.5), (img_e.requires_grad_(), txt_e.requires_grad_())
)
# Bounds a learner can reason about: perfect alignment at high scale -> 0; all-equal logits -> log n.
assert clip_loss(torch.eye(8), torch.eye(8), 100.0).item() < 1e-6
assert math.isclose(clip_loss(torch.ones(8, 4), torch.ones(8, 4), 3.0).item(), math.log(8), rel_tol=1e-6)

# %% [markdown]
# ## 4. Training a tiny CLIP
#
# **Image encoder**: the patch embedding above (8 x 8 patches, so 16 tokens), a
# `[CLS]` token, learned positions, two pre-norm transformer layers from
# `torch.nn`, and a final projection of the `[CLS]` output to a 32-dimensional
# embedding. **Text encoder**: our captions have three words, so a bag of word
# embeddings followed by one linear map is enough (CLIP uses a transformer).
# Being linear in the words, it gives every caption, including the six never
# trained on, an embedding built from the same word vectors. Both embeddings
# are compared in the same 32-dimensional space. The scale starts at
# $1/0.07$, as in CLIP, and is learned.
#
# Each step draws one fresh image of every training combination, a batch of
# 24 pairs, and takes one AdamW step on the symmetric InfoNCE loss.

# %%
WORDS = ["a", *COLOURS, *SHAPES]
WORD_ID = {word: i for i, word in enumerate(WORDS)}


def caption(colour: str, shape: str) -> str:
    return f"a {colour} {shape}"


def tokens(captions: list[str]) -> torch.Tensor:
    return torch.tensor([[WORD_ID[w] for w in text.split()] for text in captions])


class ImageEncoder(nn.Module):
    def __init__(self, dim: int = 64, out: int = 32, layers: int = 2, patch: int = 8) -> None:
        super().__init__()
        self.patches = PatchEmbedding(3, patch, dim)
        n = (SIZE // patch) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(0.02 * torch.randn(1, n + 1, dim))
        layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, out)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Every output token, (B, 1 + N, dim): [CLS] first, then one per patch."""
        x = self.patches(images)
        x = torch.cat([self.cls.expand(len(x), -1, -1), x], dim=1) + self.pos
        return self.norm(self.blocks(x))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.tokens(images)[:, 0])


class TextEncoder(nn.Module):
    def __init__(self, dim: int = 64, out: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(WORDS), dim)
        self.proj = nn.Linear(dim, out)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.proj(self.embed(token_ids).mean(dim=1))


class TinyCLIP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.image, self.text = ImageEncoder(), TextEncoder()
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def scale(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=100)  # CLIP clips the scale at 100


def train_clip(seed: int, steps: int = 500) -> tuple[TinyCLIP, list[float]]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = TinyCLIP()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    text_ids = tokens([caption(*combo) for combo in TRAIN])
    losses = []
    for _ in range(steps):
        loss = clip_loss(model.image(batch(TRAIN, rng)), model.text(text_ids), model.scale())
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        losses.append(loss.item())
    return model, losses


@torch.no_grad()
def zero_shot(model: TinyCLIP, combos: list, classes: list, per_combo: int, rng: np.random.Generator) -> dict:
    """Classify fresh images of `combos` into `classes` by caption similarity: accuracy, and of its shape."""
    model.eval()
    text = F.normalize(model.text(tokens([caption(*c) for c in classes])), dim=-1)
    truth = [combo for combo in combos for _ in range(per_combo)]
    predicted = [classes[i] for i in (F.normalize(model.image(batch(truth, rng)), dim=-1) @ text.T).argmax(1)]
    model.train()
    return {
        "accuracy": np.mean([p == t for p, t in zip(predicted, truth)]),
        "shape": np.mean([p[1] == t[1] for p, t in zip(predicted, truth)]),
    }


SEEDS = [0, 1, 2]
EVALS = {  # name: (images of, classified among, chance)
    "held-out images, 6 new classes": (HELD_OUT, HELD_OUT, 1 / len(HELD_OUT)),
    "held-out images, all 30 classes": (HELD_OUT, COMBOS, 1 / len(COMBOS)),
    "seen images, all 30 classes": (TRAIN, COMBOS, 1 / len(COMBOS)),
    "untrained model, 6 new classes": (HELD_OUT, HELD_OUT, 1 / len(HELD_OUT)),
}
models, curves = {}, {}
results = {name: [] for name in EVALS}
for seed in SEEDS:
    models[seed], curves[seed] = train_clip(seed)
    torch.manual_seed(seed)
    untrained = TinyCLIP()
    rng = np.random.default_rng(1000 + seed)
    for name, (combos, classes, _) in EVALS.items():
        model = untrained if name.startswith("untrained") else models[seed]
        results[name].append(zero_shot(model, combos, classes, 240 // len(combos), rng))
for name, rows in results.items():
    acc, shape = np.array([r["accuracy"] for r in rows]), np.array([r["shape"] for r in rows])
    print(
        f"{name:>32}: accuracy {acc.mean():.2f} ± {acc.std():.2f} (chance {EVALS[name][2]:.2f}), shape right {shape.mean():.2f}"
    )

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
for seed in SEEDS:
    left.plot(np.convolve(curves[seed], np.ones(20) / 20, mode="valid"), label=f"seed {seed}")
left.axhline(math.log(len(TRAIN)), color="grey", ls="--", label="log 24 (guessing)")
left.set_xlabel("step")
left.set_ylabel("symmetric InfoNCE (moving average)")
left.set_title("Contrastive training")
left.legend(fontsize=8)
x = np.arange(len(EVALS))
means = [np.mean([r["accuracy"] for r in results[name]]) for name in EVALS]
stds = [np.std([r["accuracy"] for r in results[name]]) for name in EVALS]
right.bar(x, means, 0.6, yerr=stds, capsize=4, color=["C2", "C1", "C0", "C7"])
right.scatter(x, [EVALS[name][2] for name in EVALS], marker="_", s=900, color="k", zorder=3, label="chance")
right.plot([-0.3, 0.3], [0.5, 0.5], color="C3", ls=":", label="best possible from colour alone")
right.set_xticks(x, [name.replace(", ", "\n") for name in EVALS], fontsize=7)
right.set_ylabel("zero-shot accuracy")
right.set_ylim(0, 1.2)
right.set_title(f"Zero-shot classification ({len(SEEDS)} seeds)")
right.legend(fontsize=8, loc="upper center", ncol=2)
plt.tight_layout()
plt.show()

new_classes = np.array([r["accuracy"] for r in results["held-out images, 6 new classes"]])
untrained_acc = np.array([r["accuracy"] for r in results["untrained model, 6 new classes"]])
assert new_classes.min() > 0.5, (
    "above what colour alone allows: shape transfers to colours it was never seen in"
)
assert new_classes.mean() > untrained_acc.mean() + 3 * (new_classes.std() + untrained_acc.std()), (
    "training, not luck"
)

# %% [markdown]
# **What to notice.** Asked to choose among the six new class names, which is
# how CLIP is used zero-shot, the model is right far more often than chance,
# and more often than colour alone would allow (two of the six classes share
# each colour): it recognises a triangle or a cross in a colour it has never
# seen them in. Among all 30 captions it does much worse on the same images,
# because the 24 captions it was trained on attract them: a green triangle is
# often called a green square. Models trained on pairs tend to treat a caption
# as a bag of words and to favour the combinations they saw, a known weakness
# of CLIP-style models on compositional tests. The untrained model sits at
# chance, the baseline that makes the comparison mean something.
#
# The similarity matrix of a few held-out images against all 30 captions shows
# both effects: the right caption (red box) is bright, and so are the seen
# captions that share its colour.

# %%
model = models[0]
rng = np.random.default_rng(7)
shown = HELD_OUT
with torch.no_grad():
    model.eval()
    imgs = batch(shown, rng)
    all_captions = tokens([caption(*combo) for combo in COMBOS])
    sims = F.normalize(model.image(imgs), dim=-1) @ F.normalize(model.text(all_captions), dim=-1).T
    model.train()
fig, ax = plt.subplots(figsize=(11, 2.8))
ax.imshow(sims.numpy(), cmap="viridis", aspect="auto")
ax.set_yticks(range(len(shown)), [caption(*c) for c in shown], fontsize=7)
ax.set_xticks(range(len(COMBOS)), [f"{c} {s}" for c, s in COMBOS], rotation=90, fontsize=6)
for i, combo in enumerate(shown):
    ax.add_patch(plt.Rectangle((COMBOS.index(combo) - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2))
ax.set_title(
    "Cosine similarity of held-out images (rows) with all captions (columns); red: the right caption"
)
plt.show()

# %% [markdown]
# ## 5. From CLIP to a vision-language model
#
# CLIP can match images and captions; it cannot *talk*. A vision-language model
# (VLM) in the style of LLaVA (Liu et al., 2023) joins an image encoder to a
# decoder-only language model with three pieces:
#
# 1. **The image encoder**, usually a CLIP or SigLIP ViT, kept frozen at first.
#    Its *patch* outputs (not just the pooled vector) are the image features:
#    one vector per patch.
# 2. **A projector** that maps each patch vector into the language model's
#    embedding space: a linear layer in LLaVA, a two-layer MLP from LLaVA-1.5 on.
# 3. **Image tokens in the sequence**: the prompt contains a placeholder such
#    as `<image>`, and the placeholder's embedding is replaced by the $N$
#    projected patch vectors. The language model then attends to them like to
#    any other token. The loss is computed on the answer tokens only.
#
# Training goes in two stages: first only the projector is trained on
# image-caption pairs (alignment), then the projector and the language model are
# fine-tuned on visual instruction data. Other designs exist: Flamingo keeps the
# image out of the sequence and lets the language model read it through
# inserted cross-attention layers; BLIP-2 compresses the patches into a few
# learned query tokens first.
#
# ### The shapes of a real model
#
# LLaVA-1.5 uses CLIP ViT-L/14 at 336 x 336 pixels and a 7B language model
# whose embeddings have 4,096 dimensions:

# %%
image_side, patch_side, vision_dim, lm_dim = 336, 14, 1024, 4096
n_patches = (image_side // patch_side) ** 2
projector_params = (vision_dim * lm_dim + lm_dim) + (lm_dim * lm_dim + lm_dim)  # Linear, GELU, Linear
prompt_tokens = 40
print(f"{image_side}/{patch_side} = {image_side // patch_side} patches a side -> {n_patches} image tokens")
print(f"patch features ({n_patches}, {vision_dim}) -> projector -> ({n_patches}, {lm_dim})")
print(
    f"two-layer MLP projector: {projector_params / 1e6:.1f} M parameters (the language model has about 7,000 M)"
)
print(
    f"a {prompt_tokens}-token prompt with one image becomes {prompt_tokens - 1 + n_patches} positions in the sequence"
)
assert n_patches == 576 and prompt_tokens - 1 + n_patches == 615
assert math.isclose(projector_params, 21e6, rel_tol=0.01)

# %% [markdown]
# One image costs 576 positions, more than most text prompts, which is why
# later models pool or merge patches, or tile high-resolution images into
# crops with a token budget per crop.
#
# ### Splicing image tokens into the sequence
#
# Now the same thing in miniature, with our tiny CLIP's image encoder (16 patch
# tokens of width 64) and a small decoder-only language model of width 48. The
# prompt is `<image> describe :` and the answer is the caption. `splice`
# replaces the placeholder with the projected patches and builds the labels:
# $-100$ (ignored by the loss) everywhere except the answer tokens.

# %%
SPECIALS = ["<pad>", "<image>", "<bos>", "<eos>", "describe", ":"]
VOCAB = SPECIALS + WORDS
VID = {w: i for i, w in enumerate(VOCAB)}
PROMPT = ["<image>", "describe", ":"]
IGNORE = -100


def encode(prompt: list[str], answer: list[str]) -> tuple[list[int], int]:
    """Token ids of prompt + answer + <eos>, and where the answer starts."""
    return [VID[w] for w in prompt + answer + ["<eos>"]], len(prompt)


def splice(token_emb: torch.Tensor, ids: torch.Tensor, image_feats: torch.Tensor, answer_start: int):
    """Replace the one <image> token of each sequence by its N image vectors; labels for the answer only.

    token_emb (B, T, d), ids (B, T), image_feats (B, N, d) -> embeddings (B, T - 1 + N, d), labels (B, T - 1 + N).
    Label i is the token to predict at position i (the next one), or IGNORE.
    """
    b, t, _ = token_emb.shape
    n = image_feats.shape[1]
    where = (ids == VID["<image>"]).nonzero()
    assert len(where) == b and torch.equal(where[:, 0], torch.arange(b)), "exactly one <image> per sequence"
    pos = where[0, 1].item()
    assert torch.all(where[:, 1] == pos), "the placeholder sits at the same place in every sequence here"
    embeds = torch.cat([token_emb[:, :pos], image_feats, token_emb[:, pos + 1 :]], dim=1)
    labels = torch.full((b, t - 1 + n), IGNORE)
    shift = n - 1  # text after the placeholder moves right by N - 1
    for i in range(answer_start - 1, t - 1):  # position i predicts token i + 1: the answer and <eos>
        labels[:, i + shift] = ids[:, i + 1]
    return embeds, labels


ids, start = encode(PROMPT, caption("red", "circle").split())
ids = torch.tensor([ids, encode(PROMPT, caption("blue", "ring").split())[0]])
fake_tokens, fake_image = torch.randn(2, ids.shape[1], 48), torch.randn(2, 16, 48)
embeds, labels = splice(fake_tokens, ids, fake_image, start)
print("ids", tuple(ids.shape), "+ image", tuple(fake_image.shape), "-> embeddings", tuple(embeds.shape))
print("labels of the first sequence:", [VOCAB[x] if x != IGNORE else "." for x in labels[0].tolist()])
assert embeds.shape == (2, ids.shape[1] - 1 + 16, 48)
assert torch.equal(embeds[:, 0:16], fake_image) and torch.equal(embeds[:, 16:], fake_tokens[:, 1:])
assert [VOCAB[x] for x in labels[0][labels[0] != IGNORE].tolist()] == ["a", "red", "circle", "<eos>"]
assert (labels[:, :16] == IGNORE).all(), "no loss on image positions"

# %% [markdown]
# ### A tiny captioner on a frozen image encoder
#
# The language model is a small causal transformer trained from scratch here
# together with the projector, while the image encoder from section 4 stays
# frozen (this merges LLaVA's two stages into one, since our language model has
# no pre-training to protect). Because the encoder is frozen, its patch
# features for a pool of training images are computed once and reused, the
# same saving real VLM training gets from a frozen encoder. Greedy decoding
# then writes captions for fresh images.
#
# The baseline is the same model trained on the same data with the image
# tokens replaced by zeros: it can only learn the distribution of captions.


# %%
class TinyVLM(nn.Module):
    def __init__(self, vision: ImageEncoder, dim: int = 48, layers: int = 2, blind: bool = False) -> None:
        super().__init__()
        self.vision, self.blind = vision.requires_grad_(False), blind
        vision_dim = vision.pos.shape[-1]
        self.projector = nn.Sequential(nn.Linear(vision_dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.embed = nn.Embedding(len(VOCAB), dim)
        self.pos = nn.Parameter(0.02 * torch.randn(1, 32, dim))
        layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(dim, len(VOCAB))

    @torch.no_grad()
    def patch_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.vision.tokens(images)[:, 1:]  # the patch outputs, without [CLS]

    def forward(self, patch_feats: torch.Tensor, ids: torch.Tensor, answer_start: int):
        image_tokens = self.projector(patch_feats)
        if self.blind:
            image_tokens = torch.zeros_like(image_tokens)
        embeds, labels = splice(self.embed(ids), ids, image_tokens, answer_start)
        length = embeds.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(length)
        return self.out(self.blocks(embeds + self.pos[:, :length], mask=causal, is_causal=True)), labels

    @torch.no_grad()
    def describe(self, images: torch.Tensor, max_words: int = 3) -> list[tuple[str, ...]]:
        feats = self.patch_features(images)
        ids = torch.tensor([[VID[w] for w in PROMPT]] * len(images))
        for _ in range(max_words):
            logits, _ = self(feats, ids, answer_start=len(PROMPT))
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        return [tuple(VOCAB[i] for i in row[len(PROMPT) :]) for row in ids.tolist()]


def train_vlm(vision: ImageEncoder, seed: int, blind: bool, steps: int = 200, pool: int = 20) -> TinyVLM:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vlm = TinyVLM(vision, blind=blind)
    feats = vlm.patch_features(batch([combo for combo in TRAIN for _ in range(pool)], rng))
    feats = feats.view(len(TRAIN), pool, *feats.shape[1:])  # (combo, image, patch, dim)
    ids = torch.tensor([encode(PROMPT, caption(*combo).split())[0] for combo in TRAIN])
    opt = torch.optim.AdamW([p for p in vlm.parameters() if p.requires_grad], lr=3e-3)
    for _ in range(steps):
        pick = feats[torch.arange(len(TRAIN)), torch.from_numpy(rng.integers(pool, size=len(TRAIN)))]
        logits, labels = vlm(pick, ids, len(PROMPT))
        loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), labels.reshape(-1), ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return vlm


def caption_accuracy(vlm: TinyVLM, combos: list[tuple[str, str]], per_combo: int, rng) -> dict:
    truth = [combo for combo in combos for _ in range(per_combo)]
    said = vlm.describe(batch(truth, rng))
    return {
        "exact": np.mean([s == ("a", *t) for s, t in zip(said, truth)]),
        "colour": np.mean([len(s) > 1 and s[1] == t[0] for s, t in zip(said, truth)]),
        "shape": np.mean([len(s) > 2 and s[2] == t[1] for s, t in zip(said, truth)]),
    }


frozen_before = {k: v.clone() for k, v in models[0].image.state_dict().items()}
captioning = {
    (name, split): [] for name in ["sees the image", "blind baseline"] for split in ["seen", "held out"]
}
for seed in SEEDS:
    for name, blind in [("sees the image", False), ("blind baseline", True)]:
        vlm = train_vlm(models[seed].image, seed, blind)
        rng = np.random.default_rng(2000 + seed)
        captioning[name, "seen"].append(caption_accuracy(vlm, TRAIN, 5, rng))
        captioning[name, "held out"].append(caption_accuracy(vlm, HELD_OUT, 20, rng))
        if seed == 0 and not blind:
            example = vlm
for (name, split), rows in captioning.items():
    summary = ", ".join(
        f"{k} {np.mean([r[k] for r in rows]):.2f} ± {np.std([r[k] for r in rows]):.2f}" for k in rows[0]
    )
    print(f"{name:>15}, {split:>8} combinations: {summary}")
assert all(torch.equal(v, models[0].image.state_dict()[k]) for k, v in frozen_before.items()), (
    "the encoder stayed frozen"
)


def mean(name: str, split: str, key: str) -> float:
    return float(np.mean([r[key] for r in captioning[name, split]]))


assert min(r["exact"] for r in captioning["sees the image", "seen"]) > 0.5, (
    "fresh images of seen combinations"
)
assert mean("blind baseline", "seen", "exact") < 0.1, "the blind model can only guess among 24 captions"
assert mean("sees the image", "held out", "colour") > 0.9 > 0.4 > mean("blind baseline", "held out", "colour")

rng = np.random.default_rng(5)
shown = [TRAIN[i] for i in range(0, len(TRAIN), 4)] + HELD_OUT
imgs = batch(shown, rng)
fig, axes = plt.subplots(2, 6, figsize=(11, 4.4))
for ax, image, combo, said in zip(axes.flat, imgs, shown, example.describe(imgs)):
    ax.imshow(np.clip(image.numpy().transpose(1, 2, 0), 0, 1))
    ax.set_title(" ".join(said), fontsize=8, color="C2" if said == ("a", *combo) else "C3")
    ax.axis("off")
fig.suptitle("Greedy captions: top row seen combinations, bottom row held out (green: exactly right)")
plt.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** The language model never saw a picture; it only ever
# received 16 vectors from the projector in place of `<image>`. From them it
# captions fresh images of the combinations it was trained on, far better than
# the blind baseline, so the answers come from the image tokens and not from
# caption statistics. On the held-out combinations it gets the colour right
# and the shape wrong: it names a shape it has seen in that colour. Its 24
# training captions taught it that "red" is followed by "circle", "square" or
# "ring", and that prior outvotes the image. This is the generative face of
# the bias in the 30-way test, and the same mechanism as **object
# hallucination** in real VLMs, which describe what usually goes with a scene
# rather than what is in it. Real VLMs start from a language model pretrained
# on vast text and train on varied instructions, which weakens such priors
# without removing them; benchmarks such as POPE measure what is left.
#
# ## What to try next
#
# 1. **SigLIP's loss.** SigLIP (Zhai et al., 2023) replaces the softmax over
#    the batch by an independent binary decision for every image-caption pair:
#    $\mathcal{L} = -\frac{1}{n}\sum_{i,j} \log \sigma\big(z_{ij}(t\,u_i \cdot v_j + b)\big)$, with $z_{ij} = 1$ for matching pairs ($i = j$) and $-1$
#    otherwise, learned scale $t$ and bias $b$. Write `sigmoid_loss(image_emb,
#    text_emb, t, b)` (normalise the embeddings first).
#
# <details><summary>Solution</summary>
#
# ```python
# def sigmoid_loss(image_emb, text_emb, t, b):
#     logits = t * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T + b
#     z = 2 * torch.eye(len(logits)) - 1
#     return -F.logsigmoid(z * logits).sum() / len(logits)
# ```
#
# `F.logsigmoid` is the stable form of $\log\sigma$. Because no term couples
# the pairs through a normalisation over the batch, the loss can be computed in
# chunks across devices without gathering every embedding.
# </details>
#
# 2. **Patches in a different order.** Write `unpatchify(tokens, patch, height,
#    width)`, the inverse of `patchify`: from (B, N, C·p·p) back to (B, C, H,
#    W). A VLM that generates images, or a masked autoencoder, needs exactly
#    this.
#
# <details><summary>Solution</summary>
#
# ```python
# def unpatchify(tokens, patch, height, width):
#     b, n, k = tokens.shape
#     c = k // (patch * patch)
#     x = tokens.reshape(b, height // patch, width // patch, c, patch, patch)
#     return x.permute(0, 3, 1, 4, 2, 5).reshape(b, c, height, width)
# ```
#
# The permutation `(0, 3, 1, 4, 2, 5)` undoes `patchify`'s `(0, 2, 4, 1, 3,
# 5)`.
# </details>
#
# 3. **Prompt ensembling.** CLIP's zero-shot accuracy improves when each class
#    is described by several templates ("a photo of a ...", "a drawing of a
#    ...") whose text embeddings are averaged. Add a second caption template to
#    the training data and measure zero-shot accuracy with one template and with
#    the average of both, over the same seeds.
#
# Write your answers to exercises 1 and 2 in the next cell and run the check
# after it.


# %%
def sigmoid_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, t: float, b: float) -> torch.Tensor:
    raise NotImplementedError  # exercise 1


def unpatchify(tokens: torch.Tensor, patch: int, height: int, width: int) -> torch.Tensor:
    raise NotImplementedError  # exercise 2


# %%
from exercises import run_check


def check_sigmoid_loss(candidate) -> None:
    g = torch.Generator().manual_seed(3)
    u, v = (
        torch.randn(6, 8, dtype=torch.float64, generator=g),
        torch.randn(6, 8, dtype=torch.float64, generator=g),
    )
    un, vn = (u / u.norm(dim=1, keepdim=True)).numpy(), (v / v.norm(dim=1, keepdim=True)).numpy()
    expected = 0.0
    for i in range(6):
        for j in range(6):
            z = 1.0 if i == j else -1.0
            expected -= math.log(1 / (1 + math.exp(-z * (10.0 * float(un[i] @ vn[j]) - 2.0))))
    got = float(candidate(u, v, 10.0, -2.0))
    assert math.isclose(got, expected / 6, rel_tol=1e-9), f"expected {expected / 6:.6f}, got {got:.6f}"


def check_unpatchify(candidate) -> None:
    x = torch.randn(2, 3, 16, 24)
    back = candidate(patchify(x, 8), 8, 16, 24)
    assert back.shape == x.shape, f"shape {tuple(back.shape)}, expected {tuple(x.shape)}"
    assert torch.equal(back, x), "unpatchify(patchify(x)) must give x back exactly"


print("exercise 1:", run_check(check_sigmoid_loss, sigmoid_loss))
print("exercise 2:", run_check(check_unpatchify, unpatchify))

# %% [markdown]
# The checks are tested too: they must pass the solutions above, reject a
# wrong answer, and report an untouched stub as not attempted.


# %%
def solution_sigmoid_loss(image_emb, text_emb, t, b):
    logits = t * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T + b
    z = 2 * torch.eye(len(logits)) - 1
    return -F.logsigmoid(z * logits).sum() / len(logits)


def solution_unpatchify(tokens, patch, height, width):
    b, n, k = tokens.shape
    c = k // (patch * patch)
    x = tokens.reshape(b, height // patch, width // patch, c, patch, patch)
    return x.permute(0, 3, 1, 4, 2, 5).reshape(b, c, height, width)


def wrong_sigmoid_loss(image_emb, text_emb, t, b):  # forgets the bias
    return solution_sigmoid_loss(image_emb, text_emb, t, 0.0)


def wrong_unpatchify(tokens, patch, height, width):  # a plain reshape scrambles the pixels
    return tokens.reshape(tokens.shape[0], -1, height, width)


assert run_check(check_sigmoid_loss, solution_sigmoid_loss) == "passed"
assert run_check(check_unpatchify, solution_unpatchify) == "passed"
assert run_check(check_sigmoid_loss, wrong_sigmoid_loss).startswith("not yet")
assert run_check(check_unpatchify, wrong_unpatchify).startswith("not yet")
assert run_check(check_sigmoid_loss, sigmoid_loss).startswith("not attempted")
