"""mkdocs.yml, the one place the site is configured, read for what is not MkDocs: `llm-path render` and Zensical.

MkDocs' own YAML loader resolves its tags (`!ENV`, `!!python/name`), so the values are
the ones MkDocs itself would see; the llm-path plugin's options give the folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.utils.yaml import yaml_load

from llm_path.build.site import SiteConfig


def read_mkdocs_yml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        loaded = yaml_load(stream)
    return loaded if isinstance(loaded, dict) else {}


def plugin_options(config: dict[str, Any]) -> dict[str, Any]:
    """The llm-path plugin's options as mkdocs.yml gives them (empty when it lists none)."""
    for entry in config.get("plugins", []):
        if isinstance(entry, dict) and "llm-path" in entry:
            return dict(entry["llm-path"] or {})
    return {}


def site_config(
    mkdocs_yml: Path, *, curriculum: Path | None = None, execute_notebooks: bool | None = None
) -> SiteConfig:
    """The SiteConfig the MkDocs plugin would build from this mkdocs.yml (folders relative to it)."""
    config = read_mkdocs_yml(mkdocs_yml) if mkdocs_yml.is_file() else {}
    options = plugin_options(config)
    root = mkdocs_yml.resolve().parent

    def folder(value: str) -> Path:
        return (root / value).resolve()

    wanted = options.get("execute_notebooks", True)
    if isinstance(wanted, str):  # !ENV gives the variable's text
        wanted = wanted.strip().lower() not in ("false", "0", "no", "off")
    defaults = SiteConfig.__dataclass_fields__
    return SiteConfig(
        curriculum=curriculum.resolve() if curriculum else folder(options.get("curriculum", "curriculum")),
        notebooks=folder(options.get("notebooks", "notebooks")),
        docs=folder(config.get("docs_dir", "docs")),
        cache=folder(options.get("cache", ".llm-path-cache")),
        link_report=folder(options.get("link_report", ".llm-path-cache/links.json")),
        mermaid=folder(
            options.get("mermaid", ".llm-path-cache/node/node_modules/mermaid/dist/mermaid.min.js")
        ),
        repo_url=config.get("repo_url"),
        execute_notebooks=bool(wanted) if execute_notebooks is None else execute_notebooks,
        cell_timeout=int(options.get("notebook_timeout", defaults["cell_timeout"].default)),
        notebook_timeout=int(options.get("notebook_time_limit", defaults["notebook_timeout"].default)),
        output_limit=int(options.get("notebook_output_limit", defaults["output_limit"].default)),
    )
