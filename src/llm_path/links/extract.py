"""Finding URLs: in YAML (every `url` key), Markdown (outside code), text files, git revisions; with where each was written."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import TextIO

import yaml

from llm_path.links.model import LinkError, LinkErrors, Source

_URL_IN_TEXT = re.compile(r"https?://(?:\[[0-9a-fA-F:.]+\])?[^\s<>\"'`\[\]{}|\\^]*", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_TRAILING = ".,;:!?*_~"


def links_in_markdown(text: str, path: str) -> list[tuple[str, Source]]:
    """External http(s) links in Markdown (inline, reference, autolinks, HTML, bare), outside code."""
    found = []
    fence: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if fence is not None:
            if m and m[1][0] == fence[0] and len(m[1]) >= len(fence):
                fence = None
            continue
        if m:
            fence = m[1]
            continue
        line = _CODE_SPAN.sub(lambda s: " " * len(s[0]), line)
        for u in _URL_IN_TEXT.finditer(line):
            url = _trim_url(u[0])
            if len(url) > len("https://"):
                found.append((url, Source(path, n, u.start() + 1)))
    return found


def _trim_url(url: str) -> str:
    """Drop punctuation that ends the sentence rather than the URL, and unbalanced closing parens."""
    while url:
        if url[-1] in _TRAILING or (url[-1] == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


def links_in_yaml(text: str, path: str) -> tuple[list[tuple[str, Source]], list[LinkError]]:
    """Every string under a key named `url` at any depth, with its position; plus non-http(s) values."""
    try:
        roots = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = f"invalid YAML: {e.problem or e.context}"
        raise LinkErrors(
            [
                LinkError(
                    problem,
                    "fix the syntax there (an unclosed quote, a tab or a wrong indent?)",
                    path,
                    line,
                    col,
                )
            ]
        ) from None
    except yaml.YAMLError as e:
        raise LinkErrors([LinkError(f"invalid YAML: {e}", "fix the syntax", path)]) from None
    found: list[tuple[str, Source]] = []
    warnings: list[LinkError] = []
    seen: set[int] = set()
    stack = [r for r in roots if r is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                is_url = isinstance(key, yaml.ScalarNode) and key.value == "url"
                if is_url and isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:str":
                    where = Source(path, value.start_mark.line + 1, value.start_mark.column + 1)
                    url = value.value.strip()
                    if re.match(r"https?://", url, re.IGNORECASE):
                        found.append((url, where))
                    else:
                        example = (
                            "https://" + re.sub(r"^[a-z]+:/*", "", url, flags=re.I)
                            if url
                            else "https://example.org/page"
                        )
                        warnings.append(
                            LinkError(
                                f"url {url!r} is not an http(s) URL (not checked)",
                                f"write the full address, e.g. {example}",
                                where.path,
                                where.line,
                                where.column,
                            )
                        )
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    found.sort(key=lambda f: (f[1].line, f[1].column))
    return found, warnings


def links_in_lines(text: str, path: str) -> list[tuple[str, Source]]:
    """One URL per line; blank lines and lines starting with # are skipped."""
    found, errors = [], []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if re.match(r"https?://\S+$", line, re.IGNORECASE):
            found.append((line, Source(path, n, raw.index(line) + 1)))
        else:
            errors.append(
                LinkError(
                    f"{line!r} is not an http(s) URL",
                    "write one full http(s) URL per line, e.g. https://example.org/page",
                    path,
                    n,
                    raw.index(line) + 1,
                )
            )
    if errors:
        raise LinkErrors(errors)
    return found


def links_in_file(
    path: Path, text: str | None = None, name: str | None = None
) -> tuple[list[tuple[str, Source]], list[LinkError]]:
    """Links in one file, chosen by its extension: YAML, Markdown, else one URL per line."""
    name = name or str(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise LinkErrors([LinkError("not UTF-8 text", "save it as UTF-8", name)]) from None
        except OSError as e:
            raise LinkErrors(
                [LinkError(f"cannot read: {e.strerror}", "pass a readable file", name)]
            ) from None
    suffix = path.suffix.lower()
    if suffix in (".yml", ".yaml"):
        return links_in_yaml(text, name)
    if suffix in (".md", ".markdown"):
        return links_in_markdown(text, name), []
    return links_in_lines(text, name), []


def default_inputs(root: Path = Path()) -> list[Path]:
    """curriculum/**/*.yml and docs/**/*.md under `root`, sorted."""
    files = sorted(root.glob("curriculum/**/*.yml")) + sorted(root.glob("curriculum/**/*.yaml"))
    return files + sorted(root.glob("docs/**/*.md"))


def collect_links(
    inputs: Iterable[str], stdin: TextIO | None = None
) -> tuple[dict[str, list[Source]], list[LinkError]]:
    """URLs (in first-seen order) with where each was written, and warnings; raise LinkErrors for bad inputs."""
    found: dict[str, list[Source]] = {}
    warnings: list[LinkError] = []
    errors: list[LinkError] = []

    def add(pairs: Iterable[tuple[str, Source]]) -> None:
        for url, where in pairs:
            found.setdefault(url, []).append(where)

    for item in inputs:
        try:
            if item == "-":
                add(links_in_lines((stdin or sys.stdin).read(), "<stdin>"))
            elif re.match(r"https?://", item, re.IGNORECASE):
                found.setdefault(item, [])
            elif Path(item).is_dir():
                base = Path(item)
                for f in sorted([*base.rglob("*.yml"), *base.rglob("*.yaml"), *base.rglob("*.md")]):
                    pairs, warns = links_in_file(f)
                    add(pairs)
                    warnings += warns
            elif Path(item).is_file():
                pairs, warns = links_in_file(Path(item))
                add(pairs)
                warnings += warns
            else:
                errors.append(
                    LinkError(
                        "no such file, and not an http(s) URL",
                        "pass a YAML, Markdown or text file, a directory, - for stdin, or a full http(s) URL",
                        item,
                    )
                )
        except LinkErrors as e:
            errors += e.errors
    if errors:
        raise LinkErrors(errors)
    return found, warnings


def links_at_revision(base: str, root: Path = Path()) -> set[str]:
    """URLs in curriculum YAML and docs Markdown as they were at git revision `base` (read-only git)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        if done.returncode:
            raise LinkErrors(
                [
                    LinkError(
                        f"--only-changed: git {args[0]} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}",
                        "pass a branch, tag or commit of this repository, e.g. origin/main",
                    )
                ]
            )
        return done.stdout

    try:
        git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    except LinkErrors:
        raise LinkErrors(
            [
                LinkError(
                    f"--only-changed: {base!r} is not a commit in this repository",
                    "pass a branch, tag or commit, e.g. origin/main (fetch it first in CI)",
                )
            ]
        ) from None
    except FileNotFoundError:
        raise LinkErrors(
            [
                LinkError(
                    "--only-changed needs git, which is not installed", "install git or drop --only-changed"
                )
            ]
        ) from None
    urls: set[str] = set()
    names = git("ls-tree", "-r", "--name-only", "-z", base, "--", "curriculum", "docs").split("\0")
    for name in names:
        p = Path(name)
        wanted = (p.parts[:1] == ("curriculum",) and p.suffix in (".yml", ".yaml")) or (
            p.parts[:1] == ("docs",) and p.suffix == ".md"
        )
        if not wanted:
            continue
        with suppress(LinkErrors):  # a file broken at the base adds nothing to compare with
            pairs, _ = links_in_file(p, git("show", f"{base}:./{name}"), name)
            urls.update(u for u, _ in pairs)
    return urls
