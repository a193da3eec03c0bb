"""``skyeval report RUN_DIR...``: tables, pass@k and budget plots, diversity, comparisons, an HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from skyeval.errors import SkyevalError


@click.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=Path("skyeval-report"),
    show_default=True,
    help="Directory for the report files.",
)
@click.option(
    "--format",
    "formats",
    default="md,csv,html,png,svg",
    show_default=True,
    help="Comma-separated outputs: md, csv, html, png, svg.",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    help="Row label per RUN_DIR, in order (default: the model's name). Repeat once per run.",
)
@click.option(
    "--compare",
    "compare",
    nargs=2,
    multiple=True,
    metavar="A B",
    help="Compare the runs labelled A and B on every task both have (repeatable). Default: on each "
    "task with several runs, every run against the first one given.",
)
@click.option(
    "--budget/--no-budget",
    default=True,
    show_default=True,
    help="Re-grade completions cut at 1k, 2k, 4k, ... tokens.",
)
@click.option(
    "--tokenizer",
    type=click.Choice(["auto", "chars"]),
    default="auto",
    show_default=True,
    help="Cut budgets with the model's local tokenizer (auto) or a chars-per-token approximation.",
)
@click.option(
    "--min-budget",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="Smallest token budget; the ladder doubles from it up to the run's max tokens.",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the CIs.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Bootstrap seed (summary.json uses 0 with 1000 resamples; other settings are labelled).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 2 without writing anything when a run's samples fall short of problems x n.",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
@click.option(
    "--compress/--no-compress",
    default=True,
    show_default=True,
    help="Embed the HTML drill-down data gzip-compressed (needs a browser with DecompressionStream).",
)
@click.option(
    "--html-completion-chars",
    "completion_chars",
    type=click.IntRange(min=0),
    default=6000,
    show_default=True,
    help="Clip each completion in the HTML drill-down to this many characters (head and tail kept, "
    "the cut marked); 0 keeps everything.",
)
def report_cmd(
    run_dirs: tuple[Path, ...],
    out: Path,
    formats: str,
    labels: tuple[str, ...],
    compare: tuple[tuple[str, str], ...],
    budget: bool,
    tokenizer: str,
    min_budget: int,
    resamples: int,
    seed: int,
    strict: bool,
    no_progress: bool,
    compress: bool,
    completion_chars: int,
) -> None:
    """Report on one or more run directories (models x tasks) written by ``skyeval run``.

    Prints the benchmark table (mean pass@1 with 95% CI, marked where a run is incomplete or compared runs
    cover different problems) and writes the tables, plots and a self-contained report.html into --out.
    """
    from skyeval.preflight import check_writable_dir
    from skyeval.report import build_tables, load_runs, parse_formats, to_markdown, write_report

    check_writable_dir(out, "report directory")  # before any work: loading and tables can take minutes
    wanted = parse_formats(formats)
    runs = load_runs(list(run_dirs), list(labels) or None)
    short = [r for r in runs if r.missing]
    if strict and short:
        listed = "; ".join(f"{r.path} ({r.missing} of {r.expected_samples} samples missing)" for r in short)
        raise SkyevalError(f"--strict: {len(short)} incomplete run(s), nothing written: {listed}")
    for run in runs:
        for note in run.notes:
            click.echo(f"note: {run.path}: {note}", err=True)
    tables = build_tables(
        runs,
        compare=list(compare),
        budget=budget,
        tokenizer=tokenizer,
        min_budget=min_budget,
        resamples=resamples,
        seed=seed,
        progress=not no_progress,
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SkyevalError(f"cannot write the report to {out}: {err.strerror or err}") from None
    try:
        written = write_report(
            tables,
            out,
            wanted,
            compress=compress,
            completion_chars=completion_chars,
            progress=not no_progress,
        )
    except OSError as err:
        raise SkyevalError(f"cannot write the report to {out}: {err.strerror or err}") from None
    click.echo(to_markdown(tables.benchmark_wide))
    click.echo(f"CI: {tables.ci_note}", err=True)
    for warning in tables.warnings():
        click.echo(f"warning: {warning}", err=True)
    if tables.comparison is not None:
        for row in tables.comparison.summary.to_dict("records"):
            click.echo(
                f"{row['task']}: {row['a']} − {row['b']} = {100 * row['diff']:+.1f} pts "
                f"[{100 * row['ci_lo']:+.1f}, {100 * row['ci_hi']:+.1f}] on {row['shared_problems']} problems; "
                f"solved only by {row['a']}: {row['solved_only_by_a']}, only by {row['b']}: {row['solved_only_by_b']}"
            )
    click.echo(f"wrote {len(written)} files to {out}", err=True)


commands = [report_cmd]
