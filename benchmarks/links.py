"""Benchmark: the link checker against a naive requests loop and lychee, on 1,000 loopback URLs.

Twenty servers on 127.0.0.1-127.0.0.20 (checkers limit per host name) answer after 50 ms,
redirect hops included, with a known mix: normal, slow, redirected (301, 302, 308 chains),
429 with Retry-After: 1 then 200, 10 MiB bodies, HEAD refused, 403 unless browser-like,
404, 410, 500, redirect loops, hanging answers, connection resets and a refused port.

    python benchmarks/links.py [--sample N] [--no-naive] [--no-lychee]

"Correct" compares each checker's working/broken verdict with the ground truth (a bot-blocked
page must not be reported broken); "exact" asks the checker's own status to match too (ours
only, since the others have no such vocabulary). The naive loop runs on a stratified sample
and its time and score are extrapolated to 1,000, as the table says.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from linkserver import LinkServer, Reply, free_port, redirect  # noqa: E402

from llm_path.links.checker import check_links  # noqa: E402
from llm_path.links.config import load_config  # noqa: E402

HOSTS = 20
LATENCY = 0.05
TEN_MIB = 10 * 2**20

# kind: (count, our expected status, the page works for a reader?)
MIX: dict[str, tuple[int, str, bool]] = {
    "ok": (570, "alive", True),
    "slow": (40, "alive", True),
    "moved301": (60, "moved", True),
    "found302": (40, "alive", True),
    "chain308": (20, "moved", True),
    "rate429": (40, "alive", True),
    "big": (20, "alive", True),
    "big_nohead": (20, "alive", True),
    "head405": (40, "alive", True),
    "botblock": (40, "alive", True),
    "notfound404": (40, "dead", False),
    "gone410": (10, "dead", False),
    "error500": (20, "error", False),
    "loop": (10, "error", False),
    "hang": (10, "error", False),
    "reset": (10, "error", False),
    "refused": (10, "error", False),
}
WORKING = {"alive", "moved", "unverified"}


@dataclass(frozen=True)
class Link:
    url: str
    kind: str

    @property
    def expected(self) -> str:
        return MIX[self.kind][1]

    @property
    def works(self) -> bool:
        return MIX[self.kind][2]


def build(servers: list[LinkServer]) -> list[Link]:
    """Routes for every kind, spread round-robin over the hosts in a fixed shuffled order."""
    kinds = [k for k, (n, _, _) in MIX.items() for _ in range(n)]
    random.Random(9).shuffle(kinds)
    refused_ports = {s.host: free_port(s.host) for s in servers}
    links = []
    for i, kind in enumerate(kinds):
        s = servers[i % len(servers)]
        path = f"/{kind}/{i}"
        if kind == "refused":
            links.append(Link(f"http://{s.host}:{refused_ports[s.host]}{path}", kind))
            continue
        target = f"/target/{i}"
        s.add(target)
        replies = {
            "ok": [Reply()],
            "slow": [Reply(delay=1.5)],
            "moved301": [redirect(301, target)],
            "found302": [redirect(302, target)],
            "chain308": [redirect(308, f"/hop/{i}")],
            "rate429": [Reply(status=429, headers={"Retry-After": "1"}), Reply()],
            "big": [Reply(body_size=TEN_MIB)],
            "big_nohead": [Reply(body_size=TEN_MIB, head_status=405)],
            "head405": [Reply(head_status=405)],
            "botblock": [Reply(browser_only=True)],
            "notfound404": [Reply(status=404)],
            "gone410": [Reply(status=410)],
            "error500": [Reply(status=500)],
            "loop": [redirect(302, f"/loop-back/{i}")],
            "hang": [Reply(hang=True)],
            "reset": [Reply(reset=True)],
        }[kind]
        if kind == "chain308":
            s.add(f"/hop/{i}", redirect(301, target))
        if kind == "loop":
            s.add(f"/loop-back/{i}", redirect(302, path))
        links.append(Link(s.add(path, *replies), kind))
    return links


@dataclass
class Row:
    name: str
    wall: float
    correct: float
    exact: int | None
    peak: int
    note: str = ""


def run_ours(links: list[Link], servers: list[LinkServer]) -> tuple[Row, list[str]]:
    options = replace(load_config(ROOT / "links.toml"), allow_private=True)
    started = time.monotonic()
    results = check_links([link.url for link in links], options)
    wall = time.monotonic() - started
    by_url = {r.url: r for r in results}
    wrong = [
        f"  {link.kind}: {link.url} -> {by_url[link.url].status} ({by_url[link.url].detail})"
        for link in links
        if by_url[link.url].status != link.expected
    ]
    correct = sum((by_url[link.url].status in WORKING) == link.works for link in links)
    exact = sum(by_url[link.url].status == link.expected for link in links)
    note = f"per_host={options.per_host}, read_timeout={options.read_timeout:g} s (links.toml)"
    return Row("llm-path links", wall, correct, exact, peak(servers), note), wrong


def run_naive(links: list[Link], servers: list[LinkServer], sample: int) -> Row:
    """A sequential requests.get loop (timeout 10 s), on a stratified sample."""
    chosen: list[Link] = []
    for kind, (n, _, _) in MIX.items():
        of_kind = [link for link in links if link.kind == kind]
        chosen += of_kind[: max(1, round(n * sample / len(links)))]
    started = time.monotonic()
    correct = 0
    for link in chosen:
        try:
            works = requests.get(link.url, timeout=10).ok
        except requests.RequestException:
            works = False
        correct += works == link.works
    wall = time.monotonic() - started
    scale = len(links) / len(chosen)
    return Row(
        "requests loop",
        wall * scale,
        correct * scale,
        None,
        peak(servers),
        f"sample of {len(chosen)}, time and score x{scale:.1f}",
    )


def run_lychee(links: list[Link], servers: list[LinkServer], lychee: str) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        urls = Path(tmp) / "urls.txt"
        urls.write_text("".join(link.url + "\n" for link in links))
        out = Path(tmp) / "out.json"
        started = time.monotonic()
        subprocess.run(
            [lychee, "--no-progress", "--format", "json", "--output", str(out), str(urls)],
            cwd=tmp,
            capture_output=True,
            check=False,
        )
        wall = time.monotonic() - started
        report = json.loads(out.read_text())
    broken = {
        entry["url"]
        for key in ("fail_map", "error_map", "timeout_map")
        for entries in report.get(key, {}).values()
        for entry in entries
    }
    correct = sum((link.url not in broken) == link.works for link in links)
    version = subprocess.run(
        [lychee, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return Row(version, wall, correct, None, peak(servers), "defaults")


def peak(servers: list[LinkServer]) -> int:
    return max(s.peak for s in servers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=100, help="URLs for the naive loop (default 100)")
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--no-lychee", action="store_true")
    args = parser.parse_args()

    servers = [LinkServer(f"127.0.0.{i}", latency=LATENCY).start() for i in range(1, HOSTS + 1)]
    try:
        links = build(servers)
        rows = []

        def fresh() -> None:
            deadline = time.monotonic() + 15  # let the previous checker's connections close
            while any(s.open for s in servers) and time.monotonic() < deadline:
                time.sleep(0.05)
            for s in servers:
                s.reset_stats()

        fresh()
        ours, wrong = run_ours(links, servers)
        rows.append(ours)
        lychee = shutil.which("lychee") or str(Path(sys.executable).parent / "lychee")
        if not args.no_lychee and Path(lychee).exists():
            fresh()
            rows.append(run_lychee(links, servers, lychee))
        if not args.no_naive:
            fresh()
            rows.append(run_naive(links, servers, args.sample))
    finally:
        for s in servers:
            s.stop()

    n = len(links)
    print(f"{n} URLs on {HOSTS} hosts, {LATENCY * 1000:.0f} ms per answer\n")
    print(f"{'checker':<16} {'wall s':>8} {'links/s':>8} {'correct':>8} {'exact':>6} {'peak/host':>9}  notes")
    for r in rows:
        exact = "-" if r.exact is None else str(r.exact)
        print(
            f"{r.name:<16} {r.wall:>8.1f} {n / r.wall:>8.1f} {r.correct:>8.0f} {exact:>6} {r.peak:>9}  {r.note}"
        )
    lychee_rows = [r for r in rows if r.name.startswith("lychee")]
    if lychee_rows:
        print(f"\nwall time, ours / lychee: {ours.wall / lychee_rows[0].wall:.2f} (aim: at most 0.5)")
    print(f"ours: {ours.exact}/{n} exact (aim {n}), peak {ours.peak} connections per host (aim at most 6)")
    if wrong:
        print("misclassified by ours:", *wrong[:20], sep="\n")
    aims = ours.exact == n and ours.peak <= 6 and (not lychee_rows or ours.wall <= lychee_rows[0].wall / 2)
    return 0 if aims else 1


if __name__ == "__main__":
    sys.exit(main())
