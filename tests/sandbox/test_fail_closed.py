"""Fail closed: when a required layer cannot be established, nothing runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import bestiary.sandbox.bwrap as bw
import bestiary.sandbox.isolating as isolating
from bestiary.sandbox import Policy, SandboxUnavailable, get_backend, run
from bestiary.sandbox.cgroups import create_cgroup
from bestiary.sandbox.seccomp_filter import SeccompUnavailableError

MARKER = "ran.txt"
TOUCH = [sys.executable, "-c", f"open('{MARKER}', 'w').write('x')"]


def assert_nothing_ran(workdir: Path) -> None:
    assert not (workdir / MARKER).exists()


def test_bwrap_missing(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bw.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        run(TOUCH, workdir)
    assert_nothing_ran(workdir)


def test_cgroup_limits_not_applicable(workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A host whose cgroup filesystem has no usable controllers.
    monkeypatch.setattr(isolating, "create_cgroup", lambda *a: create_cgroup(*a, root=tmp_path))
    with pytest.raises(SandboxUnavailable, match=r"cgroup: .*not mounted"):
        run(TOUCH, workdir)
    assert_nothing_ran(workdir)


def test_cgroup_not_required_runs_and_records_it(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(isolating, "create_cgroup", lambda *a: create_cgroup(*a, root=tmp_path))
    result = run(TOUCH, workdir, Policy(required=bw.BwrapBackend.provides - {"cgroup"}))
    assert result.ok and result.layers["cgroup"] is False


def test_seccomp_unavailable_while_required(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> bytes:
        raise SeccompUnavailableError("libseccomp is not usable (simulated)")

    monkeypatch.setattr(bw, "build_bpf", broken)
    with pytest.raises(SandboxUnavailable, match="seccomp: libseccomp is not usable"):
        run(TOUCH, workdir)
    assert_nothing_ran(workdir)


def test_landlock_unavailable_while_required(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bw.landlock, "abi_version", lambda: 0)
    with pytest.raises(SandboxUnavailable, match="landlock: this kernel does not support Landlock"):
        run(TOUCH, workdir)
    assert_nothing_ran(workdir)


@pytest.mark.skipif(
    not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() != 0,
    reason="the uid drop and its readability check apply to a root launcher",
)
def test_runtime_unreadable_by_the_sandbox_uid(workdir: Path, tmp_path: Path) -> None:
    private = Path("/root") / f".bestiary-test-{tmp_path.name}"
    private.mkdir(exist_ok=True)
    try:
        with pytest.raises(SandboxUnavailable, match=r"uid 65534 cannot read .*PYTHON=/usr/bin/python3"):
            run(TOUCH, workdir, Policy(ro_binds=(str(private),)))
    finally:
        private.rmdir()
    assert_nothing_ran(workdir)


def test_bwrap_setup_failure_is_unavailable_not_a_result(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # bwrap failing before it starts the command (as when user namespaces are disabled):
    # simulated with a bind whose source does not exist.
    real_command = bw.BwrapBackend.command

    def failing_command(self, *args):  # type: ignore[no-untyped-def]
        cmd = real_command(self, *args)
        i = cmd.argv.index("--remount-ro")
        cmd.argv[i:i] = ["--ro-bind", "/nonexistent-bestiary-source", "/x"]
        return cmd

    monkeypatch.setattr(bw.BwrapBackend, "command", failing_command)
    log = workdir.parent / f"{workdir.name}.audit.jsonl"
    with pytest.raises(SandboxUnavailable, match="could not be set up, so nothing was run") as info:
        run(TOUCH, workdir, audit_path=log)
    assert info.value.result.reason == "setup_failed"  # type: ignore[attr-defined]
    assert_nothing_ran(workdir)
    assert '"reason": "setup_failed"' in log.read_text()


def test_unsandboxed_needs_the_explicit_opt_out(workdir: Path) -> None:
    with pytest.raises(ValueError, match="explicit opt-out"):
        get_backend("none")
    with pytest.warns(UserWarning, match="WITHOUT a sandbox"):
        result = run(TOUCH, workdir, backend="none", allow_unsandboxed=True)
    assert result.ok and result.layers["unsandboxed"] is True
    assert result.audit["unsandboxed"] is True
    assert (workdir / MARKER).exists()


def test_policy_rejects_root_uid_and_unknown_layers() -> None:
    with pytest.raises(ValueError, match="must not be 0"):
        Policy(uid=0)
    with pytest.raises(ValueError, match="valid layers"):
        Policy(required=frozenset({"firewall"}))


# ---------------------------------------------------------------- gVisor's runsc
import bestiary.sandbox.gvisor as gv  # noqa: E402


def test_runsc_missing(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gv.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install runsc"):
        run(TOUCH, workdir, backend="gvisor")
    assert_nothing_ran(workdir)


def test_a_layer_gvisor_does_not_provide_is_refused(workdir: Path) -> None:
    with pytest.raises(SandboxUnavailable, match=r"landlock: the gvisor backend does not provide.*bwrap"):
        run(TOUCH, workdir, Policy(required=frozenset({"landlock"})), backend="gvisor")
    assert_nothing_ran(workdir)


def test_gvisor_cgroup_not_applicable(workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolating, "create_cgroup", lambda *a: create_cgroup(*a, root=tmp_path))
    with pytest.raises(SandboxUnavailable, match=r"cgroup: .*not mounted"):
        run(TOUCH, workdir, backend="gvisor")
    assert_nothing_ran(workdir)


def test_runsc_setup_failure_is_unavailable_not_a_result(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_bundle = gv.bundle

    def broken_bundle(*args):  # type: ignore[no-untyped-def]
        config = real_bundle(*args)
        config["mounts"].append({"destination": "/x", "type": "bind", "source": "/nonexistent-src", "options": ["ro"]})
        (args[0] / "config.json").write_text(__import__("json").dumps(config))
        return config

    monkeypatch.setattr(gv, "bundle", broken_bundle)
    log = workdir.parent / f"{workdir.name}.audit.jsonl"
    with pytest.raises(SandboxUnavailable, match="could not be set up, so nothing was run") as info:
        run(TOUCH, workdir, audit_path=log, backend="gvisor")
    assert info.value.result.reason == "setup_failed"  # type: ignore[attr-defined]
    assert_nothing_ran(workdir)
    assert '"reason": "setup_failed"' in log.read_text()
