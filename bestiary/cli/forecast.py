"""``bestiary forecast`` and ``bestiary score``: seal a forecast now, score it once the answer exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from bestiary.cli.output import fail, print_json, print_table, say

app = typer.Typer()

Source = Annotated[str, typer.Argument(help="A runs directory (collected now) or results.parquet / results.csv.")]


@app.command("forecast")
def forecast_cmd(
    source: Source,
    output: Annotated[str, typer.Option("-o", "--output", help="Where to write the sealed forecast (JSON).")],
    tau: Annotated[float, typer.Option(help="Danger level of the behaviour.")] = 0.5,
    n_boot: Annotated[int, typer.Option(min=0, max=10_000, help="Bootstrap draws per fit.")] = 100,
    budget: Annotated[
        list[int] | None,
        typer.Option(
            min=1,
            help="Also forecast at this training budget (timesteps), e.g. one not trained yet; repeatable "
            "(a sweep's directory adds every budget of its plan).",
        ),
    ] = None,
    max_params: Annotated[
        int | None, typer.Option(min=1, help="Forecast only from organisms of at most this many parameters.")
    ] = None,
    max_timesteps: Annotated[
        int | None, typer.Option(min=1, help="... of at most this many training timesteps.")
    ] = None,
    max_compute: Annotated[
        float | None, typer.Option(min=0, help="... of at most this much training compute (FLOPs).")
    ] = None,
) -> None:
    """Forecast where each behaviour will emerge, from the organisms trained so far, and seal it (hashes)."""
    from bestiary.analysis.sealed import ForecastError, make_forecast
    from bestiary.collect import table_of

    if not 0 < tau < 1:
        raise fail(f"--tau must be between 0 and 1, not {tau}")
    out = Path(output)
    if out.exists():
        raise fail(f"{out} exists: a sealed forecast is never overwritten (choose another path)")
    bounds = {k: float(v) for k, v in (("params", max_params), ("timesteps", max_timesteps),
                                       ("compute", max_compute)) if v is not None}  # fmt: skip
    try:
        table = table_of(source)
        table = _within(table, bounds)
        budgets = {float(b) for b in budget or []} | _planned_budgets(Path(source))
        context = {"sealed_below": bounds} if bounds else {}
        doc = make_forecast(table, tau=tau, n_boot=n_boot, budgets=sorted(budgets), context=context)
    except (FileNotFoundError, ValueError, ForecastError) as exc:
        raise fail(str(exc)) from exc
    from bestiary.organisms.files import write_new

    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_new(out, (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode())
    except FileExistsError as exc:
        raise fail(f"{out} appeared meanwhile: a sealed forecast is never overwritten (choose another path)") from exc
    if Path(source).is_dir():
        from bestiary.sealing import log_forecast

        log_forecast(Path(source), doc, out)
    n = sum(p["log10_estimate"] is not None for p in doc["predictions"])
    say(
        f"{out}: {n} forecasts from {len(doc['organisms'])} organisms, sealed {doc['created']} "
        f"(sha256 {doc['sha256'][:12]}…)"
    )
    say("commit it before training the organisms it forecasts; score it later with `bestiary score`")


def _within(table: Any, bounds: dict[str, float]) -> Any:
    """The table's rows of organisms within the bounds (refused: a bound on a column the table lacks)."""
    for column, bound in bounds.items():
        if column not in table or table[column].isna().all():
            raise ValueError(f"the table has no {column} column to select organisms by: collect it again")
        table = table[table[column].astype(float) <= bound * (1 + 1e-9)]
    if bounds and table.empty:
        raise ValueError(f"no organism within {bounds}: loosen the bounds")
    return table


def _planned_budgets(source: Path) -> set[float]:
    """Every training budget of a sweep's plan (its spec, as run), when the source is a sweep's directory."""
    from bestiary.organisms.sweepdir import SweepDir
    from bestiary.sweep import plan
    from bestiary.sweep_spec import SpecError, parse_sweep

    text = SweepDir(source).spec_copy() if source.is_dir() else None
    if text is None:
        return set()
    try:
        return {float(p.trial.timesteps) for p in plan(parse_sweep(text), source.parent)}
    except (SpecError, ValueError, OSError):
        return set()


@app.command("score")
def score_cmd(
    forecast: Annotated[str, typer.Argument(help="The sealed forecast (JSON) from `bestiary forecast`.")],
    source: Source,
    output: Annotated[str | None, typer.Option("-o", "--output", help="Also write the scores as CSV.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
) -> None:
    """Score a sealed forecast against organisms it did not use: error in decades, coverage, lead."""
    from bestiary.analysis.scoring import score, scores_frame
    from bestiary.analysis.sealed import ForecastError
    from bestiary.collect import table_of
    from bestiary.sandbox.outputs import MalformedOutputError, parse_json

    try:
        doc = parse_json(Path(forecast).read_bytes(), max_bytes=256 * 1024 * 1024)
        table = scores_frame(score(doc, table_of(source)))
    except OSError as exc:
        raise fail(f"cannot read {forecast}: {exc.strerror or exc}") from exc
    except (MalformedOutputError, FileNotFoundError, ValueError, ForecastError) as exc:
        raise fail(str(exc)) from exc
    if table.empty:
        raise fail("nothing to score: the forecast holds no prediction (it was made from organisms that support no "
                   "trend) — make forecasts from at least 3 rungs of an axis", code=1)  # fmt: skip
    if output:
        table.to_csv(output, index=False)
    if as_json:
        print_json(table.to_dict(orient="records"))
        return
    from bestiary.analysis.report_sections import forecast_detail_rows, forecast_summary

    detail = forecast_detail_rows(table)
    if detail:
        print_table("scored forecasts", list(detail[0]), [list(r.values()) for r in detail])
    from bestiary.git_record import order_status
    from bestiary.sealing import forecast_log_note, seal_status

    say(f"seal: {seal_status(Path(forecast))}")
    say(f"order: {order_status(Path(forecast), Path(source))}")
    note = forecast_log_note(Path(source) if Path(source).is_dir() else Path(forecast).parent)
    if note:
        say(f"forecast log: {note}")
    if doc.get("hindsight"):
        say(f"hindsight: {doc['hindsight']}")
    summary = forecast_summary(table)
    if summary:
        print_table("by method (every prediction beyond what the forecast saw)", list(summary[0]),
                    [list(r.values()) for r in summary])  # fmt: skip
    skipped = table.kind.value_counts().to_dict()
    say("predictions by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))


seal_app = typer.Typer(
    no_args_is_help=True,
    help="A sweep's seals: export one into the repository to be committed, or amend a committed one.",
)


@seal_app.command("export")
def seal_export_cmd(
    runs: Annotated[str, typer.Argument(help="The sweep's directory (runs/<sweep>).")],
    k: Annotated[int, typer.Argument(min=1, help="The seal (1 for the first level).")],
    folder: Annotated[str, typer.Argument(help="Where to write it, e.g. docs/results/<study>/seal-1 (commit it).")],
) -> None:
    """Write seal K with the exact table it was made from into FOLDER, to commit before training on."""
    from bestiary.analysis.sealed import ForecastError
    from bestiary.seal_export import export_seal

    try:
        done = export_seal(Path(runs), k, Path(folder))
    except (ForecastError, FileNotFoundError, OSError) as exc:
        raise fail(f"seal {k} not exported: {exc}") from exc
    if not done.written:
        say(f"{folder}: seal {k} was exported there before (the same bytes); nothing written")
        return
    say(f"seal {k} → " + ", ".join(str(p) for p in done.files))
    say(f"commit it now, before training past it: git add {folder} && git commit -m 'seal {k}'")


@seal_app.command("amend")
def seal_amend_cmd(
    folder: Annotated[str, typer.Argument(help="An exported seal (docs/results/<study>/seal-K).")],
    out: Annotated[
        str, typer.Argument(help="A new folder for the amendment, e.g. docs/results/<study>/seal-K-amended.")
    ],
    why: Annotated[str, typer.Option(help="What was wrong with the original seal (recorded in the amendment).")],
) -> None:
    """Remake a committed seal with this code from its own committed table alone; the original stays and is scored."""
    from bestiary.analysis.sealed import ForecastError
    from bestiary.seal_amend import amend_seal

    try:
        done = amend_seal(Path(folder), Path(out), why)
    except (ForecastError, OSError) as exc:
        raise fail(f"{folder} not amended: {exc}") from exc
    say("amendment → " + ", ".join(str(p) for p in done.files))
    say(f"commit it now, before the results it is scored on: git add {out} && git commit")
