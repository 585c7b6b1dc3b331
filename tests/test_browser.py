"""What a learner does in the browser, in a real headless Chromium against the built site on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import icalendar
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, serve
from conftest import BIN, FIXTURES, build_site
from playwright import sync_api as playwright_api

pytestmark = pytest.mark.browser

PAGES = {
    "home": "",
    "phase": "phases/foundations/",
    "topic": "topics/linear-algebra/",
    "notebook": "notebooks/linear-algebra/",
    "plan": "plan/",
    "resources": "resources/",
    "glossary": "glossary/",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("browser"), FIXTURES / "curriculum")


@pytest.fixture(scope="module")
def site_url(site: Path) -> Iterator[str]:
    with serve(site) as url:
        yield url


def every_page(site: Path) -> list[str]:
    """The path of every page of the built site, relative to its root, the 404 page included."""
    pages = sorted(str(p.parent.relative_to(site)) for p in site.rglob("index.html"))
    return [("" if p == "." else p + "/") for p in pages] + ["404.html"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install chromium"
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object, site_url: str) -> Iterator[object]:
    """A fresh browser context (empty localStorage) whose requests may only go to the test server."""
    context = browser.new_context(accept_downloads=True)
    outside: list[str] = []

    def guard(route: object) -> None:
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
    assert outside == [], f"requests left the machine: {outside}"


def test_search_lists_the_topic_first(page: object, site_url: str) -> None:
    """Searching 'attention' puts the attention topic first."""
    page.goto(site_url)
    page.locator("label.md-search__icon, .md-search__input").first.click()
    page.locator(".md-search__input").press_sequentially("attention", delay=20)
    first = page.locator(".md-search-result__item").first
    first.wait_for()
    assert "/topics/attention/" in first.locator("a").first.get_attribute("href")


def test_ticking_a_topic_moves_the_phase_bar_across_reload_and_instant_navigation(
    page: object, site_url: str
) -> None:
    """A ticked topic counts on its phase page after an instant navigation and after a reload."""
    page.goto(site_url + PAGES["topic"])
    page.get_by_label("I have finished this topic").check()
    page.locator(".lp-meta a").first.click()  # instant navigation to the phase page
    page.wait_for_url("**/phases/foundations/")
    bar = page.locator('.lp-progress[data-progress="phase"]')
    assert bar.locator(".lp-progress-value").inner_text() == "1 of 2 topics done"
    page.reload()
    assert bar.locator(".lp-progress-value").inner_text() == "1 of 2 topics done"
    assert bar.locator("progress").evaluate("p => p.value") == 1


def test_marking_prerequisites_as_known_ticks_the_listed_topics_and_undoes(
    page: object, site_url: str
) -> None:
    """The button names how many topics it ticks (the prerequisites the page lists), ticks those and not this
    one, and then undoes exactly what it ticked."""
    page.goto(site_url + PAGES["topic"])
    page.get_by_label("I have finished this topic").check()  # linear algebra, before the click
    page.goto(site_url + "topics/attention/")
    listed = page.locator(".lp-prerequisites a").all_inner_texts()
    assert listed == ["Linear algebra", "Calculus and optimization"]
    page.get_by_role("button", name="Mark these 2 topics as known").click()
    status = page.locator("[data-mark-status]")
    assert status.inner_text() == "Marked 1 topic as known (the others were already ticked)."
    assert not page.get_by_label("I have finished this topic").is_checked()
    page.goto(site_url)
    bar = page.locator('.lp-progress[data-progress="path"] .lp-progress-value')
    assert bar.inner_text() == "2 of 3 topics done"


def test_undo_unticks_only_what_the_button_ticked(page: object, site_url: str) -> None:
    """Undo after marking restores the progress as it was: topics ticked before stay ticked."""
    page.goto(site_url + PAGES["topic"])
    page.get_by_label("I have finished this topic").check()
    page.goto(site_url + "topics/attention/")
    page.get_by_role("button", name="Mark these 2 topics as known").click()
    page.get_by_role("button", name="Undo").click()
    assert page.locator("[data-mark-status]").inner_text() == "Unticked 1 topic again."
    assert page.get_by_role("button", name="Mark these 2 topics as known").is_visible()
    page.goto(site_url)
    assert (
        page.locator('.lp-progress[data-progress="path"] .lp-progress-value').inner_text()
        == "1 of 3 topics done"
    )


def test_export_then_import_restores_progress_in_a_fresh_browser(
    browser: object, page: object, site_url: str, tmp_path: Path
) -> None:
    """Progress exported as JSON and imported into a new context comes back."""
    page.goto(site_url + PAGES["topic"])
    page.get_by_label("I have finished this topic").check()
    page.goto(site_url)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export progress").click()
    saved = tmp_path / "progress.json"
    download.value.save_as(saved)
    assert "t-linear-algebra" in json.loads(saved.read_text())["progress"]["done"]
    fresh = browser.new_context().new_page()
    fresh.goto(site_url)
    assert (
        fresh.locator('.lp-progress[data-progress="path"] .lp-progress-value').inner_text()
        == "0 of 3 topics done"
    )
    fresh.locator("[data-progress-tools] input[type=file]").set_input_files(str(saved))
    fresh.locator("[data-transfer-status]").filter(has_text="Imported").wait_for()
    assert (
        fresh.locator('.lp-progress[data-progress="path"] .lp-progress-value').inner_text()
        == "1 of 3 topics done"
    )
    fresh.context.close()


def test_import_adds_to_the_progress_already_here(page: object, site_url: str, tmp_path: Path) -> None:
    """Importing a file keeps what this browser had ticked and adds the file's, and says what it did."""
    page.goto(site_url + "topics/attention/")
    page.get_by_label("I have finished this topic").check()
    saved = tmp_path / "other-browser.json"
    other = {"t-linear-algebra": "2026-12-01T10:00:00Z", "t-attention": "2026-11-01T10:00:00Z"}
    saved.write_text(json.dumps({"format": "llm-path-progress", "version": 1, "progress": {"done": other}}))
    page.goto(site_url)
    page.locator("[data-progress-tools] input[type=file]").set_input_files(str(saved))
    status = page.locator("[data-transfer-status]")
    status.filter(has_text="Imported").wait_for()
    assert status.inner_text() == (
        "Imported other-browser.json: 1 finished item added (2 in all), 0 flashcard schedules updated; "
        "nothing was removed."
    )
    assert (
        page.locator('.lp-progress[data-progress="path"] .lp-progress-value').inner_text()
        == "2 of 3 topics done"
    )
    done = json.loads(page.evaluate("localStorage.getItem('llm-path:progress')"))["done"]
    assert done["t-attention"] == "2026-11-01T10:00:00Z", "an item keeps the earlier of its two dates"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("this is not json {", "it is not a JSON file."),
        ('{"format": "something-else", "progress": {"done": {}}}', "it is not an llm-path progress file."),
        ("[1, 2, 3]", "it is not an llm-path progress file."),
        ("null", "it is not an llm-path progress file."),
    ],
)
def test_an_invalid_file_gets_a_plain_sentence(
    page: object, site_url: str, tmp_path: Path, content: str, reason: str
) -> None:
    """A file that is not an export is refused in one sentence, with no JavaScript error and nothing changed."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site_url + PAGES["topic"])
    page.get_by_label("I have finished this topic").check()
    bad = tmp_path / "notes.json"
    bad.write_text(content)
    page.goto(site_url)
    page.locator("[data-progress-tools] input[type=file]").set_input_files(str(bad))
    status = page.locator("[data-transfer-status]")
    status.filter(has_text="Could not").wait_for()
    assert (
        status.inner_text() == f"Could not import notes.json: {reason} Choose a file made by Export progress."
    )
    assert errors == []
    assert (
        page.locator('.lp-progress[data-progress="path"] .lp-progress-value').inner_text()
        == "1 of 3 topics done"
    )


def test_filter_narrows_the_list_and_its_url_reproduces_the_view(page: object, site_url: str) -> None:
    """Choosing a type hides the rest; the URL carries the filter and reopens the same view."""
    page.goto(site_url + PAGES["resources"])
    visible = page.locator("li.lp-resource:visible")
    assert visible.count() == 5
    page.get_by_label("Type").select_option("video")
    assert visible.count() == 1
    assert "type=video" in page.url
    other = page.context.new_page()
    other.goto(page.url)
    assert other.locator("li.lp-resource:visible").count() == 1
    assert other.get_by_label("Type").input_value() == "video"


def test_filter_hides_emptied_headings_says_when_nothing_matches_and_resets(
    page: object, site_url: str
) -> None:
    """A phase whose resources are all filtered out loses its heading; no match says so; one click shows all again."""
    page.goto(site_url + PAGES["resources"])
    phase_two = page.get_by_role("heading", name="Phase 2: Transformer architecture")
    reset = page.get_by_role("button", name="Reset filters")
    assert phase_two.is_visible() and reset.is_hidden()
    page.get_by_label("Type").select_option("video")
    assert phase_two.is_hidden() and page.get_by_role("heading", name="Attention mechanisms").is_hidden()
    assert page.get_by_role("heading", name="Phase 1: Mathematical foundations").is_visible()
    assert reset.is_visible()
    page.get_by_label("Price").select_option("paid")
    empty = page.locator(".lp-filter-empty")
    assert empty.is_visible() and empty.inner_text().startswith("No resources match these filters.")
    assert page.locator("li.lp-resource:visible").count() == 0
    page.get_by_role("button", name="Show all resources").click()
    assert page.locator("li.lp-resource:visible").count() == 5
    assert empty.is_hidden() and reset.is_hidden() and phase_two.is_visible()
    assert "type=" not in page.url and "price=" not in page.url
    page.get_by_label("Level").select_option("advanced")
    reset.click()
    assert (
        page.locator("li.lp-resource:visible").count() == 5 and page.get_by_label("Level").input_value() == ""
    )


def test_flashcard_drill_reveals_and_reschedules(page: object, site_url: str) -> None:
    """'Show answer' reveals it; 'Knew it' moves the card to box 1, due tomorrow."""
    page.goto(site_url + PAGES["topic"])
    page.get_by_role("button", name="Drill 1 question (1 due)").click()
    assert page.locator(".lp-card-question").inner_text() == "What does a dot product measure?"
    assert page.locator(".lp-card-answer").is_hidden()
    page.get_by_role("button", name="Show answer").click()
    assert page.locator(".lp-card-answer").inner_text() == "How aligned two vectors are."
    page.get_by_role("button", name="Knew it").click()
    state = json.loads(page.evaluate("localStorage.getItem('llm-path:cards')"))
    (entry,) = state.values()
    today = page.evaluate(
        "(() => { const n = new Date(); return Date.UTC(n.getFullYear(), n.getMonth(), n.getDate()); })()"
    )
    assert entry["box"] == 1 and entry["due"] == today + 86400000
    assert page.locator(".lp-card-done").inner_text().startswith("Done: 1 knew it, 0 again.")


VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1440, "height": 900}}


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_drill_shows_no_grading_button_before_the_answer(page: object, site_url: str, viewport: str) -> None:
    """Before 'Show answer' only that button is visible; after it, only 'Knew it' and 'Again' are."""
    page.set_viewport_size(VIEWPORTS[viewport])
    page.goto(site_url + PAGES["phase"])
    page.get_by_role("button", name="Drill 2 questions (2 due)").click()
    card = page.locator(".lp-card")

    def visible_buttons() -> list[str]:
        return [b.inner_text() for b in card.get_by_role("button").all() if b.is_visible()]

    assert visible_buttons() == ["Show answer"]
    card.get_by_role("button", name="Show answer").click()
    assert visible_buttons() == ["Knew it", "Again"]
    card.get_by_role("button", name="Again").click()
    assert visible_buttons() == ["Show answer"], "the next card starts hidden again"


def test_plan_page_agrees_with_the_cli_and_its_calendar_parses(
    page: object, site_url: str, tmp_path: Path
) -> None:
    """The page's plan equals `llm-path plan` for the same inputs, and its .ics holds one event per week."""
    page.goto(site_url + PAGES["plan"])
    page.locator("select[name=track]").select_option("beginner")
    page.locator("input[name=start]").fill("2027-01-04")
    page.locator("input[name=hours]").fill("7")
    page.get_by_role("button", name="Make my plan").click()
    output = page.locator("[data-plan-output]")
    output.locator("table").wait_for()
    browser_plan = json.loads(output.get_attribute("data-plan-json"))
    cli = subprocess.run(
        [
            str(BIN / "llm-path"),
            "plan",
            "--track",
            "beginner",
            "--start",
            "2027-01-04",
            "--hours-per-week",
            "7",
            "--json",
            "--curriculum",
            str(FIXTURES / "curriculum"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert browser_plan == json.loads(cli.stdout)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download calendar (.ics)").click()
    ics = tmp_path / "plan.ics"
    download.value.save_as(ics)
    events = icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    assert [e.decoded("DTSTART") for e in events] == [
        dt.date(2027, 1, 4) + dt.timedelta(weeks=i) for i in range(len(browser_plan))
    ]
    assert str(events[0]["SUMMARY"]) == "LLM path week 1: Linear algebra"


def test_planner_at_its_default_pace_takes_the_weeks_the_home_page_says(page: object, site_url: str) -> None:
    """The home page's track length and the planner's plan, with the hours it suggests, are the same number of weeks."""
    page.goto(site_url)
    length = page.locator(".lp-track-length").first.inner_text()
    page.goto(site_url + PAGES["plan"])
    page.get_by_role("button", name="Make my plan").click()
    summary = page.locator("[data-plan-summary]")
    summary.filter(has_text="weeks").wait_for()
    assert length == "47 hours · about 3 weeks at 16 hours a week"
    assert summary.inner_text().startswith("Beginner, 47 hours: 3 weeks at 16 hours a week, from ")


def test_glossary_tip_shows_on_focus(page: object, site_url: str) -> None:
    """A glossary term links to its entry and its definition appears when the link gets keyboard focus."""
    page.goto(site_url + PAGES["topic"])
    term = page.locator('a.lp-term[href$="#dot-product"]')
    assert term.get_attribute("href").endswith("/glossary/#dot-product")
    tip = page.locator("#" + term.get_attribute("aria-describedby"))
    assert tip.is_hidden()
    term.focus()
    assert tip.is_visible()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_focused_tips_stay_inside_the_viewport(page: object, site_url: str, viewport: str) -> None:
    """Every glossary tip, shown by keyboard focus, lies inside the viewport and widens no page."""
    page.set_viewport_size(VIEWPORTS[viewport])
    width = VIEWPORTS[viewport]["width"]
    outside = []
    checked = 0
    for kind, path in PAGES.items():
        page.goto(site_url + path)
        for term in page.locator("a.lp-term").all():
            term.focus()
            tip = page.locator("#" + term.get_attribute("aria-describedby"))
            box = tip.bounding_box()
            checked += 1
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            if box["x"] < 0 or box["x"] + box["width"] > width or scroll_width > width:
                outside.append(f"{kind}: {term.inner_text()}: {box['x']:.0f}-{box['x'] + box['width']:.0f}")
    assert checked >= 3 and outside == []


def test_escape_closes_a_tip(page: object, site_url: str) -> None:
    """Escape hides the tip of the focused term; focusing it again shows it again."""
    page.goto(site_url + PAGES["topic"])
    term = page.locator("a.lp-term").first
    tip = page.locator("#" + term.get_attribute("aria-describedby"))
    term.focus()
    assert tip.is_visible()
    page.keyboard.press("Escape")
    assert tip.is_hidden()
    page.locator("h1").click()
    term.focus()
    assert tip.is_visible()


def test_the_404_page_links_onward(page: object, site_url: str) -> None:
    """An address with no page answers 404 with the site's own page: home, every phase, and a search that works."""
    response = page.goto(site_url + "topics/no-such-topic/")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert page.get_by_role("link", name="Home: the whole path at a glance").is_visible()
    for name in ("1. Mathematical foundations", "2. Transformer architecture"):
        assert page.locator(".lp-404-phases").get_by_role("link", name=name).is_visible()
    page.locator(".lp-404-phases").get_by_role("link", name="2. Transformer architecture").click()
    page.wait_for_url("**/phases/transformers/")
    assert page.get_by_role("heading", name="Phase 2: Transformer architecture", level=1).is_visible()
    page.goto(site_url + "some/deeper/missing/page/")
    page.get_by_label("Search the site").fill("attention")
    page.get_by_role("button", name="Search", exact=True).click()
    first = page.locator(".md-search-result__item").first
    first.wait_for()
    assert "/topics/attention/" in first.locator("a").first.get_attribute("href")


def test_ticked_topics_are_marked_in_the_diagram_and_the_sidebar(page: object, site_url: str) -> None:
    """A finished topic gets a check mark (and the word 'done' for screen readers) on the home diagram and in the
    sidebar, after an instant navigation too."""
    page.goto(site_url + PAGES["topic"])
    page.get_by_label("I have finished this topic").check()
    sidebar = page.locator(".md-nav--primary a.md-nav__link", has_text="Linear algebra").first
    sidebar.locator(".lp-done-mark").wait_for()
    assert "(done)" in sidebar.inner_text()
    page.locator(".md-nav--primary a.md-nav__link", has_text="Calculus and optimization").first.click()
    page.wait_for_url("**/topics/calculus/")
    assert (
        page.locator(".md-nav--primary a.md-nav__link", has_text="Linear algebra")
        .first.locator(".lp-done-mark")
        .count()
        == 1
    )
    assert (
        page.locator(".md-nav--primary a.md-nav__link", has_text="Calculus and optimization")
        .first.locator(".lp-done-mark")
        .count()
        == 0
    )
    page.goto(site_url)
    done = page.locator('.lp-diagram li[data-progress-topic="t-linear-algebra"]')
    assert "lp-is-done" in done.get_attribute("class") and "(done)" in done.inner_text()
    assert page.locator(".lp-diagram li.lp-is-done").count() == 1


def test_a_diagram_box_is_a_link_to_its_phase(page: object, site_url: str) -> None:
    """Clicking anywhere in a phase's box, outside its topic links, opens the phase."""
    page.goto(site_url)
    box = page.locator(".lp-diagram-phase").nth(1).bounding_box()
    page.mouse.click(box["x"] + box["width"] - 8, box["y"] + box["height"] - 8)
    page.wait_for_url("**/phases/transformers/")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_progress_bar_fills_as_much_as_is_done(browser: object, site_url: str, scheme: str) -> None:
    """At 0 of 3 the bar shows no fill, at 1 of 3 about a third of it, in either colour scheme."""
    from PIL import Image

    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()

    def filled() -> float:
        """The share of the bar's middle row drawn in the fill colour (--lp-progress-fill, resolved by a probe)."""
        bar = page.locator('.lp-progress[data-progress="path"] progress')
        colour = bar.evaluate(
            "b => { const p = document.createElement('span'); p.style.color = 'var(--lp-progress-fill)';"
            " b.parentElement.append(p); const c = getComputedStyle(p).color; p.remove(); return c; }"
        )
        fill = tuple(int(v) for v in colour.strip("rgba() ").split(",")[:3])
        image = Image.open(io.BytesIO(bar.screenshot())).convert("RGB")
        row = [image.getpixel((x, image.height // 2)) for x in range(2, image.width - 2)]
        return sum(all(abs(a - b) <= 24 for a, b in zip(pixel, fill, strict=True)) for pixel in row) / len(
            row
        )

    page.goto(site_url)
    assert filled() < 0.02
    page.goto(site_url + PAGES["topic"])
    page.get_by_label("I have finished this topic").check()
    page.goto(site_url)
    assert 0.25 < filled() < 0.42
    context.close()


def test_the_plan_is_a_styled_table_on_a_desktop_and_cards_on_a_phone(page: object, site_url: str) -> None:
    """The plan takes the theme's table style; on a phone each week stacks into labelled lines within the screen."""
    page.goto(site_url + PAGES["plan"])
    page.get_by_role("button", name="Make my plan").click()
    table = page.locator("[data-plan-output] table")
    table.wait_for()
    assert table.evaluate("t => getComputedStyle(t).borderTopStyle") == "solid", "the theme styles the table"
    assert table.locator("th").count() == 5
    page.set_viewport_size(VIEWPORTS["phone"])
    assert table.locator("thead").is_hidden()
    first = table.locator("tbody tr").first
    assert first.locator('td[data-label="Topics"] a').first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate("document.querySelector('.lp-plan').scrollWidth") <= 390


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_no_page_is_wider_than_the_viewport(
    browser: object, site: Path, site_url: str, viewport: str, scheme: str
) -> None:
    """Every page fits the screen's width: code, outputs, tables, maths and figures scroll inside their own boxes."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], color_scheme=scheme)
    page = context.new_page()
    width = VIEWPORTS[viewport]["width"]
    wide = {}
    for path in every_page(site):
        page.goto(site_url + path)
        page.wait_for_load_state("load")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            wide[path] = scroll_width
    page.evaluate(
        "document.querySelector('article').insertAdjacentHTML('beforeend', '<pre>' + 'x'.repeat(400))"
    )
    page.evaluate(
        "document.querySelector('article').insertAdjacentHTML('beforeend', '<span>' + 'x'.repeat(400))"
    )
    too_wide = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert too_wide > width, "the measure sees a page that is too wide"
    assert len(every_page(site)) > 10 and wide == {}


LATEX = re.compile(r"\$[^$\s][^$]*\$|\\[A-Za-z]{2,}|\\[()\[\]]|[_^]\{")
"""What LaTeX source looks like when it was not typeset: $...$, \\commands, \\( \\[, x_{...} or x^{...}."""
SHOWN_TEXT = """() => {
  const skip = new Set(["CODE", "PRE", "KBD", "SAMP", "SCRIPT", "STYLE", "math", "TEXTAREA"]);
  const walker = document.createTreeWalker(document.querySelector("article") || document.body, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let inside = false;
    for (let e = node.parentElement; e; e = e.parentElement) if (skip.has(e.tagName)) { inside = true; break; }
    if (!inside && node.textContent.trim()) out.push(node.textContent);
  }
  return out;
}"""
"""The text of the page's content outside code and maths, hidden parts too (tooltips and answers show on demand)."""


def test_no_text_outside_code_shows_latex_source(page: object, site: Path, site_url: str) -> None:
    """Maths is typeset wherever it appears: pages, tooltips, answers, notebook prose, a drill's cards."""
    found = []
    for path in every_page(site):
        page.goto(site_url + path)
        found += [f"{path}: {text.strip()[:80]}" for text in page.evaluate(SHOWN_TEXT) if LATEX.search(text)]
    page.goto(site_url + PAGES["phase"])
    page.get_by_role("button", name="Drill 2 questions (2 due)").click()
    for _ in range(2):
        page.get_by_role("button", name="Show answer").click()
        found += [f"drill: {t.strip()[:80]}" for t in page.evaluate(SHOWN_TEXT) if LATEX.search(t)]
        page.get_by_role("button", name="Knew it").click()
    assert found == []


def test_the_latex_check_finds_latex(page: object, site_url: str) -> None:
    """The check above can fail: raw LaTeX put on a page is found, maths typeset is not."""
    page.goto(site_url + PAGES["topic"])
    page.evaluate(
        "document.querySelector('article').insertAdjacentHTML('beforeend', "
        "'<p>compute $\\\\log \\\\sum_i e^{x_i}$ stably</p><p><code>$HOME</code></p>')"
    )
    assert [t for t in page.evaluate(SHOWN_TEXT) if LATEX.search(t)] == [
        "compute $\\log \\sum_i e^{x_i}$ stably"
    ]


def test_no_console_errors_on_any_page(page: object, site_url: str) -> None:
    """Every page type loads without a console error or an uncaught exception."""
    errors: list[str] = []
    page.on(
        "console",
        lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    for path in PAGES.values():
        page.goto(site_url + path)
        page.wait_for_load_state("networkidle")
    assert errors == []


@pytest.mark.parametrize("kind", ["home", "phase", "topic", "notebook", "plan", "resources"])
def test_no_accessibility_violations(page: object, site_url: str, kind: str) -> None:
    """axe-core finds no violation of any impact (minor included) on each page type."""
    import axe_playwright_python

    page.goto(site_url + PAGES[kind])
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(Path(axe_playwright_python.__file__).parent / "axe.min.js"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    found = [
        f"{v['impact']}: {v['id']}: {v['help']}: {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    assert found == []


def test_mermaid_diagram_renders_from_the_site_itself(page: object, site_url: str) -> None:
    """A Mermaid fence becomes an SVG diagram, with Mermaid loaded from this site, not a CDN."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(site_url + "how-it-works/")
    page.locator(".lp-mermaid-diagram svg").wait_for()
    assert "validated models" in page.locator(".lp-mermaid-diagram").inner_text()
    assert any(url.endswith("/assets/vendor/mermaid.min.js") for url in requests)


def test_pages_without_diagrams_do_not_load_mermaid(page: object, site_url: str) -> None:
    """Mermaid's 3.5 MB are fetched only by pages that have a diagram."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(site_url + PAGES["topic"])
    page.wait_for_load_state("networkidle")
    assert not any("mermaid" in url for url in requests)
