"""The worker's one loop: whatever trains the organisms, the same steps record each of them.

A :class:`Trainer` only trains: it yields, per organism, a call that returns the trained
organism (:class:`Trained`). The loop makes the call and does the rest the same way for
every trainer — the learning curve (``train.csv``), the organism's files, the handover
when asked, the evaluation, the facts (``worker.json``), the progress line — and turns an
organism's failure into its ``worker.json`` error (``nan`` for a non-finite parameter)
without stopping the others. A failure of the trainer itself (e.g. a population that
cannot be built) is recorded for every organism it had not yet yielded.
"""

from __future__ import annotations

import functools
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bestiary.organisms.files import write_atomic, write_json_atomic
from bestiary.organisms.protocol import (
    HANDOVER,
    METRICS,
    SOURCE_DIR,
    TRAIN_LOG,
    WORKER_FILE,
    ProtocolError,
    UnitManifest,
    WorkerFacts,
    package_versions,
    read_manifest,
    train_csv,
)
from bestiary.organisms.worker.trainer import Trained, Trainer, report, staged_trial


def trainer_named(name: str) -> Trainer:
    """The trainer a manifest names."""
    if name == "population":
        from bestiary.organisms.worker.population_trainer import PopulationTrainer

        return PopulationTrainer()
    from bestiary.organisms.worker.sb3 import Sb3Trainer

    return Sb3Trainer()


def evaluated_only(staging: Path, tid: str) -> Trained:
    """An organism the host staged to be evaluated again (nothing trained, nothing saved)."""
    from bestiary.organisms.worker.sb3 import evaluation_model
    from bestiary.organisms.worker.weights import load_organism

    trial, state = staged_trial(staging, tid), load_organism(staging / tid / SOURCE_DIR)[1]
    return Trained(trial, None, [], {}, lambda: evaluation_model(trial, state))


def record(made: Callable[[], Trained], tid: str, unit: UnitManifest, staging: Path) -> bool:
    """Make one organism and write everything the host reads of it; True if it succeeded."""
    from bestiary.organisms.worker.evaluate import evaluate
    from bestiary.organisms.worker.sb3 import architecture_json
    from bestiary.organisms.worker.weights import save_organism

    out = staging / tid
    facts: dict[str, Any] = {"versions": package_versions(), "started": time.time()}
    try:
        organism = made()
        facts |= organism.facts
        if not organism.finite:
            raise FloatingPointError("a parameter became non-finite (nan or inf) during training")
        if organism.state is not None:
            write_atomic(out / TRAIN_LOG, train_csv(organism.rows).encode())
            params = sum(v.numel() for v in organism.state.values())
            save_organism(out, organism.state, architecture_json(organism.trial, params))
            if organism.handover is not None and tid in unit.hand_over:  # before the host hears it is done
                try:
                    write_atomic(out / HANDOVER, organism.handover())
                except (ValueError, OSError) as exc:  # the next process trains the run from zero
                    facts["handover"] = f"not written: {exc}"[:1000]
        if unit.command == "evaluate" or unit.evaluate:
            began = time.perf_counter()
            write_json_atomic(out / METRICS, evaluate(organism.model(), organism.trial))
            facts["evaluation_seconds"] = time.perf_counter() - began
        ok = True
    except FloatingPointError as exc:
        facts = {"error": str(exc), "reason": "nan", "versions": facts["versions"]}
        ok = False
    except Exception as exc:  # one organism's failure is recorded, and the others go on
        facts = failure(exc)
        ok = False
    write_json_atomic(out / WORKER_FILE, WorkerFacts(**facts).to_json())
    return ok


def failure(exc: BaseException) -> dict[str, Any]:
    """The facts of an organism that failed: the error and the end of its traceback (also sent to stderr)."""
    tb = "".join(traceback.format_exception(exc))[-3000:]
    print(tb, file=sys.stderr)
    return {"error": f"{type(exc).__name__}: {exc}"[:4000], "traceback": tb, "versions": package_versions()}


def serve(staging: Path) -> int:
    """Do what the unit in ``staging`` asks; exit status 1 if any organism failed.

    Raises:
        ProtocolError: If the unit's manifest is not valid (nothing is done).
    """
    unit = read_manifest(staging)
    if unit.command == "benchmark":
        return benchmark(unit, staging)
    if unit.command == "audit":
        return audit(unit, staging)
    if unit.command == "evaluate":
        trainer: Trainer | None = None
        made: Iterator[tuple[str, Callable[[], Trained]]] = (
            (tid, functools.partial(evaluated_only, staging, tid)) for tid in unit.trials
        )
    else:
        trainer = trainer_named(unit.trainer)
        made = trainer.organisms(unit, staging, report)
    pending, failed = list(unit.trials), 0
    try:
        for tid, call in made:
            failed += not record(call, tid, unit, staging)
            pending.remove(tid)
            if trainer is not None and trainer.announces:
                report({"trial": tid, "event": "done"})  # the host may record it now
    except Exception as exc:  # the trainer itself failed: every organism it had not finished
        facts = failure(exc)
        for tid in pending:
            write_json_atomic(staging / tid / WORKER_FILE, WorkerFacts(**facts).to_json())
        failed += len(pending)
    return 1 if failed else 0


def benchmark(unit: UnitManifest, staging: Path) -> int:
    """Train briefly with the unit's trainer and write each organism's training rate; nothing is kept.

    The sb3 trainer trains the organisms one after the other, sharing ``seconds``; the population
    trainer trains them together for ``seconds``.
    """
    from bestiary.organisms.worker import population_trainer, sb3

    trials = [staged_trial(staging, tid) for tid in unit.trials]
    try:
        if unit.trainer == "population":
            rate = population_trainer.benchmark(trials, unit.seconds)
            rates = dict.fromkeys(unit.trials, rate)
        else:
            rates = {t.trial_id: sb3.benchmark(t, unit.seconds / len(trials)) for t in trials}
    except Exception as exc:
        facts = failure(exc)
        for tid in unit.trials:
            write_json_atomic(staging / tid / WORKER_FILE, WorkerFacts(**facts).to_json())
        return 1
    for tid, rate in rates.items():
        measured = WorkerFacts(versions=package_versions(), steps_per_second=rate)
        write_json_atomic(staging / tid / WORKER_FILE, measured.to_json())
    return 0


def audit(unit: UnitManifest, staging: Path) -> int:
    """Run the unit's detectors on each staged organism (:mod:`.audit`); exit status 1 if any organism failed."""
    from bestiary.organisms.worker.audit import audit_one

    failed = 0
    for tid in unit.trials:
        began = time.perf_counter()
        try:
            audit_one(staging, staged_trial(staging, tid), unit)
            facts = WorkerFacts(versions=package_versions(), evaluation_seconds=time.perf_counter() - began)
        except Exception as exc:  # this organism's failure is recorded, and the others go on
            facts, failed = WorkerFacts(**failure(exc)), failed + 1
        write_json_atomic(staging / tid / WORKER_FILE, facts.to_json())
        report({"trial": tid, "event": "audited"})
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point inside the sandbox: ``python -m bestiary.organisms.worker STAGING_DIR``; exit 1 if any failed."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bestiary.organisms.worker STAGING_DIR", file=sys.stderr)
        return 2
    try:
        return serve(Path(args[0]))
    except ProtocolError as exc:  # the host staged something the worker cannot do: say what, not a traceback
        print(f"bestiary worker: {exc}", file=sys.stderr)
        return 2
