"""Figures drawn in parallel: a report's figures are independent, and drawing them is most of its time.

A figure is first described (:class:`FigureJob`: the function that draws it and its
arguments), then all of a report's figures are drawn at once (:func:`render`), in worker
processes forked from this one where the platform allows, one per core. Drawing text
layouts in matplotlib is pure Python, so processes, not threads.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Hashable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)

#: Fewer figures than this are drawn here: a pool's start-up is not worth it.
MIN_PARALLEL = 6


@dataclass(frozen=True)
class FigureJob:
    """A figure to draw: ``func(*args)`` returns its PNG bytes."""

    func: Callable[..., bytes]
    args: tuple[Any, ...]

    def draw(self) -> bytes:
        """Draw the figure here."""
        return self.func(*self.args)


def _draw(job: FigureJob) -> bytes:
    return job.draw()


def workers_available() -> int:
    """Cores this process may use (its affinity), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


def render(jobs: dict[K, FigureJob], workers: int | None = None) -> dict[K, bytes]:
    """Draw every figure, in parallel when there are several and fork is available.

    Args:
        jobs: Figures by key.
        workers: Processes to draw with (default: the cores available).

    Returns:
        The PNG bytes by the same keys. The drawings are the same as serial ones.
    """
    n = min(workers or workers_available(), len(jobs))
    if n <= 1 or len(jobs) < MIN_PARALLEL or "fork" not in multiprocessing.get_all_start_methods():
        return {k: job.draw() for k, job in jobs.items()}
    keys = list(jobs)
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
        return dict(zip(keys, pool.map(_draw, [jobs[k] for k in keys], chunksize=1), strict=True))
