"""Sandbox backends: one launch description, a small abstract class, and a registry.

A backend runs one :class:`Launch` — a command, its one writable directory, its policy —
and returns a :class:`~bestiary.sandbox.result.SandboxResult`; it raises
:class:`~bestiary.sandbox.errors.SandboxUnavailable` (running nothing) if a required layer
cannot be established. Backends register by decorator (:func:`register_backend`) and,
from other packages, through the entry-point group ``bestiary.sandbox_backends`` (each
entry point names a :class:`SandboxBackend` subclass, or a module that registers one).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import resource
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from bestiary.sandbox import view
from bestiary.sandbox.errors import SandboxUnavailable
from bestiary.sandbox.policy import Limits, Policy, rlimits
from bestiary.sandbox.result import SandboxResult

ENTRY_POINT_GROUP = "bestiary.sandbox_backends"
BACKENDS: dict[str, type[SandboxBackend]] = {}
_plugin_errors: dict[str, str] = {}
_plugins_loaded = False


@dataclass(frozen=True)
class Launch:
    """One sandboxed run, fully described.

    Attributes:
        command: Program and arguments.
        workdir: The one writable directory; the command's working directory, seen at the
            same path inside. See :func:`prepare_workdir` for what it may be.
        policy: Limits, binds, hidden paths, environment and required layers.
        audit_path: A host-owned JSONL log the audit record is appended to (None: the
            record is only returned). It must lie outside ``workdir``.
        on_stdout_line: Receives each line of the command's stdout as it arrives.
    """

    command: tuple[str, ...]
    workdir: Path
    policy: Policy = field(default_factory=Policy)
    audit_path: Path | None = None
    on_stdout_line: Callable[[bytes], None] | None = None

    def __post_init__(self) -> None:
        if not self.command:
            raise ValueError("a launch needs a command")
        if self.audit_path is not None:
            audit = os.path.realpath(self.audit_path)
            work = os.path.realpath(self.workdir)
            if audit == work or audit.startswith(work.rstrip("/") + "/"):
                raise ValueError(
                    f"the audit log {self.audit_path} lies in the writable directory {self.workdir}, where the "
                    f"run could rewrite it; keep it outside"
                )


class SandboxBackend(ABC):
    """Runs one :class:`Launch` in isolation.

    Subclasses set ``name``, ``summary`` and ``provides`` (the :data:`~bestiary.sandbox.policy.LAYERS`
    they can establish) and implement :meth:`run`. A backend must fail closed: if a layer
    the policy requires is not available it raises ``SandboxUnavailable`` before the
    command starts.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    provides: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def run(self, launch: Launch) -> SandboxResult:
        """Run the launch's command with its workdir as the only writable directory.

        Returns:
            The result, whatever the command did.

        Raises:
            SandboxUnavailable: If a required layer cannot be established; nothing ran.
        """

    def unavailable(self) -> str | None:
        """Why this backend cannot run here at all (None if it can), with the fix."""
        return None

    def process_limits(self, limits: Limits) -> tuple[int, int]:
        """The (cgroup ``pids.max``, ``RLIMIT_NPROC``) this backend sets for a run under ``limits``.

        One of them is the run's own process limit, ``limits.pids``; the other is looser
        (by default the cgroup is the tight per-run limit and the rlimit, counted per uid,
        a backstop). ``bestiary sandbox check`` reads both back.
        """
        return limits.pids, rlimits(limits)[resource.RLIMIT_NPROC]

    def run_command(self, command: Sequence[str], workdir: Path | str, policy: Policy | None = None) -> SandboxResult:
        """Shorthand: run ``command`` with ``workdir`` writable under ``policy`` (no audit log)."""
        return self.run(Launch(tuple(command), Path(workdir), policy or Policy()))


def register_backend(cls: type[SandboxBackend]) -> type[SandboxBackend]:
    """Class decorator: make a backend available by its ``name``."""
    BACKENDS[cls.name] = cls
    return cls


def load_backend_plugins() -> dict[str, str]:
    """Load the ``bestiary.sandbox_backends`` entry points once; return the ones that failed, with why."""
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
                if isinstance(obj, type) and issubclass(obj, SandboxBackend):
                    register_backend(obj)
            except Exception as exc:  # a broken plugin must not hide the others
                _plugin_errors[ep.name] = f"{type(exc).__name__}: {exc}"
    return dict(_plugin_errors)


def backend_names() -> list[str]:
    """Every registered backend's name (plugins loaded)."""
    load_backend_plugins()
    return sorted(BACKENDS)


def get_backend(name: str = "bwrap", *, allow_unsandboxed: bool = False) -> SandboxBackend:
    """A backend by name.

    Args:
        name: ``bwrap`` (default), ``gvisor``, a plugin's backend, or ``none``.
        allow_unsandboxed: Must be True for ``none``: running without isolation is an
            explicit opt-out (``--no-sandbox``), never a fallback.

    Raises:
        ValueError: For an unknown backend, or ``none`` without the opt-out.
    """
    if name not in BACKENDS:
        errors = load_backend_plugins()
        if name not in BACKENDS:
            broken = f"; plugins that failed to load: {errors}" if errors else ""
            raise ValueError(f"unknown sandbox backend {name!r}; available: {', '.join(sorted(BACKENDS))}{broken}")
    if name == "none" and not allow_unsandboxed:
        raise ValueError("the `none` backend runs without isolation; it needs the explicit opt-out (--no-sandbox)")
    return BACKENDS[name]()


def resolve_policy(policy: Policy, backend: SandboxBackend) -> Policy:
    """The policy with its required layers made explicit for ``backend``.

    Raises:
        SandboxUnavailable: If the policy requires a layer the backend does not provide.
    """
    if policy.required is None:
        return dataclasses.replace(policy, required=backend.provides)
    missing = policy.required - backend.provides
    if missing:
        raise SandboxUnavailable(
            f"{', '.join(sorted(missing))}: the {backend.name} backend does not provide "
            f"{'this layer' if len(missing) == 1 else 'these layers'}; choose a backend that does "
            f"({', '.join(sorted(n for n, b in BACKENDS.items() if missing <= b.provides)) or 'none registered'}) "
            f"or leave the layer out of Policy(required=...)"
        )
    return policy


def sandbox_uid_for(policy: Policy) -> int | None:
    """The uid the sandbox runs as: the policy's when the launcher is root, else None (the caller's)."""
    return policy.uid if os.geteuid() == 0 else None


def ensure_available(condition: bool, layer: str, required: frozenset[str] | None, message: str) -> bool:
    """Raise :class:`SandboxUnavailable` if a required layer is not available; else say if it is."""
    if not condition and layer in (required or ()):
        raise SandboxUnavailable(f"{layer}: {message}")
    return condition


def prepare_workdir(workdir: Path | str, uid: int | None) -> Path:
    """Check and create the writable directory, and hand it (only it, not its content) to the sandbox uid.

    The directory may not overlap the Python runtime, a package's source, a system
    directory, ``/`` or a home directory (:func:`bestiary.sandbox.view.overlap`), and may
    not be a symlink. A missing one is created; its missing parents only when it lies
    below the current directory. An existing one must be empty or already belong to the
    sandbox uid, so that a run is never handed files the user owns.

    Raises:
        SandboxUnavailable: Saying what is wrong with the directory and what would be right.
    """
    p = Path(workdir).absolute()
    if p.is_symlink():
        raise SandboxUnavailable(f"the writable directory {p} is a symlink; give a real directory")
    why = view.unsafe_directory(p)
    if why is not None:
        raise SandboxUnavailable(f"refusing {p} as the sandbox's writable directory: {why}. Give a new directory.")
    if not p.exists():
        try:
            p.mkdir(parents=True, mode=0o755)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot create the writable directory {p}: {exc.strerror}") from exc
    else:
        owner = p.stat().st_uid
        try:
            empty = not any(os.scandir(p))
        except OSError as exc:
            raise SandboxUnavailable(f"cannot read the writable directory {p}: {exc.strerror}") from exc
        if not empty and uid is not None and owner not in (uid,):
            raise SandboxUnavailable(
                f"the writable directory {p} is not empty and belongs to uid {owner}: the sandbox would be handed "
                f"your files. Give a new or empty directory."
            )
    if uid is not None:
        try:
            os.chown(p, uid, uid)  # the directory only: never its content
        except OSError as exc:
            raise SandboxUnavailable(f"cannot hand {p} to the sandbox uid {uid}: {exc.strerror}") from exc
    return p.resolve()


def run(
    command: Sequence[str],
    workdir: Path | str,
    policy: Policy | None = None,
    *,
    backend: str = "bwrap",
    allow_unsandboxed: bool = False,
    audit_path: Path | None = None,
    on_stdout_line: Callable[[bytes], None] | None = None,
) -> SandboxResult:
    """Run ``command`` in a sandbox with ``workdir`` as its one writable directory.

    Args:
        command: Program and arguments.
        workdir: The writable directory (see :func:`prepare_workdir`).
        policy: Limits and required layers (default: :class:`Policy`, every layer required).
        backend: ``bwrap`` (default), ``gvisor``, a plugin's, or, with ``allow_unsandboxed``, ``none``.
        allow_unsandboxed: The explicit opt-out needed for ``backend="none"``.
        audit_path: A host-owned JSONL audit log outside ``workdir`` (None: the record is
            only returned in the result).
        on_stdout_line: Receives each line of the command's stdout as it arrives.

    Raises:
        SandboxUnavailable: If a required layer cannot be established or the directory is
            refused; nothing ran.
        ValueError: For an unknown backend, ``none`` without the opt-out, or an audit log
            inside the writable directory.
    """
    launch = Launch(tuple(command), Path(workdir), policy or Policy(), audit_path, on_stdout_line)
    return get_backend(backend, allow_unsandboxed=allow_unsandboxed).run(launch)
