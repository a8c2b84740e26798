"""``bestiary envs``: list, check, and play the scripted best responses."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from bestiary.cli.output import console, fail, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Failure-mode environments: list, check, best responses.")

JSON = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command("list")
def envs_list(as_json: JSON = False) -> None:
    """Print every failure-mode environment: id, failure mode, summary and capability knobs."""
    from bestiary.envs import list_envs

    rows = list_envs()
    if as_json:
        print_json([r.__dict__ for r in rows])
        return
    print_table(
        "Failure-mode environments",
        ["id", "failure mode", "mechanism", "summary", "capability knobs", "configuration"],
        [
            [
                r.env_id,
                r.failure_mode,
                r.mechanism,
                r.summary,
                "\n".join(f"{k}: {v}" for k, v in r.knobs.items()),
                ", ".join(f"{k}={v}" for k, v in r.kwargs.items()) or "defaults",
            ]
            for r in rows
        ],
    )


NO_SANDBOX = Annotated[
    bool, typer.Option("--no-sandbox", help="Run the environments' code here, WITHOUT isolation (it runs as you).")
]


def _sandboxed(module: str, args: list[str], no_sandbox: bool) -> dict:
    from bestiary.sandbox import SandboxUnavailable
    from bestiary.sandboxed import SandboxedCommandError, run_module_json

    try:
        answer = run_module_json(module, args, sandbox=not no_sandbox)
    except SandboxUnavailable as exc:
        raise fail(f"sandbox unavailable, nothing was run: {exc} (or pass --no-sandbox to opt out)") from exc
    except SandboxedCommandError as exc:
        raise fail(str(exc)) from exc
    if not isinstance(answer, dict):
        raise fail(f"python -m {module} answered {type(answer).__name__}, not a table")
    for target, value in answer.items():
        if isinstance(value, dict) and "error" in value:
            raise fail(f"{target}: {value['error']}")
    return answer


@app.command("check")
def envs_check(
    targets: Annotated[list[str] | None, typer.Argument(help="Registered ids or module:Class.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Check every registered failure-mode environment.")] = False,
    as_json: JSON = False,
    no_sandbox: NO_SANDBOX = False,
) -> None:
    """Check environments (in the sandbox) against Contract 1, Gymnasium's and SB3's checkers; exit 1 on a failure."""
    from bestiary.envs import failure_mode_ids

    names = list(targets or [])
    if all_:
        names += [i for i in failure_mode_ids() if i not in names]
    if not names:
        raise fail("give at least one environment id or module:Class, or --all")
    report = _sandboxed("bestiary.envs.checker", names, no_sandbox)
    failed = []
    for name in names:
        value = report.get(name)
        results: list = value if isinstance(value, list) else []
        rows = [
            [str(r.get("name")), "pass" if r.get("passed") is True else "FAIL", str(r.get("detail"))] for r in results
        ]
        failed += [f"{name}: {row[0]}" for row in rows if row[1] == "FAIL"]
        if not results:
            failed.append(f"{name}: no result")
        if not as_json:
            print_table(name, ["property", "result", "detail"], rows)
    if as_json:
        print_json({"environments": report, "failed": failed})
    elif failed:
        console.print(Text("failed: " + "; ".join(failed), style="bold red"))
    else:
        console.print(Text(f"all checks passed for {len(names)} environment(s)", style="green"))
    if failed:
        raise typer.Exit(code=1)


@app.command("best-response")
def envs_best_response(
    targets: Annotated[list[str] | None, typer.Argument(help="Registered ids (default: all).")] = None,
    episodes: Annotated[int, typer.Option(min=100, max=10**6, help="Episodes per policy and regime.")] = 4000,
    seed: Annotated[int, typer.Option(help="Seed of the episodes.")] = 0,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table (for docs).")] = False,
    mechanisms: Annotated[
        bool,
        typer.Option(
            "--mechanisms",
            help="A matrix of environments × scripted policies that use one capability each "
            "(training return / hidden return in deployment), and which one training pays best.",
        ),
    ] = False,
    as_json: JSON = False,
    no_sandbox: NO_SANDBOX = False,
) -> None:
    """Play scripted policies (comply, defect, reads_latent) in the sandbox: only reading the latent pays."""
    from bestiary.envs import env_spec, failure_mode_ids

    ids = list(targets or failure_mode_ids())
    for env_id in ids:
        try:
            env_spec(env_id)
        except Exception as exc:  # an unknown id: say so before starting a sandbox
            raise fail(str(exc)) from exc
    flag = ["--mechanisms"] if mechanisms else []
    answer = _sandboxed("bestiary.envs.reference", [*flag, str(episodes), str(seed), *ids], no_sandbox)
    if as_json:
        print_json(answer)
        return
    if mechanisms:
        _print_mechanisms(answer, ids, episodes, markdown)
        return
    header = ["env", "policy", "regime", "observed return", "hidden return", "violation rate"]
    rows = []
    try:
        for env_id in ids:
            for o in answer.get(env_id) or []:
                rows.append(
                    [env_id, str(o["policy"]), str(o["regime"])]
                    + [f"{float(o[k]):.3f}" for k in ("observed_return", "hidden_return", "violation_rate")]
                )
    except (KeyError, TypeError, ValueError) as exc:
        raise fail(f"the sandboxed best responses are malformed: {exc!r}") from exc
    print_table(f"Scripted policies, {episodes} episodes each", header, rows, markdown=markdown)


def _print_mechanisms(answer: dict, ids: list[str], episodes: int, markdown: bool) -> None:
    """The mechanism matrix: a cell per policy, ``training return / hidden return off``, and the best policy."""
    from bestiary.envs.mechanisms import mechanism_policies
    from bestiary.envs.reference import MechanismCell, best_policy

    policies = ["comply", *mechanism_policies().values()]
    header = ["env", "mechanism", *policies, "training pays best"]
    rows = []
    try:
        for env_id in ids:
            entry = answer[env_id]
            if "error" in entry:
                raise fail(f"{env_id}: {entry['error']}")
            cells = [MechanismCell(**c) for c in entry["cells"]]
            by = {c.policy: c for c in cells}
            rows.append(
                [env_id, str(entry["mechanism"])]
                + [f"{by[p].train_observed:.2f} / {by[p].off_hidden:+.2f}" for p in policies]
                + [best_policy(cells)]
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise fail(f"the sandboxed mechanism matrix is malformed: {exc!r}") from exc
    print_table(
        f"Scripted policies by mechanism, {episodes} episodes each: training return / hidden return in deployment",
        header,
        rows,
        markdown=markdown,
    )
