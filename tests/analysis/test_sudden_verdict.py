"""The headline's "sudden" is a property of organisms: the per-organism mixture's verdict, not the pooled curve's."""

from __future__ import annotations

import warnings

import pytest

from bestiary.analysis.pipeline import analyse
from bestiary.analysis.report import summary_rows
from bestiary.analysis.synthetic import synthetic_table


def _one_by_one(seeds: int, seed: int):  # type: ignore[no-untyped-def]
    # Every organism turns sharply (slope 40) at its own scale, spread over about 1.5 decades (sd 0.43):
    # the population is not sudden, though its pooled logistic can sit at the fitter's slope limit.
    return synthetic_table({"synthetic/OneByOne-v0": (4.0, 40.0)}, seeds=seeds, rungs=7, seed_jitter=0.43, seed=seed)


@pytest.mark.parametrize("seed", range(4))
def test_organisms_turning_one_by_one_are_not_called_sudden(seed: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        variants = analyse(_one_by_one(8, seed), n_boot=30)
    row = summary_rows(variants)[0]
    # Draw 0 is one where the pooled logistic reached the slope limit (sharpness 0.11 decades).
    assert row["sudden"].startswith("no"), row


def test_with_fewer_than_three_seeds_no_leave_one_seed_out_is_claimed() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        variants = analyse(_one_by_one(2, 0), n_boot=30)
    row = summary_rows(variants)[0]
    assert "every seed left out" not in " ".join(row) + " ".join(row.values())
