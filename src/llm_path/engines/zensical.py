"""The Zensical adapter: a `zensical.toml` that builds the folder `llm-path render` writes.

Zensical reads only the plugins it knows, so it builds from the rendered site source
instead of running ours: the pages, notebook pages, data and assets are files under
`docs/`, the navigation comes from `nav.json`, and the per-page work is the same
Python-Markdown extension MkDocs uses (build/page_extension.py). Its settings are
mkdocs.yml's, read with MkDocs' own loader, so the site is configured in one place.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from llm_path.engines.config import read_mkdocs_yml

OVERRIDES_ZENSICAL_LACKS = ("partials/search.html",)
"""Our override of the theme's search box (a name for its dialog) leaves Zensical's search 'Initializing' forever."""


def _dotted(value: Any) -> Any:
    """mkdocs.yml names functions with !!python/name; TOML holds them as dotted names, which Zensical imports."""
    if callable(value):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, dict):
        return {key: _dotted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dotted(item) for item in value]
    return value


def _extensions(entries: list[Any]) -> dict[str, Any]:
    extensions: dict[str, Any] = {}
    for entry in entries:
        if isinstance(entry, str):
            extensions[entry] = {}
        else:
            for name, options in entry.items():
                extensions[name] = _dotted(options or {})
    return extensions


def _nav(entries: list[Any]) -> list[Any]:
    """MkDocs' navigation, as Zensical's TOML spells it (sections as tables of lists)."""
    return [
        {title: _nav(target) if isinstance(target, list) else target for title, target in entry.items()}
        for entry in entries
    ]


def write_config(mkdocs_yml: Path, out: Path, nav: list[Any], site_description: str) -> Path:
    """Write `out/zensical.toml` (and `out/overrides/`) for the site source under `out/docs`; return its path.

    Zensical builds into `out/site` (it keeps the site inside the folder of its config).
    """
    config = read_mkdocs_yml(mkdocs_yml)
    theme = dict(config.get("theme", {}))
    overrides = out / "overrides"
    if theme.get("custom_dir"):
        shutil.rmtree(overrides, ignore_errors=True)
        shutil.copytree(mkdocs_yml.parent / theme["custom_dir"], overrides)
        for relative in OVERRIDES_ZENSICAL_LACKS:
            (overrides / relative).unlink(missing_ok=True)
        theme["custom_dir"] = "overrides"
    theme.pop("name", None)
    theme["variant"] = "classic"  # the look of Material for MkDocs
    site_url = config.get("site_url") or "http://127.0.0.1:8000/"
    glossary = urlsplit(site_url).path.rstrip("/") + "/glossary/"
    extensions = _extensions(config.get("markdown_extensions", []))
    extensions["llm_path.build.page_extension"] = {"tips": str(out / "tips.json"), "glossary": glossary}
    project: dict[str, Any] = {
        "site_name": config["site_name"],
        "site_url": site_url,
        "site_description": config.get("site_description") or site_description,
        "copyright": config.get("copyright", ""),
        "docs_dir": "docs",  # Zensical resolves paths from its config's folder and needs them relative
        "site_dir": "site",
        "nav": _nav(nav),
        "extra_css": config.get("extra_css", []),
        "extra_javascript": config.get("extra_javascript", []),
        "theme": _dotted(theme),
        "markdown_extensions": extensions,
    }
    for key in ("repo_url", "repo_name", "edit_uri"):
        if config.get(key) is not None:
            project[key] = config[key]
    target = out / "zensical.toml"
    target.write_text(
        "# Written by `llm-path render` from mkdocs.yml; edit mkdocs.yml instead.\n"
        + tomli_w.dumps({"project": project}),
        encoding="utf-8",
    )
    return target
