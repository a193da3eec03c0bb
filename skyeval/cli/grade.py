"""``skyeval grade FILE.jsonl``: add correct/extracted/reason to each row and print accuracy."""

from __future__ import annotations

import click

from skyeval.grading.grade import DEFAULT_TIMEOUT_S


@click.command("grade")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--response-field", default="response", show_default=True, help="Field with the response(s).")
@click.option("--gold-field", default="answer", show_default=True, help="Field with the gold answer.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the graded rows here (JSONL).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.01),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Hard limit in seconds on each comparison.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes for slow comparisons [default: CPUs, 2-8].",
)
def grade_cmd(
    path: str, response_field: str, gold_field: str, output: str | None, timeout: float, workers: int | None
) -> None:
    """Grade a JSONL file of responses against gold answers.

    Each row's response field holds a response or a list of sampled responses; the graded rows gain
    `correct`, `extracted` and `reason` (lists for lists) and are written to --output. Prints the accuracy.
    """
    from skyeval.grading.files import grade_jsonl

    summary = grade_jsonl(
        path,
        response_field=response_field,
        gold_field=gold_field,
        output=output,
        timeout=timeout,
        workers=workers,
        progress=True,
    )
    click.echo(summary.describe())
    if output is not None:
        click.echo(f"wrote {output}")


commands = [grade_cmd]
