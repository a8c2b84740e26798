"""The Ray executor against a real two-node Ray cluster, started on loopback in a private network namespace.

The cluster (``ray.cluster_utils.Cluster``: a head and a second node, each its own raylet)
runs inside ``unshare -n`` with only ``lo`` up, so nothing can leave the machine, and the
test tears down exactly the processes it started — never ``ray stop``, which would kill
every Ray process on the machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'bestiary[ray]')")

DRIVER = textwrap.dedent("""
    import json, subprocess, sys
    from pathlib import Path
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                            "include_dashboard": False})
    cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    try:
        from bestiary.sweep import run_sweep
        from bestiary.sweep_spec import parse_sweep
        text = Path(sys.argv[1]).read_text().replace("ADDRESS", cluster.address)
        nodes = []
        report = run_sweep(parse_sweep(text), text, sys.argv[2],
                           lambda kind, p, detail: nodes.append(detail) if kind == "done" else None)
        print(json.dumps({"done": report.done, "failed": report.failed, "nodes": sorted(set(nodes))}))
    finally:
        import ray
        ray.shutdown()  # disconnect the driver, then stop exactly this cluster's processes
        cluster.shutdown()
""")

SPEC = """\
name: on-ray
environments:
  - id: bestiary/OffSwitch-v0
scale:
  widths: [3, 5]
  timesteps: 2048
seeds: 2
evaluation: {episodes: 32, probes: 32}
executor: {kind: ray, address: "ADDRESS"}
retries: 0
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) is needed for the private netns")
def test_sweep_on_a_two_node_ray_cluster(workdir: Path) -> None:
    (workdir / "driver.py").write_text(DRIVER)
    (workdir / "spec.yaml").write_text(SPEC)
    out = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            str(workdir / "driver.py"),
            str(workdir / "spec.yaml"),
            str(workdir / "runs"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"done": 4, "failed": 0, "nodes": result["nodes"]}
    assert len(result["nodes"]) == 2, "both nodes ran trials"
    root = workdir / "runs" / "on-ray"
    for run_dir in (d for d in root.iterdir() if d.is_dir()):
        status = json.loads((run_dir / "status.json").read_text())
        assert status["state"] == "done" and status["attempts"] == 1
        for name in (
            "trial.json",
            "card.json",
            "metrics.json",
            "train.csv",
            "audit.jsonl",
            "organism/weights.safetensors",
            "organism/architecture.json",
        ):
            assert (run_dir / name).is_file(), name
    leftovers = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
