"""Regenerate the docs that are generated from code: the sweep spec reference and the environment catalogue.

Run: ``.venv/bin/python scripts/write_docs.py`` (a test fails when a generated page is stale).
"""

from __future__ import annotations

from pathlib import Path

from bestiary.env_reference import environments_markdown
from bestiary.spec_reference import reference_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"

PAGES = {"sweep-spec.md": reference_markdown, "environments.md": environments_markdown}


def main() -> None:
    """Write every generated page."""
    for name, make in PAGES.items():
        (DOCS / name).write_text(make())
        print(f"wrote docs/{name}")


if __name__ == "__main__":
    main()
