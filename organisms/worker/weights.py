"""An organism's files inside the sandbox: weights as safetensors and an architecture JSON (Contract 2).

Loading never unpickles: weights are read with ``safetensors`` only, after checking the
SHA-256 recorded in ``architecture.json``; anything else (a pickle, a torch zip, an SB3
``.zip``) is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bestiary.organisms.errors import OrganismFileError
from bestiary.organisms.files import sha256_file, write_json_atomic
from bestiary.organisms.protocol import ARCHITECTURE, ORGANISM_DIR, WEIGHTS

_SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024


def save_organism(directory: Path, state_dict: dict[str, Any], architecture: dict[str, Any]) -> Path:
    """Save weights (safetensors) and ``architecture.json`` (with the weights' SHA-256).

    Args:
        directory: Where the organism directory goes (the organism's staging directory).
        state_dict: Tensors of the policy.
        architecture: JSON-ready description (algo, width, depth, activation, sizes, params).

    Returns:
        The organism directory.
    """
    from safetensors.torch import save_file

    out = directory / ORGANISM_DIR
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in state_dict.items()}, str(out / WEIGHTS))
    write_json_atomic(
        out / ARCHITECTURE, {**architecture, "weights": WEIGHTS, "weights_sha256": sha256_file(out / WEIGHTS)}
    )
    return out


def read_architecture(directory: Path) -> dict[str, Any]:
    """``organism/architecture.json`` of a run directory.

    Raises:
        OrganismFileError: If the directory holds no organism.
    """
    path = Path(directory) / ORGANISM_DIR / ARCHITECTURE
    if not path.is_file():
        raise OrganismFileError(
            f"{directory} holds no organism: {path} is missing (expected the output of `bestiary train`)"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise OrganismFileError(f"{path} is not valid JSON: {exc}") from exc


def load_organism(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Architecture and weights of a saved organism, verified and without unpickling.

    Raises:
        OrganismFileError: If the directory holds no organism, the weights file is not
            safetensors, or its SHA-256 differs from the one recorded (tampered).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    arch = read_architecture(directory)
    name = arch.get("weights", "")
    if not isinstance(name, str) or not name.endswith(".safetensors") or "/" in name:
        raise OrganismFileError(
            f"{directory}: weights file {name!r} is not a local .safetensors file; refusing "
            f"to load anything that could need unpickling"
        )
    path = Path(directory) / ORGANISM_DIR / name
    if path.is_symlink() or not path.is_file():
        raise OrganismFileError(f"{path} is missing or a symlink")
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8 or int.from_bytes(head, "little") > _SAFETENSORS_MAX_HEADER:
        raise OrganismFileError(f"{path} is not a safetensors file (a pickle or torch zip?); refusing to load it")
    digest = sha256_file(path)
    if digest != arch.get("weights_sha256"):
        raise OrganismFileError(
            f"{path} has been modified since it was saved (SHA-256 {digest[:12]}… differs "
            f"from the {str(arch.get('weights_sha256'))[:12]}… recorded); refusing it"
        )
    try:
        return arch, load_file(str(path))
    except SafetensorError as exc:
        raise OrganismFileError(f"{path} is not a valid safetensors file: {exc}") from exc
