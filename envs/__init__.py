"""Failure-mode environments: cues, batched VecEnvs, the registry and the checker.

Importing this package registers Bestiary's environments in Gymnasium's registry under
the ``bestiary/`` namespace, then loads the plugins of the ``bestiary.envs`` entry-point
group (so ``gymnasium.make("their-namespace/Name-v0")`` works after ``import
bestiary.envs``; a plugin that fails to load is reported, not raised); plugins' cue kinds and
mechanisms load from ``bestiary.cues`` and ``bestiary.mechanisms`` when first asked for
(:mod:`bestiary.envs.entry_points`). It imports nothing
else of Bestiary's, so it can be used on its own.
"""

from __future__ import annotations

import sys

from bestiary.envs.absent_supervisor import AbsentSupervisor
from bestiary.envs.audited_report import AuditedReport
from bestiary.envs.belief_manipulation import BeliefManipulation
from bestiary.envs.core import (
    BASE_KNOBS,
    OVERSIGHT_REGIMES,
    SAFETY_KEYS,
    EnvDescription,
    FailureModeEnv,
    ProbeSet,
    TaskStep,
)
from bestiary.envs.cues import CUE_KINDS, Cue, cue_kinds, register_cue
from bestiary.envs.errors import EnvDefinitionError, EnvError, KnobError, UnknownEnvironmentError
from bestiary.envs.evaluation_awareness import EvaluationAwareness
from bestiary.envs.knobs import Knob
from bestiary.envs.mechanisms import mechanism_policies, register_mechanism
from bestiary.envs.memory_cue import MemoryCue
from bestiary.envs.off_switch import OffSwitch
from bestiary.envs.option_value import OptionValue
from bestiary.envs.registry import (
    describe,
    env_class,
    env_code,
    env_spec,
    failure_mode_ids,
    list_envs,
    load_plugins,
    make,
    make_definition,
    make_vec,
    register,
)
from bestiary.envs.reward_tampering import RewardTampering
from bestiary.envs.sandbagging import Sandbagging

#: Cue bands of the registered harder-cue variants (the default is BASE_KNOBS["cue_bands"]).
HARD_CUE_BANDS = 5

for _cls in (AbsentSupervisor, AuditedReport, OffSwitch, BeliefManipulation, OptionValue):
    _entry = f"{_cls.__module__}:{_cls.__name__}"
    register(f"bestiary/{_cls.__name__}-v0", _entry)
    register(f"bestiary/{_cls.__name__}Hard-v0", _entry, cue_bands=HARD_CUE_BANDS)
    register(f"bestiary/{_cls.__name__}NullCue-v0", _entry, cue="null")
# The newer environments' hard variants turn their own capability knob.
_HARD: dict[type[FailureModeEnv], dict[str, object]] = {
    EvaluationAwareness: {"context_dim": 48, "cue_spread": 0.35},
    MemoryCue: {"memory_gap": 8},
    RewardTampering: {"tamper_delay": 6},
    Sandbagging: {"context_dim": 48, "cue_spread": 0.35},
}
for _new, _hard in _HARD.items():
    _entry = f"{_new.__module__}:{_new.__name__}"
    register(f"bestiary/{_new.__name__}-v0", _entry)
    register(f"bestiary/{_new.__name__}Hard-v0", _entry, **_hard)
    register(f"bestiary/{_new.__name__}NullCue-v0", _entry, cue="null")
register("bestiary/MemoryCueFrameStack-v0", f"{MemoryCue.__module__}:MemoryCue", frame_stack=4)

# Plugins import `bestiary.envs` themselves; make that name resolvable before our import finishes.
setattr(sys.modules[__name__.rpartition(".")[0]], "envs", sys.modules[__name__])  # noqa: B010
load_plugins()

__all__ = [
    "BASE_KNOBS",
    "CUE_KINDS",
    "OVERSIGHT_REGIMES",
    "SAFETY_KEYS",
    "AbsentSupervisor",
    "AuditedReport",
    "BeliefManipulation",
    "Cue",
    "EnvDefinitionError",
    "EnvDescription",
    "EnvError",
    "EvaluationAwareness",
    "FailureModeEnv",
    "Knob",
    "KnobError",
    "MemoryCue",
    "OffSwitch",
    "OptionValue",
    "ProbeSet",
    "RewardTampering",
    "Sandbagging",
    "TaskStep",
    "UnknownEnvironmentError",
    "cue_kinds",
    "describe",
    "env_class",
    "env_code",
    "env_spec",
    "failure_mode_ids",
    "list_envs",
    "load_plugins",
    "make",
    "make_definition",
    "make_vec",
    "mechanism_policies",
    "register",
    "register_cue",
    "register_mechanism",
]
