"""Notebooks in a real `mkdocs build --strict`: the page, a failing notebook, warm builds, a page from a runaway print."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

from conftest import FIXTURES, build_site, mkdocs_build, site_config


def test_site_shows_executed_notebook_with_outputs_and_figure(tmp_path: Path, curriculum: Path) -> None:
    """The notebook page holds code, printed output, maths as MathML and the figure as a file; the topic links it."""
    site = build_site(tmp_path, curriculum)
    page = (site / "notebooks/linear-algebra/index.html").read_text()
    assert "a . b =" in page and "32.0" in page
    assert "<math" in page and "$a" not in page
    toc = page.split('data-md-component="toc"', 1)[1].split("</nav>", 1)[0]
    assert "The components of <math" in toc, "maths in a heading is drawn in the table of contents too"
    figures = list((site / "notebooks/linear-algebra").glob("figure-*.png"))
    assert len(figures) == 1 and figures[0].read_bytes().startswith(b"\x89PNG")
    assert f'src="{figures[0].name}"' in page and "base64" not in page
    assert "<style" not in page.split("<article", 1)[1], "no inlined JupyterLab CSS"
    assert "cdnjs" not in page and "mathjax" not in page.lower()
    assert (site / "notebooks/linear-algebra/linear-algebra.ipynb").is_file(), "the .ipynb is downloadable"
    topic = (site / "topics/linear-algebra/index.html").read_text()
    assert 'href="../../notebooks/linear-algebra/"' in topic
    assert 'href="../../notebooks/linear-algebra/linear-algebra.ipynb"' in topic
    assert "https://colab.research.google.com/github/" in topic


def test_notebook_page_has_its_toolbar_and_an_index_lists_every_notebook(
    tmp_path: Path, curriculum: Path
) -> None:
    """Colab, the .ipynb, the topic, an edit link and when and with what it ran; the Notebooks tab opens on an index."""
    site = build_site(tmp_path, curriculum)
    page = (site / "notebooks/linear-algebra/index.html").read_text()
    bar = page.split('class="lp-notebook-bar"', 1)[1].split("</div>", 1)[0]
    assert (
        'href="https://colab.research.google.com/github/llm-path/llm-path/blob/gh-pages/notebooks/linear-algebra/linear-algebra.ipynb"'
        in bar
    )
    assert 'href="linear-algebra.ipynb" download' in bar
    assert 'href="../../topics/linear-algebra/"' in bar
    assert 'href="https://github.com/llm-path/llm-path/edit/main/notebooks/linear-algebra.py"' in bar
    facts = html.unescape(bar)
    assert re.search(
        r"Executed on \d{4}-\d\d-\d\d with Python 3\.\d+\.\d+ and torch [\d.]+\S*, in \d+ s", facts
    ), facts
    index = (site / "notebooks/index.html").read_text()
    assert 'href="linear-algebra/"' in index and 'href="../topics/linear-algebra/"' in index
    tab = page.split('class="md-tabs__list"', 1)[1].split("</ul>", 1)[0]
    assert 'href="../"' in tab or 'href="../index.html"' in tab or "notebooks/" in tab


def test_failing_notebook_fails_the_build(tmp_path: Path, curriculum: Path) -> None:
    """A notebook whose assert fails stops the build with the located message, no traceback."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURES / "notebooks", notebooks)
    source = notebooks / "linear-algebra.py"
    source.write_text(source.read_text().replace("assert dot == 32.0", "assert dot == 33.0, 'wrong dot'"))
    result = mkdocs_build(site_config(tmp_path, curriculum, notebooks), tmp_path / "site")
    assert result.returncode != 0
    assert (
        "notebooks/linear-algebra.py:14: cell 1 failed: AssertionError: wrong dot; run it alone with: llm-path notebooks linear-algebra"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_warm_and_notebook_free_builds_keep_the_converted_pages(tmp_path: Path, curriculum: Path) -> None:
    """A warm build shows the same notebook page from the caches; a build without notebooks evicts none of them."""
    site = build_site(tmp_path, curriculum)
    page = (site / "notebooks/linear-algebra/index.html").read_text()
    converted = sorted((tmp_path / ".llm-path-cache/notebooks/pages").iterdir())
    assert len(converted) == 1
    shutil.rmtree(site)
    assert build_site(tmp_path, curriculum) == site
    assert (site / "notebooks/linear-algebra/index.html").read_text() == page
    assert len(list((site / "notebooks/linear-algebra").glob("figure-*.png"))) == 1
    off = mkdocs_build(
        site_config(tmp_path, curriculum), tmp_path / "site-off", {"LLM_PATH_NOTEBOOKS": "false"}
    )
    assert off.returncode == 0, off.stderr
    assert not (tmp_path / "site-off/notebooks").exists()
    assert sorted((tmp_path / ".llm-path-cache/notebooks/pages").iterdir()) == converted


def test_a_cell_printing_100_mb_gives_a_bounded_page_with_the_note(tmp_path: Path, curriculum: Path) -> None:
    """The stored notebook, the page and its downloadable .ipynb each stay near the 1 MB cap, and the page says what was cut."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURES / "notebooks", notebooks)
    source = notebooks / "linear-algebra.py"
    source.write_text(source.read_text() + "\n# %%\nfor i in range(100_000):\n    print('x' * 999)\n")
    site = build_site(tmp_path, curriculum, notebooks)
    page = site / "notebooks/linear-algebra/index.html"
    assert page.stat().st_size < 1_500_000
    assert "[output truncated: 100.0 MB printed, first 1.0 MB kept]" in page.read_text()
    assert (site / "notebooks/linear-algebra/linear-algebra.ipynb").stat().st_size < 1_500_000
    [stored] = (tmp_path / ".llm-path-cache/notebooks/store").glob("linear-algebra-*.ipynb")
    assert stored.stat().st_size < 1_500_000
