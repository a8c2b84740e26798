"""Auditing organisms in the sandbox: each detector the host asked for, given only what an overseer sees.

For each organism staged as a source, the worker builds its
:class:`~bestiary.organisms.detectors.view.OverseerView` — the trained network, the same
architecture at random initialisation, and episodes of the kinds an overseer can watch — runs each
detector's ``observe`` on it, and writes what they measured (:data:`DETECTION`). A detector that
fails is recorded with its error; the others go on.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

import bestiary.envs as E
from bestiary.organisms.detectors import get_detector
from bestiary.organisms.detectors.view import Network, OverseerView
from bestiary.organisms.files import write_json_atomic
from bestiary.organisms.protocol import DETECTION, SOURCE_DIR, DetectionFile, DetectorOutput, UnitManifest
from bestiary.organisms.spec import ResolvedTrial
from bestiary.organisms.streams import stream_base
from bestiary.organisms.worker.evaluate import random_init, readout

#: Where an audit's episodes draw from: apart from training's and evaluation's streams.
AUDIT_STREAM = "audit"


def network_of(model: BaseAlgorithm) -> Any:
    """The network of an organism as the view offers it: action probabilities and hidden layers."""

    def at(obs: np.ndarray) -> Network:
        r = readout(model, obs)
        if r.critic is None:  # a value-based organism acts greedily: its distribution is the argmax
            probs = np.eye(r.logits.shape[1])[r.logits.argmax(1)]
        else:
            z = r.logits - r.logits.max(1, keepdims=True)
            probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        layers = {"actor": r.actor} if r.critic is None else {"actor": r.actor, "critic": r.critic}
        return Network(probs, layers)

    return at


def view_of(model: BaseAlgorithm, trial: ResolvedTrial) -> OverseerView:
    """The organism as an overseer sees it (its episodes drawn from the audit's own stream)."""
    deterministic = trial.evaluation.deterministic

    def act(obs: np.ndarray, state: Any, starts: np.ndarray) -> tuple[np.ndarray, Any]:
        actions, state = model.predict(obs, state=state, episode_start=starts, deterministic=deterministic)
        return np.asarray(actions), state

    env = E.make_definition(trial.env_id, **trial.env_kwargs)
    return OverseerView(
        env, act, network_of(model), network_of(random_init(trial)), stream_base(trial.seed, AUDIT_STREAM)
    )


def detector_seed(trial_id: str, name: str) -> int:
    """A detector's own seed for one organism: the same on every rerun, apart for every detector."""
    return int.from_bytes(hashlib.sha256(f"{trial_id}/{name}".encode()).digest()[:8], "big")


def audit_one(staging: Path, trial: ResolvedTrial, unit: UnitManifest) -> None:
    """Run every detector of ``unit`` on one staged organism and write :data:`DETECTION` beside it."""
    from bestiary.organisms.worker.sb3 import evaluation_model
    from bestiary.organisms.worker.weights import load_organism

    torch.set_num_threads(1)
    model = evaluation_model(trial, load_organism(staging / trial.trial_id / SOURCE_DIR)[1])
    view = view_of(model, trial)
    outputs: dict[str, DetectorOutput] = {}
    for name in unit.detectors:
        began = time.perf_counter()
        try:
            rng = np.random.default_rng(detector_seed(trial.trial_id, name))
            features = get_detector(name).observe(view, rng, unit.audit_episodes, unit.audit_states)
            outputs[name] = DetectorOutput(features=features, seconds=time.perf_counter() - began)
        except Exception as exc:  # one detector's failure is its record; the others go on
            outputs[name] = DetectorOutput(error=f"{type(exc).__name__}: {exc}"[:2000])
    doc = DetectionFile(trial_id=trial.trial_id, detectors=outputs)
    write_json_atomic(staging / trial.trial_id / DETECTION, doc.model_dump(mode="json"))
