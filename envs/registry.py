"""Gymnasium's registry under the ``bestiary/`` namespace, plus third-party plugins.

Bestiary registers its environments in Gymnasium's own registry. Third-party packages
add theirs through the entry-point group ``bestiary.envs``: each entry point names a
module (importing it registers environments) or a callable (calling it does). Plugins
are loaded the first time a lookup misses, or when the list of environments is asked for.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.metadata
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium
from gymnasium.envs.registration import EnvSpec, load_env_creator

from bestiary.envs.core import EnvDescription, FailureModeEnv
from bestiary.envs.errors import EnvError, UnknownEnvironmentError

if TYPE_CHECKING:  # importing stable-baselines3 imports torch: only where a VecEnv is made
    from stable_baselines3.common.vec_env import VecEnv

ENTRY_POINT_GROUP = "bestiary.envs"
NAMESPACE = "bestiary"

_plugin_ids: set[str] = set()
_plugins_loaded = False
_plugin_errors: dict[str, str] = {}


def register(env_id: str, entry_point: str, **kwargs: Any) -> None:
    """Register an environment in Gymnasium's registry (a thin alias, for plugins).

    Args:
        env_id: ``<namespace>/<Name>-v<N>``.
        entry_point: ``"module:Class"``.
        **kwargs: Default constructor kwargs (knob values) of this configuration.
    """
    gymnasium.register(id=env_id, entry_point=entry_point, kwargs=kwargs)


def load_plugins(force: bool = False) -> dict[str, str]:
    """Load every entry point of the ``bestiary.envs`` group once.

    A plugin that fails to load does not stop the others; its error is kept and shown
    when a lookup fails.

    Args:
        force: Load again even if already loaded.

    Returns:
        Plugin name to error message, for the plugins that failed.
    """
    global _plugins_loaded
    if _plugins_loaded and not force:
        return dict(_plugin_errors)
    before = set(gymnasium.registry)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj):
                obj()
        except Exception as exc:  # a broken plugin must not hide the others
            _plugin_errors[ep.name] = f"{type(exc).__name__}: {exc}"
    _plugin_ids.update(set(gymnasium.registry) - before)
    _plugins_loaded = True
    return dict(_plugin_errors)


def failure_mode_ids() -> list[str]:
    """Ids of Bestiary's own and plugins' environments (plugins loaded), sorted."""
    load_plugins()
    ours = {i for i in gymnasium.registry if i.startswith(NAMESPACE + "/")}
    return sorted(ours | _plugin_ids)


def env_spec(env_id: str) -> EnvSpec:
    """Look up a registered environment, loading plugins if the id is not found.

    Raises:
        UnknownEnvironmentError: With the closest registered ids and any plugin errors.
    """
    if env_id in gymnasium.registry:
        return gymnasium.registry[env_id]
    load_plugins()
    if env_id in gymnasium.registry:
        return gymnasium.registry[env_id]
    known = failure_mode_ids()
    close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.4)
    msg = f"Environment `{env_id}` is not registered."
    if close:
        msg += " Did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    msg += f" Registered failure-mode environments: {', '.join(known) or 'none'}."
    if _plugin_errors:
        msg += " Plugins that failed to load: " + "; ".join(f"{k} ({v})" for k, v in _plugin_errors.items())
    raise UnknownEnvironmentError(msg)


def env_class(env_id: str) -> type:
    """The class (or callable) an id's entry point names."""
    entry = env_spec(env_id).entry_point
    return load_env_creator(entry) if isinstance(entry, str) else entry  # type: ignore[return-value]


def make(env_id: str, **kwargs: Any) -> gymnasium.Env:
    """``gymnasium.make`` with plugin loading and Bestiary's error messages.

    Args:
        env_id: A registered id.
        **kwargs: Knob values (and ``oversight``), merged over the registered ones.
    """
    env_spec(env_id)
    return gymnasium.make(env_id, **kwargs)


def describe(env_id: str, **kwargs: Any) -> EnvDescription:
    """A registered failure-mode environment's sizes, failure mode, mechanism and validated knobs, without building it.

    Raises:
        UnknownEnvironmentError: For an unknown id (with suggestions).
        EnvError: If the id's class is not a :class:`FailureModeEnv`.
        KnobError: For an invalid knob value.
    """
    spec = env_spec(env_id)
    cls = env_class(env_id)
    if not (isinstance(cls, type) and issubclass(cls, FailureModeEnv)):
        raise EnvError(f"`{env_id}` is not a bestiary.envs.FailureModeEnv (its entry point is {spec.entry_point})")
    knobs = {k: v for k, v in {**spec.kwargs, **kwargs}.items() if k != "oversight"}
    return cls.describe(**knobs)


@cache
def _distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


@cache
def _source_sha256(directory: str, max_files: int = 5000, max_bytes: int = 64 * 1024 * 1024) -> str:
    """SHA-256 over the Python files of a package folder (paths and contents, sorted)."""
    h = hashlib.sha256()
    total = 0
    for path in sorted(Path(directory).rglob("*.py"))[:max_files]:
        data = path.read_bytes()
        total += len(data)
        if total > max_bytes:
            break
        h.update(str(path.relative_to(directory)).encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


@cache
def _file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def env_code(env_id: str) -> dict[str, str | None]:
    """Which code an environment is: its package's name and version, and the hash of its source.

    A version does not identify code — a plugin rebuilt and reinstalled at the same version,
    an editable install, a module found on ``sys.path`` — so the SHA-256 of the Python files
    of the folder holding the environment's module is always added, for every install mode:
    a changed environment gives new trial ids instead of being taken for the old one.
    """
    cls = env_class(env_id)
    module = getattr(cls, "__module__", "") or ""
    top = module.split(".")[0]
    dists = _distributions().get(top, [])
    name = dists[0] if dists else top
    try:
        version = importlib.metadata.version(name) if dists else "unknown"
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    source = None
    file = getattr(sys.modules.get(module), "__file__", None)
    if file:
        path = Path(file).resolve()
        # A module of a package: its folder. A module on its own (no package): only its file.
        in_package = "." in module or path.name == "__init__.py"
        source = _source_sha256(str(path.parent)) if in_package else _file_sha256(str(path))
    return {"package": name, "version": version, "source_sha256": source, "module": module}


def make_definition(env_id: str, **kwargs: Any) -> FailureModeEnv:
    """Instantiate the registered class directly (no Gymnasium wrappers).

    Raises:
        EnvError: If the id's class is not a :class:`FailureModeEnv`.
    """
    spec = env_spec(env_id)
    cls = env_class(env_id)
    if not (isinstance(cls, type) and issubclass(cls, FailureModeEnv)):
        raise EnvError(f"`{env_id}` is not a bestiary.envs.FailureModeEnv (its entry point is {spec.entry_point})")
    return cls(**{**spec.kwargs, **kwargs})


def make_vec(env_id: str, n_envs: int, seed: int | None = None, oversight: str = "train", **kwargs: Any) -> VecEnv:
    """A vectorized environment: batched where the env has it, else a ``DummyVecEnv``.

    Args:
        env_id: A registered id.
        n_envs: Number of copies.
        seed: Copy ``i`` is seeded ``seed + i`` at the first reset.
        oversight: Oversight regime of every copy.
        **kwargs: Knob values merged over the registered ones.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv

    from bestiary.envs.vector import BatchedVecEnv

    cls = env_class(env_id)
    venv: VecEnv
    if isinstance(cls, type) and issubclass(cls, FailureModeEnv):
        venv = BatchedVecEnv(make_definition(env_id, **kwargs), n_envs, oversight=oversight)
    else:
        venv = DummyVecEnv([lambda: gymnasium.make(env_id, **kwargs)] * n_envs)
        venv.set_options({"oversight": oversight})
    if seed is not None:
        venv.seed(seed)
    return venv


@dataclass(frozen=True)
class EnvInfo:
    """One row of ``bestiary envs list``."""

    env_id: str
    failure_mode: str
    mechanism: str
    summary: str
    knobs: dict[str, str]
    kwargs: dict[str, Any]


def list_envs() -> list[EnvInfo]:
    """Describe every failure-mode environment (Bestiary's and plugins')."""
    rows = []
    for env_id in failure_mode_ids():
        cls = env_class(env_id)
        knobs = getattr(cls, "knobs", {})
        rows.append(
            EnvInfo(
                env_id=env_id,
                failure_mode=getattr(cls, "failure_mode", "?"),
                mechanism=describe(env_id).mechanism,
                summary=getattr(cls, "summary", ""),
                knobs={k: v.describe() for k, v in knobs.items() if getattr(v, "kind", "") == "capability"},
                kwargs=dict(env_spec(env_id).kwargs),
            )
        )
    return rows


def load_class(target: str) -> type:
    """Import ``module:Class``.

    Raises:
        EnvError: If the module or attribute does not exist.
    """
    module, _, name = target.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise EnvError(f"cannot load `{target}` (expected module:Class): {exc}") from exc
