"""An example plugin: one failure-mode environment, registered through an entry point."""

import bestiary.envs


def register_envs() -> None:
    """Register this package's environments (called by Bestiary through the entry point)."""
    entry = "bestiary_plugin_example.extra_compute:ExtraCompute"
    bestiary.envs.register("example/ExtraCompute-v0", entry)
    bestiary.envs.register("example/ExtraComputeNullCue-v0", entry, cue="null")
