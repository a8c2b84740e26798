"""Random streams of one organism's environment copies, independent of every other organism's.

SB3's convention seeds copy ``c`` of a vectorized environment with ``seed + c``: organisms of seeds
0 and 1 with 64 copies would then share 63 of their 64 environment streams, and bootstrap intervals
over seeds — which treat seeds as independent replicates — would be too narrow. Instead, an
organism's copies are seeded ``base + c`` from a 128-bit ``base`` drawn from
``numpy.random.SeedSequence((seed, purpose))``: two organisms' windows of copies overlap only if
their bases lie within the number of copies of each other, which for 2¹²⁸ values never happens
in practice, and training and evaluation streams differ too.
"""

from __future__ import annotations

import numpy as np

#: The name of the seeding scheme, part of every trial's identity (organisms seeded otherwise differ).
SCHEME = "seedsequence-128/1"
_PURPOSES = {"train": 0, "eval": 1, "audit": 2}


def stream_base(seed: int, purpose: str) -> int:
    """The seed of copy 0 of an organism's environments for ``purpose`` (``train``, ``eval``, ``audit``); copy c: +c."""
    if purpose not in _PURPOSES:
        raise ValueError(f"unknown stream purpose {purpose!r}; valid: {', '.join(_PURPOSES)}")
    words = np.random.SeedSequence([int(seed), _PURPOSES[purpose]]).generate_state(4, dtype=np.uint32)
    return int(sum(int(w) << (32 * i) for i, w in enumerate(words)))
