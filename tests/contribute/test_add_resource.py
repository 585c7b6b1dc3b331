"""`llm-path add-resource`: one command adds a checked entry and leaves every other byte of the file alone."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BIN, FIXTURES
from linkserver import LinkServer, Reply

from llm_path.contribute import fetch_title as fetch_title_module
from llm_path.contribute.add_resource import add_to_text
from llm_path.contribute.fetch_title import TitleError, fetch_title
from llm_path.curriculum.load import load_curriculum
from llm_path.curriculum.model import Resource

GOOD = {
    "--title": "The Illustrated Transformer",
    "--url": "https://jalammar.github.io/illustrated-transformer/",
    "--type": "article",
    "--level": "intro",
    "--author": "Jay Alammar",
    "--description": "Pictures of every step.",
}

ENTRY = """\
  - title: The Illustrated Transformer
    url: {url}
    type: {type}
    level: intro
    free: true
    author: {author}
    description: Pictures of every step.
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "llm-path"), *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def add(
    curriculum: Path, topic: str = "attention", free: str = "--free", **changes: str
) -> subprocess.CompletedProcess[str]:
    """Run add-resource on the copy with GOOD's values, `changes` overriding them (keys without '--')."""
    values = {**GOOD, **{f"--{key}": value for key, value in changes.items()}}
    flags = [part for key, value in values.items() for part in (key, value)]
    return run("add-resource", "--topic", topic, *flags, free, cwd=curriculum.parent)


def test_add_keeps_every_other_byte(curriculum: Path) -> None:
    """The new lines go after the last resource; every line before and after is unchanged."""
    attention = curriculum / "topics" / "attention.yml"
    before = attention.read_bytes().splitlines(keepends=True)
    result = add(curriculum)
    assert result.returncode == 0, result.stderr
    after = attention.read_bytes().splitlines(keepends=True)
    assert after[:29] == before[:29]
    assert after[36:] == before[29:]
    assert b"".join(after[29:36]).decode() == ENTRY.format(
        url=GOOD["--url"], type="article", author="Jay Alammar"
    )


def test_add_reports_where_and_the_new_totals(curriculum: Path) -> None:
    """Success prints the new item's place and the validator's summary, and exits 0."""
    result = add(curriculum)
    assert result.stdout.splitlines() == [
        "added resources[2] to curriculum/topics/attention.yml (lines 30-36)",
        "ok: 2 phases, 3 topics, 6 resources",
    ]
    assert result.stderr == ""


def test_added_resource_loads(curriculum: Path) -> None:
    """After the command the whole curriculum loads and the topic ends with the new resource."""
    add(curriculum, duration="20 min")
    topic = load_curriculum(curriculum).topics["attention"]
    assert topic.resources[-1] == Resource(
        title="The Illustrated Transformer",
        url=GOOD["--url"],
        type="article",
        level="intro",
        free=True,
        author="Jay Alammar",
        description="Pictures of every step.",
        duration="20 min",
    )


def test_long_description_is_folded_like_the_file(curriculum: Path) -> None:
    """Text too long for one line is written as a folded block wrapped at 80 columns, and reads back whole."""
    text = " ".join(["Attention explained step by step with clear pictures of queries, keys and values."] * 2)
    assert add(curriculum, description=text).returncode == 0
    lines = (curriculum / "topics" / "attention.yml").read_text().splitlines()
    assert lines[35] == "    description: >-"
    assert all(len(line) <= 80 and line.startswith("      ") for line in lines[36:38])
    assert load_curriculum(curriculum).topics["attention"].resources[-1].description == text


def test_text_that_yaml_would_misread_is_quoted(curriculum: Path) -> None:
    """A title with ': ' and an author like 'No' stay text (quoted), not a mapping or a boolean."""
    assert add(curriculum, title="Attention: a survey", author="No").returncode == 0
    resource = load_curriculum(curriculum).topics["attention"].resources[-1]
    assert (resource.title, resource.author) == ("Attention: a survey", "No")


def test_paid_writes_free_false(curriculum: Path) -> None:
    """--paid writes 'free: false'."""
    assert add(curriculum, free="--paid").returncode == 0
    assert load_curriculum(curriculum).topics["attention"].resources[-1].free is False


def test_blank_lines_between_items_are_kept_as_the_file_writes_them(curriculum: Path) -> None:
    """In a file that separates resources with a blank line, the new one is separated the same way."""
    attention = curriculum / "topics" / "attention.yml"
    spaced = attention.read_text().replace(
        "  - title: Hugging Face course", "\n  - title: Hugging Face course"
    )
    attention.write_text(spaced)
    assert add(curriculum).returncode == 0
    text = attention.read_text()
    assert (
        text.replace("\n" + ENTRY.format(url=GOOD["--url"], type="article", author="Jay Alammar"), "")
        == spaced
    )


def test_other_indentation_and_line_endings_are_matched() -> None:
    """Items written flush left with CRLF line endings get a flush-left CRLF entry; nothing else changes."""
    text = "resources:\r\n- title: A # first\r\n  url: https://a.org\r\n# trailing\r\nquestions: []\r\n"
    entry = {"title": "B", "url": "https://b.org"}
    spliced = add_to_text(text, entry, "x.yml")
    assert spliced.text == text.replace("# trailing", "- title: B\r\n  url: https://b.org\r\n# trailing")


def test_dry_run_prints_the_entry_and_writes_nothing(curriculum: Path) -> None:
    """--dry-run checks the entry and prints it; the file stays as it was."""
    attention = curriculum / "topics" / "attention.yml"
    before = attention.read_bytes()
    flags = [part for pair in GOOD.items() for part in pair]
    result = run("add-resource", "--topic", "attention", *flags, "--free", "--dry-run", cwd=curriculum.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("  - title: The Illustrated Transformer\n")
    assert attention.read_bytes() == before


REFUSED = [
    (
        "duplicate-url",
        {"url": "https://arxiv.org/abs/1706.03762"},
        "curriculum/topics/attention.yml:31:10: resources[2].url: https://arxiv.org/abs/1706.03762 is already listed at curriculum/topics/attention.yml:17:10; keep one entry and delete this one",
    ),
    (
        "bad-url",
        {"url": "arxiv.org/abs/1409.0473"},
        "curriculum/topics/attention.yml:31:10: resources[2].url: 'arxiv.org/abs/1409.0473' is not an http(s) URL; write the full address, e.g. https://arxiv.org/abs/1409.0473",
    ),
    (
        "javascript-url",
        {"url": "javascript:alert(1)"},
        "curriculum/topics/attention.yml:31:10: resources[2].url: 'javascript:alert(1)' is not an http(s) URL; only http:// and https:// links are accepted",
    ),
    (
        "bad-enum",
        {"type": "vidoe"},
        "curriculum/topics/attention.yml:32:11: resources[2].type: 'vidoe' is not allowed; did you mean 'video'? (one of: video, course, book, paper, article, interactive, tool, community)",
    ),
]


@pytest.mark.parametrize(("changes", "message"), [case[1:] for case in REFUSED], ids=[c[0] for c in REFUSED])
def test_bad_input_is_refused_and_the_file_untouched(
    curriculum: Path, changes: dict[str, str], message: str
) -> None:
    """Exit 1, the validator's one-line message, 'nothing written', and the file byte-identical."""
    attention = curriculum / "topics" / "attention.yml"
    before = attention.read_bytes()
    result = add(curriculum, **changes)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [message, "nothing written"]
    assert "Traceback" not in result.stderr
    assert attention.read_bytes() == before


@pytest.mark.parametrize(("changes", "message"), [case[1:] for case in REFUSED], ids=[c[0] for c in REFUSED])
def test_refusal_is_what_validate_says_of_the_same_edit(
    tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    """Writing the same entry by hand and running `llm-path validate` gives the very same line."""
    copy = tmp_path / "curriculum"
    shutil.copytree(FIXTURES / "curriculum", copy)
    attention = copy / "topics" / "attention.yml"
    values = {"url": GOOD["--url"], "type": "article", "author": "Jay Alammar", **changes}
    attention.write_text(
        attention.read_text().replace("questions:", ENTRY.format(**values) + "questions:", 1)
    )
    result = run("validate", "curriculum", cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr.splitlines()


def test_empty_author_is_refused_with_the_validator_message(curriculum: Path) -> None:
    """An empty value gets the loader's 'is empty' message at the entry's line."""
    result = add(curriculum, author="")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "curriculum/topics/attention.yml:35:13: resources[2].author: is empty; write some text",
        "nothing written",
    ]


def test_unknown_topic_is_refused_with_a_suggestion(curriculum: Path) -> None:
    """A misspelt topic id gets 'did you mean', exit 1, and no file changes."""
    before = {p: p.read_bytes() for p in curriculum.rglob("*.yml")}
    result = add(curriculum, topic="atention")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "curriculum/topics/atention.yml:1:1: --topic: no topic 'atention' in topics/; did you mean 'attention'?",
        "nothing written",
    ]
    assert {p: p.read_bytes() for p in curriculum.rglob("*.yml")} == before


def test_missing_flag_is_a_usage_error(curriculum: Path) -> None:
    """Leaving out a required value is a usage error (exit 2) naming the flag and what it holds."""
    result = run(
        "add-resource", "--topic", "attention", *[p for kv in GOOD.items() for p in kv], cwd=curriculum.parent
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "llm-path add-resource: error: missing --free or --paid (true when it can be read or watched without paying)"
    ]


def test_a_broken_curriculum_is_not_touched(curriculum: Path) -> None:
    """When the curriculum already has problems they are listed first and nothing is written."""
    calculus = curriculum / "topics" / "calculus.yml"
    calculus.write_text(calculus.read_text().replace("hours:", "hour:"))
    attention = curriculum / "topics" / "attention.yml"
    before = attention.read_bytes()
    result = add(curriculum)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        "the curriculum already has problems; fix them first ('llm-path validate' lists them)",
        "nothing written",
    ]
    assert attention.read_bytes() == before


# --fetch-title, against a real server on 127.0.0.1 -------------------------------------------------------

PAGES = {
    "/page": (
        "text/html; charset=utf-8",
        b"<html><head><title>\n  Attention &amp; Transformers\n</title></head></html>",
    ),
    "/late": (
        "text/html",
        b"<html><head>" + b"<!-- padding -->" * 5000 + b"<title>Too late</title></head></html>",
    ),
    "/pdf": ("application/pdf", b"%PDF-1.4"),
    "/moved": ("", b""),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/page")
            self.end_headers()
            return
        content_type, body = PAGES.get(self.path, ("text/plain", b"not found"))
        self.send_response(200 if self.path in PAGES else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving PAGES; yields its base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def fetch(curriculum: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    values = {k: v for k, v in GOOD.items() if k != "--title"}
    flags = [part for key, value in {**values, "--url": url}.items() for part in (key, value)]
    return run(
        "add-resource",
        "--topic",
        "attention",
        *flags,
        "--free",
        "--fetch-title",
        *extra,
        cwd=curriculum.parent,
    )


def test_fetch_title_reads_the_page_title(curriculum: Path, server: str) -> None:
    """--fetch-title uses the page's <title>, entities decoded and whitespace collapsed."""
    result = fetch(curriculum, f"{server}/page", "--allow-private")
    assert result.returncode == 0, result.stderr
    assert load_curriculum(curriculum).topics["attention"].resources[-1].title == "Attention & Transformers"


def test_fetch_title_follows_redirects(curriculum: Path, server: str) -> None:
    """A redirect is followed to the page whose title is read."""
    result = fetch(curriculum, f"{server}/moved", "--allow-private")
    assert result.returncode == 0, result.stderr
    assert load_curriculum(curriculum).topics["attention"].resources[-1].title == "Attention & Transformers"


def test_fetch_title_refuses_loopback_by_default(curriculum: Path, server: str) -> None:
    """Without --allow-private a loopback address is refused before any request; nothing is written."""
    attention = curriculum / "topics" / "attention.yml"
    before = attention.read_bytes()
    result = fetch(curriculum, f"{server}/page")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"--fetch-title: cannot read the title of {server}/page: refused: 127.0.0.1 resolves to the non-public address 127.0.0.1; give --title instead",
        "nothing written",
    ]
    assert attention.read_bytes() == before


def test_fetch_title_reads_at_most_64_kib(curriculum: Path, server: str) -> None:
    """A <title> beyond the first 64 KiB is not read; the command says so and asks for --title."""
    result = fetch(curriculum, f"{server}/late", "--allow-private")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].endswith(
        "/late: no <title> in the first 64 KiB of the page; give --title instead"
    )


def test_fetch_title_refuses_what_is_not_html(curriculum: Path, server: str) -> None:
    """A PDF has no <title> to read: a clear message, exit 1."""
    result = fetch(curriculum, f"{server}/pdf", "--allow-private")
    assert result.returncode == 1
    assert "not an HTML page (application/pdf); give --title instead" in result.stderr


def test_connected_address_is_checked_again(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even past the name check (as after DNS rebinding), a connection to a loopback peer is refused."""
    monkeypatch.setattr(fetch_title_module, "_vet_host", lambda host, port: None)
    with pytest.raises(TitleError, match=r"connected to the non-public address 127\.0\.0\.1"):
        fetch_title(f"{server}/page")


def test_a_trickling_page_is_abandoned_at_the_time_limit() -> None:
    """A server sending its page a byte at a time cannot hold --fetch-title past its deadline."""
    with LinkServer() as trickler:
        url = trickler.add(
            "/slow", Reply(200, headers={"Content-Type": "text/html"}, body_size=4096, trickle_body=0.2)
        )
        started = time.monotonic()
        with pytest.raises(TitleError, match="timed out after 1 s"):
            fetch_title(url, allow_private=True, timeout=1.0)
        assert time.monotonic() - started < 2.0
