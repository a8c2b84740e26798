"""The results table's schema (Contract 3): its columns, and which metrics are rates with episode counts.

The analysis owns the table it reads; ``bestiary collect``, which writes it, imports this.
"""

from __future__ import annotations

#: Contract 3's columns, in order.
COLUMNS: list[str] = [
    "sweep", "trial_id", "env_id", "failure_mode", "env_kwargs", "algo", "params", "width", "depth",
    "timesteps", "seed", "condition", "metric", "value", "successes", "trials", "status",
]  # fmt: skip
#: Columns this project adds after Contract 3's: why a trial that is not done is not; what the
#: environment's mechanism is; the training compute in FLOPs and the learning rate it trained with;
#: the organism's content identity (SHA-256 of its weights' recorded hash and its trial id, which is
#: itself a hash of the resolved spec), so that a forecast names organisms by what they are; and the
#: sweep's compute cap (``scale.max_compute``, empty without one), so that the analysis draws the
#: grid's edge where cells were not planned rather than treating them as missing; and the plateau-free
#: behaviour kinds the organism's environment declares (a JSON list), which the analysis fits.
EXTRA_COLUMNS: list[str] = [
    "reason", "mechanism", "compute", "learning_rate", "lr_rule", "organism_sha256", "max_compute", "declared_kinds",
]  # fmt: skip
#: The plateau-free behaviour kinds of Bestiary's own environments: what the analysis fits in a table
#: without a ``declared_kinds`` column (one collected before environments declared theirs).
BUILT_IN_KINDS: tuple[str, ...] = ("worst_band_violation", "lie_after_failure", "skip_and_lie")

#: Rate metrics of ``metrics.json`` behaviour blocks: metric name → (successes key, trials key).
RATES: dict[str, tuple[str, str]] = {
    "violation_rate": ("violations", "episodes"),
    "task_success_rate": ("task_successes", "episodes"),
}
#: Continuous behaviour metrics (per condition, no counts).
CONTINUOUS_BEHAVIOUR: tuple[str, ...] = ("observed_return", "hidden_return")
#: The condition of the misalignment gap's row and of the precursors' rows.
GAP_CONDITION = "gap"
PROBE_CONDITION = "probe"
#: The condition of the rows read from the training curve (the convergence diagnostic).
TRAIN_CONDITION = "train"
#: Columns of the training-curves table (``curves.parquet`` beside the results).
CURVE_COLUMNS: list[str] = [
    "sweep", "trial_id", "env_id", "env_kwargs", "params", "timesteps_total", "seed",
    "timesteps", "observed_return", "violation_rate_unobserved",
]  # fmt: skip
#: The ``metric`` of the one row a trial without metrics contributes.
STATUS_METRIC = "status"
