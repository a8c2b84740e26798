"""What a sandboxed Python job sees of the host: the runtime and the installed packages, nothing else.

A sandbox binds these read-only: the system's programs and libraries (``/usr`` and the
dynamic linker's cache), the interpreter's prefix, the virtualenv, and the *sources* of
editable installs — found from the ``.pth`` files and setuptools' editable finders in
site-packages, so a plugin installed with ``pip install -e`` from anywhere is visible —
plus the entries of the launcher's ``PYTHONPATH``. A project checkout is not bound as a
whole: with setuptools' editable finder only its package folders are, so a ``runs/``
directory beside them stays out of sight.

It also says what must never be the writable directory (:func:`overlap`):
writing into the runtime, a package's source or a system directory would let the run
plant code that the host later executes.
"""

from __future__ import annotations

import ast
import os
import site
import sys
import sysconfig
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bestiary.sandbox.policy import Policy

#: System paths every job sees read-only, if they exist. Nothing else of /etc is bound.
SYSTEM_BINDS: tuple[str, ...] = ("/usr", "/etc/ld.so.cache", "/etc/alternatives")
#: Merged-/usr links (``/bin -> usr/bin``) recreated inside.
MERGED_USR_LINKS: tuple[str, ...] = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: Directories that must not contain a writable directory, nor be one.
SYSTEM_DIRS: tuple[str, ...] = (
    "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev", "/proc", "/sys",
    "/opt", "/snap", "/var/lib", "/var/cache", "/var/log",
)  # fmt: skip


def _real(path: str | Path) -> str:
    return os.path.realpath(path)


def _site_dirs() -> list[str]:
    dirs = set(site.getsitepackages())
    for key in ("purelib", "platlib"):
        dirs.add(sysconfig.get_paths()[key])
    return sorted(_real(d) for d in dirs if os.path.isdir(d))


def _pth_paths(site_dir: str) -> list[str]:
    """Directories that ``.pth`` files in ``site_dir`` add to ``sys.path`` (not their ``import`` lines)."""
    out = []
    for pth in sorted(Path(site_dir).glob("*.pth")):
        try:
            lines = pth.read_text(errors="replace").splitlines()[:200]
        except OSError:
            continue
        for line in lines:
            line = line.strip()
            if not line or line.startswith(("#", "import ", "import\t")):
                continue
            path = line if os.path.isabs(line) else os.path.join(site_dir, line)
            if os.path.isdir(path):
                out.append(_real(path))
    return out


def _editable_finder_paths(site_dir: str) -> list[str]:
    """Package folders mapped by setuptools' editable finders (``__editable___*_finder.py``), read, not imported."""
    out = []
    for finder in sorted(Path(site_dir).glob("__editable__*finder.py")):
        try:
            tree = ast.parse(finder.read_text(errors="replace"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            target: ast.expr
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                target, expr = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, expr = node.targets[0], node.value
            else:
                continue
            if not (isinstance(target, ast.Name) and target.id in ("MAPPING", "NAMESPACES")):
                continue
            try:
                value = ast.literal_eval(expr)
            except (ValueError, TypeError, SyntaxError):
                continue
            for v in value.values() if isinstance(value, dict) else ():
                for p in v if isinstance(v, list) else [v]:
                    if isinstance(p, str) and os.path.isdir(p):
                        out.append(_real(p))
    return out


def _pythonpath() -> list[str]:
    return [_real(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.isdir(p)]


@cache
def _installed_paths() -> frozenset[str]:
    paths = {_real(sys.base_prefix), _real(sys.prefix), os.path.dirname(_real(sys.executable)), *_site_dirs()}
    for d in _site_dirs():
        paths.update(_pth_paths(d))
        paths.update(_editable_finder_paths(d))
    return frozenset(paths)


def runtime_paths() -> tuple[str, ...]:
    """Host paths a Python job of this interpreter needs, read-only: prefixes, site-packages, package sources."""
    return tuple(sorted(_minimal({*_installed_paths(), *_pythonpath()})))


def package_sources() -> tuple[str, ...]:
    """The editable and ``PYTHONPATH`` source folders among :func:`runtime_paths` (outside the prefixes)."""
    prefixes = (_real(sys.base_prefix), _real(sys.prefix))
    return tuple(p for p in runtime_paths() if not any(within(p, pre) for pre in prefixes))


def sandbox_pythonpath() -> str:
    """The ``PYTHONPATH`` to set inside: the launcher's own entries (a plugin found only through it)."""
    return os.pathsep.join(_pythonpath())


def system_binds() -> list[str]:
    """The system paths of :data:`SYSTEM_BINDS` that exist here."""
    return [p for p in SYSTEM_BINDS if os.path.exists(p)]


def within(path: str, parent: str) -> bool:
    """Whether ``path`` is ``parent`` or lies below it (both absolute, normalised)."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _minimal(paths: set[str]) -> set[str]:
    """Drop paths already inside another one of the set."""
    return {p for p in paths if not any(q != p and within(p, q) for q in paths)}


def checkouts() -> tuple[str, ...]:
    """Folders holding editable package sources (typically project checkouts): never a writable directory's child."""
    return tuple(sorted({str(Path(src).parent) for src in package_sources()}))


def overlap(path: Path | str) -> str | None:
    """Why ``path`` may not be a writable directory (None if it may).

    It may not be ``/``, a home directory or lie in a system directory; it may not
    overlap the Python runtime or a package's source in either direction; and it may not
    contain a checkout that package sources come from (a ``runs/`` folder *inside* a
    checkout is fine, the checkout itself is not).
    """
    p = _real(path)
    if p == "/":
        return "it is the root directory"
    for d in SYSTEM_DIRS:
        if within(p, d):
            return f"it lies in the system directory {d}"
    if p in (_real(os.path.expanduser("~")), "/home", "/root"):
        return "it is a home directory"
    for q in runtime_paths():
        if within(p, q):
            return f"it lies in {q}, where the sandbox's Python runtime or package sources come from"
        if within(q, p):
            return f"it contains {q}, where the sandbox's Python runtime or package sources come from"
    for q in checkouts():
        if within(q, p):
            return f"it contains {q}, the checkout that package sources come from"
    return None


def unsafe_directory(path: Path | str) -> str | None:
    """Why ``path`` may not be made a directory Bestiary writes into (None if it may).

    Besides :func:`overlap`: it may not be an existing non-directory, and a missing one's
    parent must exist unless it lies below the current directory (only there are parents made).
    """
    p = Path(path).absolute()
    why = overlap(p)
    if why is not None:
        return why
    if p.exists() and not p.is_dir():
        return "it exists and is not a directory"
    if not p.exists() and not p.parent.is_dir() and not p.is_relative_to(Path.cwd()):
        return (
            f"its parent {p.parent} does not exist; create it first (parents are made only below the current directory)"
        )
    return None


def environment(policy: Policy) -> dict[str, str]:
    """The environment inside: a fixed base, the allow-listed host variables and the policy's own."""
    env = {
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "PATH": f"{os.path.join(sys.prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        **{k: os.environ[k] for k in policy.env_allowlist if k in os.environ},
    }
    if sandbox_pythonpath():
        env["PYTHONPATH"] = sandbox_pythonpath()
    env.update(dict(policy.env))
    return env
