"""What git proves about a study run in phases: when a seal, and the results it is scored on, were committed.

A forecast's own timestamp and its count of "organisms above it already trained" are written by
the forecaster, who could rewrite them. A commit pushed to a shared repository is a record the
forecaster cannot quietly rewrite, so the order "sealed, then trained" is proven by the seal's
first commit preceding the first commit of the results it is scored on.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(where: Path, *args: str) -> str | None:
    """Run git in ``where``'s directory; its stripped output, or None if git failed or is missing."""
    folder = where if where.is_dir() else where.parent
    try:
        out = subprocess.run(["git", "-C", str(folder.resolve()), *args], capture_output=True, text=True, timeout=30,
                             check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def repository(path: Path) -> str | None:
    """The top folder of the repository holding ``path`` (None outside one)."""
    return git(path, "rev-parse", "--show-toplevel")


def first_commit(path: Path) -> tuple[str, str] | None:
    """``(sha, ISO date)`` of the earliest commit that added ``path`` (None if it was never committed)."""
    added = git(path, "log", "--diff-filter=A", "--format=%H %cI", "--", path.name)
    if not added:
        return None
    commit, when = added.splitlines()[-1].split(" ", 1)
    return commit, when


def order_status(seal: Path, results: Path) -> str:
    """Whether git proves that ``seal`` was committed before the ``results`` it is scored on.

    Returns:
        A sentence starting ``proven:`` when the seal's first commit is an ancestor of, and not the
        same as, the results' first commit; ``NOT PROVEN:`` otherwise, saying why and what to do.
    """
    commit_results = (
        "collect the results into the repository (`bestiary collect RUNS --out docs/results/<study>/results`), "
        "commit them, and score the committed table"
    )
    seal_repo = repository(seal)
    s = first_commit(seal) if seal_repo else None
    if s is None:
        return "NOT PROVEN: the seal is not committed, so nothing its maker cannot rewrite records when it was made"
    results_repo = None if results.is_dir() else repository(results)
    if results_repo is None:
        why = "the results scored are not a committed file, so git cannot say they came after the seal"
        return f"NOT PROVEN: {why}; {commit_results}"
    if results_repo != seal_repo:
        return "NOT PROVEN: the seal and the results are in different repositories; commit both to one"
    r = first_commit(results)
    if r is None:
        return f"NOT PROVEN: the results were never committed; {commit_results}"
    if s[0] != r[0] and git(seal, "merge-base", "--is-ancestor", s[0], r[0]) is not None:
        return f"proven: sealed in commit {s[0][:10]} ({s[1]}), before the results' first commit {r[0][:10]} ({r[1]})"
    return (
        f"NOT PROVEN: the seal's first commit {s[0][:10]} ({s[1]}) does not precede the results' first commit "
        f"{r[0][:10]} ({r[1]}): git does not show that the forecast was sealed before these results existed"
    )
