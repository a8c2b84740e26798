"""An example plugin: failure-mode environments, a new cue kind and a new mechanism, all through entry points.

- ``ExtraCompute``: a new environment of an existing mechanism (it reads the bands cue);
- ``ConjunctionAudit``: a new *mechanism* — a new cue kind (``conjunction``, registered in the
  ``bestiary.cues`` group), its scripted policy (``conjunction_reader``, in the
  ``bestiary.mechanisms`` group) and its own behaviour kind (``plain_cue_violation``).
"""

import bestiary.envs


def register_envs() -> None:
    """Register this package's environments (called by Bestiary through the entry point)."""
    entry = "bestiary_plugin_example.extra_compute:ExtraCompute"
    bestiary.envs.register("example/ExtraCompute-v0", entry)
    bestiary.envs.register("example/ExtraComputeNullCue-v0", entry, cue="null")
    conjunction = "bestiary_plugin_example.conjunction:ConjunctionAudit"
    bestiary.envs.register("example/ConjunctionAudit-v0", conjunction)
    bestiary.envs.register("example/ConjunctionAuditNullCue-v0", conjunction, cue="null")
