"""``skyeval import``: another harness's outputs as a run directory (a thin wrapper over
``skyeval.importers.runner``)."""

from __future__ import annotations

import click

from skyeval.clickutil import grade_policy_option, grade_timeout_option, parse_engine_option
from skyeval.errors import SkyevalError


def _option(text: str) -> tuple[str, object]:
    if not text.partition("=")[0] or "=" not in text:
        raise SkyevalError(f"--source-option must be KEY=VALUE, got {text!r}")
    return parse_engine_option(text)


@click.command("import")
@click.argument("paths", nargs=-1, required=True)
@click.option("--from", "fmt", required=True, help="qwen-harness | skythought | lighteval | lm-eval.")
@click.option("--task", "-t", required=True, help="The task the outputs are of (its data gives the golds).")
@click.option("--model", "-m", default=None, help="Model label (default: the model the files name).")
@click.option("--output-dir", "-o", default="runs", show_default=True, help="Where run directories go.")
@click.option(
    "--data-dir", envvar="SKYEVAL_DATA_DIR", default=None, help="Local <task>.jsonl files instead of the Hub."
)
@click.option(
    "--source-option", "-S", multiple=True, help="A format's option as KEY=VALUE (lm-eval: filter)."
)
@grade_timeout_option
@grade_policy_option
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def import_cmd(
    paths: tuple[str, ...],
    fmt: str,
    task: str,
    model: str | None,
    output_dir: str,
    data_dir: str | None,
    source_option: tuple[str, ...],
    grade_timeout: float,
    grade_policy: str,
    no_progress: bool,
) -> None:
    """Import another harness's outputs as a run directory: our verdicts beside the source's own.

    `skyeval score`, `skyeval report` and `--compare` then work on it as on any run.
    """
    from skyeval.cli.run import print_summary
    from skyeval.importers.runner import ImportOptions, import_run

    if model is not None and not model.strip():
        raise SkyevalError("--model must not be empty")
    options = dict(_option(text) for text in source_option)
    result = import_run(
        ImportOptions(
            paths=paths,
            format=fmt,
            task=task,
            model=model,
            output_dir=output_dir,
            data_dir=data_dir,
            options=options,
            grade_timeout=grade_timeout,
            grade_policy=grade_policy,
            progress=not no_progress,
        ),
        log=lambda line: click.echo(line, err=True),
    )
    print_summary(result.summary, result.run_dir)
    if result.warnings:
        raise SkyevalError(f"{'; '.join(result.warnings)} (the run was written: {result.run_dir})")


commands = [import_cmd]
