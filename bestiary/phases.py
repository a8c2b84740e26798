"""A sweep in phases: the organisms at or below each seal level, that level's seal, then on to the next.

A sweep with a ``forecast:`` section of K levels runs in K + 1 phases: phase k trains the
organisms at or below level k that no earlier phase trained, and ends with seal k; the last
phase trains the organisms above every level. Levels are nested (each bound increases), so
every seal is made from exactly the organisms at or below it, before any organism above it
exists. A seal whose organisms cannot support a forecast — an environment with fewer than three
rungs of parameters at every budget and fewer than three budgets at every parameter count
below it — is refused when the sweep is planned, with the level that would support it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bestiary.organisms.compute import trial_flops
from bestiary.organisms.sweepdir import SweepDir
from bestiary.sandbox.outputs import MalformedOutputError, UnsafeOutputError, parse_json, read_output
from bestiary.sweep_spec import SpecError, SweepSpec, describe_level, within

#: Rungs a logistic trend needs along its axis (the behaviour method's minimum).
MIN_RUNGS = 3


@dataclass(frozen=True)
class Phase:
    """The trials one phase trains, and the seal that ends it (None for the phase above every level).

    Attributes:
        index: 1-based; phase k ends with seal k.
        bounds: The seal level that ends it (None: the last phase, after every seal).
        trials: Its planned trials (objects with a ``trial``: a resolved trial).
    """

    index: int
    bounds: dict[str, float] | None
    trials: list[Any]


def coordinates(trial: Any) -> tuple[float, float, float]:
    """``(params, timesteps, compute)`` of a resolved trial (compute ∞ when it has no formula)."""
    flops = trial_flops(trial)
    return float(trial.params), float(trial.timesteps), float("inf") if flops is None else flops


def phases_of(sweep: SweepSpec, planned: Sequence[Any]) -> list[Phase]:
    """The sweep's phases in order (one phase without a seal when it has no ``forecast:``)."""
    if sweep.forecast is None:
        return [Phase(1, None, list(planned))]
    out, taken = [], set()
    for k, bounds in enumerate(sweep.forecast.levels(), 1):
        mine = [p for p in planned if id(p) not in taken and within(bounds, *coordinates(p.trial))]
        taken |= {id(p) for p in mine}
        out.append(Phase(k, bounds, mine))
    out.append(Phase(len(out) + 1, None, [p for p in planned if id(p) not in taken]))
    return out


def _supported(trials: Sequence[Any]) -> bool:
    """Whether a variant's organisms hold three parameter rungs at one budget, or three budgets at one rung."""
    rungs: dict[int, set[int]] = {}
    budgets: dict[int, set[int]] = {}
    for t in trials:
        rungs.setdefault(t.timesteps, set()).add(t.params)
        budgets.setdefault(t.params, set()).add(t.timesteps)
    return any(len(v) >= MIN_RUNGS for v in [*rungs.values(), *budgets.values()])


def _variants(trials: Sequence[Any]) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = {}
    for t in trials:
        out.setdefault((t.env_id, repr(sorted(t.env_kwargs.items()))), []).append(t)
    return out


def _fix(bounds: dict[str, float], variant: list[Any]) -> str:
    """The least change of one bound of a level that would let the variant's organisms support a forecast."""
    for key in bounds:
        axis = {"params": 0, "timesteps": 1, "compute": 2}[key]
        for value in sorted({coordinates(t)[axis] for t in variant}):
            if value > bounds[key] and _supported([t for t in variant if within({**bounds, key: value},
                                                                                 *coordinates(t))]):  # fmt: skip
                return f"raise `{key}` to at least {value:.3g}" if key == "compute" else (
                    f"raise `{key}` to at least {value:,.0f}")  # fmt: skip
    return "the grid itself has fewer than 3 rungs along both axes: add rungs"


def seal_problems(sweep: SweepSpec, planned: Sequence[Any]) -> list[str]:
    """Why the sweep's seals cannot be made as planned (empty when they can); each problem says the fix."""
    if sweep.forecast is None:
        return []
    phases = phases_of(sweep, planned)
    problems = []
    every = _variants([p.trial for p in planned])
    below: list[Any] = []
    for phase in phases[:-1]:
        assert phase.bounds is not None
        level = f"seal {phase.index} ({describe_level(phase.bounds)})"
        below += [p.trial for p in phase.trials]
        if not phase.trials:
            problems.append(f"{level} adds no organism to the seal before it: drop it or raise it")
            continue
        mine = _variants(below)
        for key, variant in sorted(every.items()):
            if not _supported(mine.get(key, [])):
                label = variant[0].env_id + (f" {dict(variant[0].env_kwargs)}" if variant[0].env_kwargs else "")
                n = len({t.params for t in mine.get(key, [])})
                problems.append(
                    f"{level}: {label} has {n} parameter rung(s) below it at its best budget, and fewer than "
                    f"{MIN_RUNGS} budgets at any rung — a trend needs at least {MIN_RUNGS} rungs, so every forecast "
                    f"of it would be empty; {_fix(phase.bounds, variant)}"
                )
    if not phases[-1].trials:
        problems.append(
            f"seal {len(phases) - 1} holds every organism of the sweep: nothing would be left to score it on; "
            "lower it or extend the grid"
        )
    return problems


def changed_levels(sweep: SweepSpec, sweep_dir: SweepDir) -> list[str]:
    """Seals already made in the sweep's directory whose level the spec no longer gives (a sealed level is fixed)."""
    levels = sweep.forecast.levels() if sweep.forecast is not None else []
    out = []
    for k, path in sweep_dir.seals():
        if len(levels) > 1 and path == sweep_dir.forecast:
            out.append(f"{path} holds the seal of a one-level forecast, and the spec now has {len(levels)} levels")
            continue
        try:
            doc = parse_json(read_output(path.parent, path.name, 256 * 1024 * 1024))
        except (OSError, MalformedOutputError, UnsafeOutputError):
            continue  # unreadable: scoring says so; it does not decide the plan
        ctx = doc.get("context") if isinstance(doc, dict) else None
        made = ctx.get("sealed_below") if isinstance(ctx, dict) else None
        if not isinstance(made, dict):
            continue  # a forecast made outside a sweep has no level
        made = {name: float(v) for name, v in made.items() if isinstance(v, (int, float))}
        wanted = levels[k - 1] if k <= len(levels) else None
        if wanted != made:
            spec_says = describe_level(wanted) if wanted else "no such seal"
            out.append(f"{path.name} was sealed at {describe_level(made)}; the spec now says {spec_says}")
    return out


def check_seals(sweep: SweepSpec, planned: Sequence[Any], sweep_dir: SweepDir | None = None) -> None:
    """Refuse a sweep whose seals cannot be made as planned, or whose sealed levels the spec has changed.

    Raises:
        SpecError: Naming each problem and its fix.
    """
    if sweep_dir is not None:
        changed = changed_levels(sweep, sweep_dir)
        if changed:
            raise SpecError(
                f"sweep {sweep.name} was sealed at other levels than its spec now gives:\n  " + "\n  ".join(changed)
                + "\na seal's level cannot change once it is made: restore the spec's `forecast:` levels, or run "
                "the changed design as a new sweep (another `name`)"
            )  # fmt: skip
    problems = seal_problems(sweep, planned)
    if problems:
        raise SpecError(f"the `forecast:` section of sweep {sweep.name} cannot be sealed as planned:\n  "
                        + "\n  ".join(problems))  # fmt: skip
