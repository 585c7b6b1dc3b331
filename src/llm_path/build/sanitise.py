"""HTML cleaned by an allow-list: the one place the sanitiser (nh3, Ammonia's Rust engine) is called.

Prose from the curriculum, MathML from any LaTeX and rich notebook outputs all pass through
`clean`, each with its own list of the tags and attributes it may keep; everything else
(scripts, styles, event handlers, unknown URL schemes, comments) is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from importlib import metadata

import nh3

VERSION = metadata.version("nh3")
"""The sanitiser's version, for caches of what it produced."""


def clean(
    fragment: str,
    tags: Set[str],
    attributes: Mapping[str, Set[str]],
    *,
    url_schemes: Set[str] = frozenset({"http", "https"}),
    link_rel: str | None = "noopener",
) -> str:
    """`fragment` with only `tags` and, per tag (or '*'), its `attributes`; links only to `url_schemes`."""
    return nh3.clean(
        fragment,
        tags=set(tags),
        attributes={tag: set(names) for tag, names in attributes.items()},
        url_schemes=set(url_schemes),
        link_rel=link_rel,
        strip_comments=True,
    )
