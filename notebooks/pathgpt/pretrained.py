"""The path's pretrained checkpoint: made once per recipe and source, cached on disk, loaded by every LLM notebook.

The cache key hashes this package's source files, the recipe, the torch and Python versions and a
signature of the standard library the corpus comes from: change any of them and the next load makes
the checkpoint again. It is written into a temporary folder renamed into place when complete, under
a file lock, so an interrupted run leaves nothing half-made and parallel kernels train it only once.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from filelock import FileLock, Timeout
from torch import Tensor

from .data import corpus_signature, encode_documents, stdlib_corpus
from .model import GPT, GPTConfig
from .tokenizer import Tokenizer
from .train import History, TrainConfig, train

PACKAGE = Path(__file__).resolve().parent
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the checkpoint: corpus, tokenizer, model and training."""

    corpus_bytes: int = 6_000_000
    validation_fraction: float = 0.1
    vocab_size: int = 1024
    """Tokens, the specials included; the model's vocab_size is set to the tokenizer's."""
    model: GPTConfig = field(
        default_factory=lambda: GPTConfig.modern(1024, context=256, d_model=128, n_layers=4, n_heads=4)
    )
    training: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=1500, batch_size=8, lr=1e-2, min_lr=1e-3, warmup_steps=50, eval_every=250, eval_windows=48
        )
    )
    seed: int = 0
    """Seeds the model's initialisation."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        values = dict(data)
        if "model" in values:
            values["model"] = GPTConfig.from_dict(values["model"])
        if "training" in values:
            values["training"] = TrainConfig.from_dict(values["training"])
        return cls(**values)


RECIPE = Recipe()
"""The recipe the notebooks use."""


def cache_root() -> Path:
    """$LLM_PATH_CACHE, or ~/.cache/llm-path, as an absolute path."""
    return (
        Path(os.environ.get("LLM_PATH_CACHE") or Path.home() / ".cache" / "llm-path").expanduser().resolve()
    )


def source_digest() -> str:
    """sha256 of the package's own Python files, names and bytes."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_inputs(recipe: Recipe) -> dict[str, Any]:
    """What the checkpoint depends on, and therefore its cache key."""
    return {
        "format": FORMAT_VERSION,
        "source": source_digest(),
        "recipe": recipe.to_dict(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "stdlib": corpus_signature(),
    }


def artifact_dir(recipe: Recipe = RECIPE, root: Path | None = None) -> Path:
    """The folder this recipe's checkpoint lives in (made or not)."""
    payload = json.dumps(cache_inputs(recipe), sort_keys=True).encode()
    return (root or cache_root()) / f"pathgpt-{hashlib.sha256(payload).hexdigest()[:16]}"


def prepare(
    recipe: Recipe = RECIPE, root: Path | None = None, *, log: Callable[[str], None] | None = print
) -> Path:
    """Make the tokenizer, the encoded corpus and the pretrained model unless they are cached; return their folder."""
    target = artifact_dir(recipe, root)
    if (target / "manifest.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(target) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if log:
            log(f"waiting for another process that is making {target.name}")
        lock.acquire()
    try:
        if not (target / "manifest.json").is_file():
            for leftover in target.parent.glob(f".{target.name}-*"):
                shutil.rmtree(
                    leftover, ignore_errors=True
                )  # an interrupted run's; the lock says none is live
            work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
            _make(recipe, work, log)
            os.replace(work, target)
    finally:
        lock.release()
    return target


def _make(recipe: Recipe, folder: Path, log: Callable[[str], None] | None) -> None:
    say = log or (lambda _: None)
    started = time.perf_counter()
    inputs = cache_inputs(recipe)
    say(f"making the pretrained checkpoint into {folder.parent} ({torch.get_num_threads()} threads)")
    corpus = stdlib_corpus(recipe.corpus_bytes, validation_fraction=recipe.validation_fraction)
    tokenizer = Tokenizer.train((d.text for d in corpus.train), recipe.vocab_size)
    tokenizer.save(folder / "tokenizer.json")
    tokens = {"train": encode_documents(tokenizer, corpus.train)}
    tokens["validation"] = encode_documents(tokenizer, corpus.validation)
    dtype = torch.int16 if tokenizer.vocab_size <= 2**15 else torch.int32
    torch.save({split: ids.to(dtype) for split, ids in tokens.items()}, folder / "tokens.pt")
    prepared = time.perf_counter() - started
    say(
        f"tokenizer and corpus: {len(tokens['train']):,d} training and {len(tokens['validation']):,d}"
        f" validation tokens from Python {corpus.python}'s standard library ({prepared:.0f} s)"
    )
    config = replace(recipe.model, vocab_size=tokenizer.vocab_size)
    torch.manual_seed(recipe.seed)
    model = GPT(config)
    say(f"pretraining {model.num_parameters():,d} parameters for {recipe.training.steps} steps")
    history = train(model, tokens["train"], tokens["validation"], recipe.training, log=say)
    torch.save({"config": config.to_dict(), "state_dict": model.state_dict()}, folder / "model.pt")
    (folder / "history.json").write_text(json.dumps(history.to_dict()))
    manifest = {
        **inputs,
        "python_implementation": platform.python_implementation(),
        "corpus_fingerprint": corpus.fingerprint(),
        "corpus_documents": {"train": len(corpus.train), "validation": len(corpus.validation)},
        "parameters": model.num_parameters(),
        "threads": torch.get_num_threads(),
        "seconds": {"tokenizer_and_corpus": prepared, "training": history.seconds},
        "validation_loss": history.validation_loss[-1],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    say(f"done in {time.perf_counter() - started:.0f} s: validation loss {history.validation_loss[-1]:.3f}")


def load_pretrained(recipe: Recipe = RECIPE, root: Path | None = None) -> tuple[GPT, Tokenizer]:
    """The pretrained model (in eval mode) and its tokenizer, made first if they are not cached."""
    folder = prepare(recipe, root)
    saved = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    model = GPT(GPTConfig.from_dict(saved["config"]))
    model.load_state_dict(saved["state_dict"])
    return model.eval(), Tokenizer.load(folder / "tokenizer.json")


def load_tokenizer(recipe: Recipe = RECIPE, root: Path | None = None) -> Tokenizer:
    return Tokenizer.load(prepare(recipe, root) / "tokenizer.json")


def load_tokens(
    split: Literal["train", "validation"], recipe: Recipe = RECIPE, root: Path | None = None
) -> Tensor:
    """The split's documents encoded with the tokenizer, each followed by <|endoftext|>, as int64."""
    saved = torch.load(prepare(recipe, root) / "tokens.pt", weights_only=True)
    return saved[split].long()


def load_history(recipe: Recipe = RECIPE, root: Path | None = None) -> History:
    """The pretraining run's losses, learning rates and gradient norms."""
    return History.from_dict(json.loads((prepare(recipe, root) / "history.json").read_text()))


def load_manifest(recipe: Recipe = RECIPE, root: Path | None = None) -> dict[str, Any]:
    """What the checkpoint was made from and how long it took."""
    return json.loads((prepare(recipe, root) / "manifest.json").read_text())
