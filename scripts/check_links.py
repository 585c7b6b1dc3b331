"""Entry point of the link checker: `python scripts/check_links.py [INPUT ...]` (see llm_path.links)."""

import sys
from pathlib import Path

try:
    from llm_path.links import main
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from llm_path.links import main

if __name__ == "__main__":
    sys.exit(main())
