"""The checkpoint cache: made once, reused, made again when the source changes, safe under parallel kernels."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pathgpt import GPTConfig, TrainConfig, pretrained
from pathgpt.pretrained import Recipe, artifact_dir, load_history, load_pretrained, load_tokens, prepare

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

TINY = Recipe(
    corpus_bytes=300_000,
    vocab_size=300,
    model=GPTConfig.modern(300, context=32, d_model=16, n_layers=1, n_heads=2),
    training=TrainConfig(steps=4, batch_size=2, warmup_steps=1, eval_every=2, eval_windows=2),
)


def count_training(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Wrap pretrained.train so that the test sees how often it ran."""
    calls: list[int] = []
    real = pretrained.train

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pretrained, "train", counted)
    return calls


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding TINY's checkpoint, made once for the tests that only read it."""
    root = tmp_path_factory.mktemp("cache")
    prepare(TINY, root, log=None)
    return root


def test_prepare_reuses_a_made_checkpoint(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file is there, and preparing or loading again trains nothing."""
    calls = count_training(monkeypatch)
    folder = prepare(TINY, cache, log=None)
    assert {p.name for p in folder.iterdir()} == {
        "manifest.json",
        "model.pt",
        "tokenizer.json",
        "tokens.pt",
        "history.json",
    }
    model, tokenizer = load_pretrained(TINY, cache)
    assert calls == [] and not model.training
    assert model.config.vocab_size == tokenizer.vocab_size
    assert load_history(TINY, cache).eval_step == [2, 4]
    validation = load_tokens("validation", TINY, cache)
    assert validation.dtype == torch.int64 and int(validation[-1]) == tokenizer.eot_id
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["python"] and manifest["torch"] == torch.__version__


def test_loading_is_deterministic(cache: Path) -> None:
    """Two loads give identical weights and identical greedy text."""
    (a, tokenizer), (b, _) = load_pretrained(TINY, cache), load_pretrained(TINY, cache)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    prompt = torch.tensor([tokenizer.encode("def ")])
    assert torch.equal(a.generate(prompt, 12, temperature=0), b.generate(prompt, 12, temperature=0))


def test_a_changed_source_file_makes_the_checkpoint_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key hashes the package's files: editing one of them gives a new folder, made on the next load."""
    source = tmp_path / "pathgpt"
    shutil.copytree(NOTEBOOKS / "pathgpt", source, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(pretrained, "PACKAGE", source)
    calls = count_training(monkeypatch)
    first = prepare(TINY, tmp_path / "cache", log=None)
    assert artifact_dir(TINY, tmp_path / "cache") == first
    with (source / "model.py").open("a") as file:
        file.write("\n# an edit\n")
    second = artifact_dir(TINY, tmp_path / "cache")
    assert second != first and not second.exists()
    assert prepare(TINY, tmp_path / "cache", log=None) == second and calls == [1, 1]
    assert artifact_dir(Recipe.from_dict({**TINY.to_dict(), "seed": 1}), tmp_path / "cache") != second


def test_an_interrupted_run_leaves_no_checkpoint_and_its_leftovers_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Work happens in a hidden folder renamed into place when complete; a failed run's folder is cleared next time."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pretrained, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare(TINY, tmp_path, log=None)
    target = artifact_dir(TINY, tmp_path)
    assert not target.exists() and len(list(tmp_path.glob(f".{target.name}-*"))) == 1
    monkeypatch.undo()
    assert prepare(TINY, tmp_path, log=None) == target
    assert not list(tmp_path.glob(f".{target.name}-*"))


def test_parallel_prepare_commands_train_once(tmp_path: Path) -> None:
    """Two `python -m pathgpt prepare` started together: one makes the checkpoint, the other waits and reuses it."""
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps(TINY.to_dict()))
    env = {**os.environ, "PYTHONPATH": str(NOTEBOOKS), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "pathgpt",
        "prepare",
        "--cache",
        str(tmp_path / "cache"),
        "--recipe",
        str(recipe),
    ]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    folders = {out.split(" (")[0] for out, _ in outputs}
    assert len(folders) == 1 and Path(folders.pop()).is_dir()
    made = [err for _, err in outputs if "making the pretrained checkpoint" in err]
    assert len(made) == 1, outputs
