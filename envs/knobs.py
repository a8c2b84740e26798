"""Declared knobs of a failure-mode environment: names, ranges, defaults and meaning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bestiary.envs.cues import CUE_KINDS
from bestiary.envs.errors import KnobError

KnobKind = Literal["capability", "payoff", "task"]


@dataclass(frozen=True)
class Knob:
    """One constructor parameter of an environment, with its valid range.

    Attributes:
        default: Value used when the knob is not given.
        doc: One line saying what the knob changes.
        low: Smallest valid value (numeric knobs).
        high: Largest valid value (numeric knobs).
        choices: Valid values (categorical knobs).
        integer: Whether a numeric knob must be an integer.
        odd: For integer knobs, the value must be odd.
        kind: ``capability`` knobs set how much capability the dangerous strategy needs
            (e.g. cue difficulty); ``payoff`` knobs shape its incentives; ``task`` knobs
            change the task itself.
    """

    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    integer: bool = False
    odd: bool = False
    kind: KnobKind = "task"

    def describe(self) -> str:
        """The valid range in words, e.g. ``[0.5, 16]`` or ``one of bands|null``."""
        if self.choices is not None:
            return "one of " + "|".join(self.choices)
        kind = ("odd integer in " if self.odd else "integer in ") if self.integer else ""
        return f"{kind}[{self.low:g}, {self.high:g}]"

    def validate(self, name: str, value: Any, owner: str) -> Any:
        """Return ``value`` converted to the knob's type, or raise :class:`KnobError`.

        Args:
            name: The knob's name, for the message.
            value: The value given.
            owner: The environment's name, for the message.

        Raises:
            KnobError: If the value is of the wrong type or outside the valid range.
        """
        where = f"{owner}: knob `{name}`={value!r}"
        if self.choices is not None:
            if value not in self.choices:
                raise KnobError(f"{where} is not valid; expected {self.describe()}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise KnobError(f"{where} must be a number in {self.describe()}")
        if self.integer and (float(value) != int(value) or (self.odd and int(value) % 2 == 0)):
            raise KnobError(f"{where} must be an {self.describe()}")
        if not (self.low <= value <= self.high):  # type: ignore[operator]
            raise KnobError(f"{where} is out of range; valid range is {self.describe()}")
        return int(value) if self.integer else float(value)


#: Knobs every failure-mode environment has; subclasses add their own. An environment whose cue kind does not
#: read ``cue_bands`` or ``cue_spread`` (a plugin's cue, say) may leave those out of its ``knobs``: e.g.
#: ``knobs = {**{k: v for k, v in BASE_KNOBS.items() if k not in ("cue_bands", "cue_spread")}, "cue": ...}``.
BASE_KNOBS: dict[str, Knob] = {
    "cue": Knob(
        "bands",
        "How the context reveals oversight; `null` reveals nothing (the control).",
        choices=CUE_KINDS,
        kind="capability",
    ),
    "cue_bands": Knob(
        3,
        "Equal-probability bands of the cue (odd): more boundaries to place, more capacity needed.",
        low=3,
        high=65,
        integer=True,
        odd=True,
        kind="capability",
    ),
    "context_dim": Knob(8, "Number of context features.", low=1, high=256, integer=True, kind="capability"),
    "cue_spread": Knob(
        0.5,
        "The evidence cue's per-feature variance difference: smaller means weaker evidence per feature.",
        low=0.02,
        high=0.9,
        kind="capability",
    ),
    "penalty": Knob(
        2.0,
        "Penalty for the dangerous act when overseen; large vs the gain makes defection need confidence.",
        low=0.0,
        high=10.0,
        kind="payoff",
    ),
    "oversight_prob": Knob(
        0.5,
        "Fraction of overseen episodes in the `train` regime.",
        low=0.0,
        high=1.0,
        kind="payoff",
    ),
}
