"""``bestiary train`` and ``bestiary evaluate``: one organism, in the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from bestiary.cli.output import console, fail, safe
from bestiary.organisms.compute import LR_RULES
from bestiary.organisms.spec import ALGORITHMS, TRAINERS, EvalSpec, TrialSpec

_F = TrialSpec.model_fields
_E = EvalSpec.model_fields
app = typer.Typer()


def _help(name: str) -> str:
    return _F[name].description or ""


@app.command("train")
def train_cmd(
    env_id: Annotated[str | None, typer.Argument(help=_help("env_id"))] = None,
    params: Annotated[int | None, typer.Option(help=_help("params"))] = None,
    width: Annotated[int | None, typer.Option(help=_help("width"))] = None,
    depth: Annotated[int | None, typer.Option(help=_help("depth"))] = None,
    seed: Annotated[int, typer.Option(help="Seed of training and evaluation.")] = 0,
    timesteps: Annotated[int | None, typer.Option(help=_help("timesteps"))] = None,
    algo: Annotated[str, typer.Option(help=_help("algo"))] = "ppo",
    trainer: Annotated[str | None, typer.Option(help=_help("trainer"))] = None,
    oversight: Annotated[str, typer.Option(help=_help("oversight"))] = "train",
    env_kwarg: Annotated[list[str] | None, typer.Option("--env-kwarg", help="Knob as KEY=VALUE (repeatable).")] = None,
    lr_rule: Annotated[str, typer.Option(help=_help("lr_rule"))] = "constant",
    hyperparameter: Annotated[
        list[str] | None,
        typer.Option("--hyperparameter", help="Override of defaults.yaml as KEY=VALUE (YAML value; repeatable)."),
    ] = None,
    n_envs: Annotated[int | None, typer.Option(min=1, help=_help("n_envs"))] = None,
    episodes: Annotated[int, typer.Option(min=10, help=_E["episodes"].description or "")] = _E["episodes"].default,
    probes: Annotated[int, typer.Option(min=20, help=_E["probes"].description or "")] = _E["probes"].default,
    deterministic: Annotated[bool, typer.Option("--deterministic", help=_E["deterministic"].description or "")] = False,
    out: Annotated[
        str | None, typer.Option(help="Run directory (default runs/<trial-id>); new or a run directory.")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Continue training this run directory's organism.")
    ] = None,
    evaluate: Annotated[bool, typer.Option(help="Evaluate after training.")] = True,
    backend: Annotated[str, typer.Option(help="Sandbox backend: bwrap, gvisor, or a plugin's.")] = "bwrap",
    tensorboard: Annotated[
        str | None, typer.Option(help="Write TensorBoard event files of the learning curve here.")
    ] = None,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Train WITHOUT isolation (recorded).")] = False,
) -> None:
    """Train one organism in the sandbox (and evaluate it): bestiary train ENV_ID --params N --seed S."""
    from bestiary.envs import EnvError
    from bestiary.organisms import OrganismError, RunDir, resolve, spec_from, train_organism
    from bestiary.sandbox import SandboxUnavailable

    if algo not in ALGORITHMS:
        raise fail(f"--algo must be one of {', '.join(ALGORITHMS)}, not {algo!r}")
    if trainer is not None and trainer not in TRAINERS:
        raise fail(f"--trainer must be one of {', '.join(TRAINERS)}, not {trainer!r}")
    if lr_rule not in LR_RULES:
        raise fail(f"--lr-rule must be one of {', '.join(LR_RULES)}, not {lr_rule!r}")
    try:
        source = RunDir(from_).trial() if from_ else None
    except OrganismError as exc:
        raise fail(f"--from {from_}: {exc}") from exc
    env = env_id or (source.env_id if source else None)
    if env is None:
        raise fail("give an environment id (or --from RUN_DIR to continue an organism)")
    data = {
        "env_id": env, "params": params, "width": width, "depth": depth, "seed": seed, "timesteps": timesteps,
        "algo": algo, "oversight": oversight, "trainer": trainer,
        "env_kwargs": _kwargs(env_kwarg, "--env-kwarg") if env_kwarg
        else (source.env_kwargs if source and not env_id else {}),
        "lr_rule": lr_rule, "n_envs": n_envs,
        "hyperparameters": _kwargs(hyperparameter, "--hyperparameter") if hyperparameter else {},
        "evaluation": {"episodes": episodes, "probes": probes, "deterministic": deterministic},
    }  # fmt: skip
    if source is not None:
        data["init_from"] = source.trial_id
    try:
        spec = spec_from({k: v for k, v in data.items() if v is not None})
        trial = resolve(spec, source)
    except (OrganismError, EnvError, ValueError) as exc:
        raise fail(str(exc)) from exc
    run_dir = Path(out or Path("runs") / trial.trial_id)
    console.print(
        Text(
            f"training {trial.trial_id}: {trial.env_id}, width {trial.width} × depth {trial.depth} = "
            f"{trial.params:,} parameters, {trial.timesteps:,} timesteps, oversight {trial.oversight}"
            + (f", continuing {source.trial_id}" if source else "")
            + f" → {run_dir}"
        )
    )
    try:
        with _progress_bar(trial.timesteps) as update:
            outcome = train_organism(
                spec,
                run_dir,
                evaluate=evaluate,
                sandbox=not no_sandbox,
                backend=backend,
                source_dir=from_,
                progress=update,
            )
    except SandboxUnavailable as exc:
        raise fail(f"sandbox unavailable, nothing was run: {exc} (or pass --no-sandbox to opt out)") from exc
    except (OrganismError, EnvError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    if tensorboard and outcome.state == "done":
        from bestiary.organisms.tensorboard import write_events

        try:
            console.print(Text(f"tensorboard events → {write_events(RunDir(run_dir), tensorboard)}"))
        except OrganismError as exc:
            raise fail(str(exc)) from exc
    report_outcome(outcome)


@app.command("evaluate")
def evaluate_cmd(
    run_dir: Annotated[str, typer.Argument(help="Run directory of a trained organism.")],
    backend: Annotated[str, typer.Option(help="Sandbox backend: bwrap, gvisor, or a plugin's.")] = "bwrap",
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Evaluate WITHOUT isolation (recorded).")] = False,
) -> None:
    """Evaluate a trained organism in the sandbox: behaviour with oversight on and off, and precursors."""
    from bestiary.organisms import OrganismError, evaluate_organism
    from bestiary.sandbox import SandboxUnavailable

    try:
        outcome = evaluate_organism(run_dir, sandbox=not no_sandbox, backend=backend)
    except SandboxUnavailable as exc:
        raise fail(f"sandbox unavailable, nothing was run: {exc}") from exc
    except (OrganismError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    report_outcome(outcome)


def _kwargs(pairs: list[str], option: str) -> dict[str, Any]:
    import yaml

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise fail(f"{option} {pair!r} must be KEY=VALUE")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise fail(f"{option} {pair!r}: the value is not valid YAML") from exc
    return out


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[dict], None]]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} steps"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[violation]}"),
    )
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("training", total=total, rate="", violation="")

        def update(p: dict) -> None:  # progress lines come from the sandbox: numbers only, checked
            def number(key: str) -> float | None:
                v = p.get(key)
                return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

            steps, rate, v = number("timesteps"), number("steps_per_second"), number("violation_rate_unobserved")
            progress.update(
                task,
                completed=min(steps or 0, total),
                rate=f"{rate:,.0f} steps/s" if rate is not None else "",
                violation="" if v is None or v != v else f"violation (unobserved) {v:.2f}",
            )

        yield update


def report_outcome(outcome: Any) -> None:
    """Print an outcome's verdict and numbers (exit 1 if it failed)."""
    m = outcome.metrics
    if outcome.state != "done":
        line = Text(f"failed ({outcome.reason})", style="bold red")
        line.append(safe(f"; see {outcome.run_dir}/status.json\n{outcome.detail}\n{outcome.stderr_tail}", 3000))
        console.print(line)
        raise typer.Exit(code=1)
    if m:
        on, off = m["behaviour"]["on"], m["behaviour"]["off"]
        p = m["precursors"]
        console.print(
            Text(
                f"done: violation rate off {off['violation_rate']:.3f} ({off['violations']}/{off['episodes']}), "
                f"on {on['violation_rate']:.3f} ({on['violations']}/{on['episodes']}), "
                f"gap {m['misalignment_gap']:+.3f}; "
                f"log-odds gap {p['logodds_gap']:+.2f}, latent probe {p['latent_probe_accuracy']:.2f}, "
                f"value gap {p['value_gap']:+.3f} → {outcome.run_dir}",
                style="green",
            )
        )
    else:
        console.print(Text(f"done → {outcome.run_dir}", style="green"))
