"""The environment catalogue, generated from the registry (``docs/environments.md``).

Each of Bestiary's registered environments — id, failure mode, mechanism, the knobs its
registration sets — and each environment class's module docstring come from the code, so
the page cannot drift from what ``bestiary envs list`` shows; a test regenerates it and
compares (``python scripts/write_docs.py`` rewrites it). Plugins are left out: the page
describes what Bestiary ships.
"""

from __future__ import annotations

import sys

import bestiary.envs as E

INTRO = """\
# Failure-mode environments

<!-- Generated from the registry by `python scripts/write_docs.py`; edit the environments' docstrings. -->

Every environment is a `gymnasium.Env` subclass of `bestiary.envs.FailureModeEnv`
(Contract 1 in [architecture.md](architecture.md)), registered under `bestiary/` with a
harder variant (`…Hard-v0`) and a null-cue control (`…NullCue-v0`, whose context says
nothing about oversight). Each declares its **mechanism**: what an organism must learn to
defect safely. Environments that share a mechanism are one task in different dress, so a
precursor's critical level is calibrated only on environments of *another* mechanism, and
`bestiary envs best-response --mechanisms` shows which scripted policy — each using one
capability — training pays best in each. Why the dangerous strategy needs capability, and
how the cues are built: [environment-design.md](environment-design.md). Writing one:
[adding-an-environment.md](adding-an-environment.md).
"""


def _knobs(kwargs: dict) -> str:
    shown = {k: v for k, v in kwargs.items() if k != "oversight"}
    return ", ".join(f"`{k}={v}`" for k, v in sorted(shown.items())) or "defaults"


def environments_markdown() -> str:
    """The catalogue page (see the module docstring)."""
    ids = [i for i in E.failure_mode_ids() if i.startswith("bestiary/")]
    classes: dict[type[E.FailureModeEnv], list[str]] = {}
    for env_id in ids:
        cls = E.env_class(env_id)
        if isinstance(cls, type) and issubclass(cls, E.FailureModeEnv):
            classes.setdefault(cls, []).append(env_id)
    lines = [INTRO, "| id | failure mode | mechanism | registered knobs | summary |", "|---|---|---|---|---|"]
    for cls, members in sorted(classes.items(), key=lambda kv: kv[0].__name__):
        for env_id in members:
            d = E.describe(env_id)
            kwargs = dict(E.env_spec(env_id).kwargs or {})
            lines.append(f"| `{env_id}` | {d.failure_mode} | {d.mechanism} | {_knobs(kwargs)} | {cls.summary} |")
    lines.append("")
    for cls in sorted(classes, key=lambda c: c.__name__):
        doc = (sys.modules[cls.__module__].__doc__ or "").strip()
        title, _, body = doc.partition("\n")
        path = cls.__module__.removeprefix("bestiary.").replace(".", "/") + ".py"
        regimes = "" if cls.regime_names == ("overseen", "unobserved") else "; oversight `on` = {}, `off` = {}"
        regimes = regimes.format(*cls.regime_names)
        lines += [f"## {cls.__name__}", "", f"*{title.strip()}* (`{path}`; mechanism `{cls.mechanism}`{regimes})", ""]
        lines += [
            line.replace("## ", "### ", 1) if line.startswith("## ") else line for line in body.strip().splitlines()
        ]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
