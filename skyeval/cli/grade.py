"""``skyeval grade FILE.jsonl``: add correct/extracted/reason to each row and print accuracy; with
``--compare-field``, compare with another grader's verdicts and write every disagreement."""

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
@click.option(
    "--policy", default="default", show_default=True, help="Equivalence policy preset (docs/grading.md)."
)
@click.option(
    "--compare-field",
    help="Field with another grader's verdicts (true/false, or a list of them for a list of responses).",
)
@click.option(
    "--disagreements",
    type=click.Path(dir_okay=False),
    help="With --compare-field: write the disagreements here (.csv: CSV, else JSONL) "
    "[default: <output or input stem>.disagreements.jsonl].",
)
def grade_cmd(
    path: str,
    response_field: str,
    gold_field: str,
    output: str | None,
    timeout: float,
    workers: int | None,
    policy: str,
    compare_field: str | None,
    disagreements: str | None,
) -> None:
    """Grade a JSONL file of responses against gold answers.

    Each row's response field holds a response or a list of sampled responses; the graded rows gain
    `correct`, `extracted` and `reason` (lists for lists) and are written to --output. Prints the accuracy.
    With --compare-field, also prints that grader's accuracy and writes every response the two judge
    differently (row, sample, gold, our extraction, their verdict, ours, our reason).
    """
    from skyeval.errors import SkyevalError
    from skyeval.grading.files import disagreements_path, grade_jsonl
    from skyeval.regrade import check_grading

    check_grading(timeout, policy, None, 1)  # an unknown policy: one line, before any grading
    if disagreements is not None and compare_field is None:
        raise SkyevalError("--disagreements needs --compare-field")
    target = disagreements if disagreements is not None else disagreements_path(output or path)
    summary = grade_jsonl(
        path,
        response_field=response_field,
        gold_field=gold_field,
        output=output,
        timeout=timeout,
        workers=workers,
        progress=True,
        policy=policy,
        compare_field=compare_field,
        disagreements=target if compare_field is not None else None,
    )
    click.echo(summary.describe())
    if output is not None:
        click.echo(f"wrote {output}")
    if summary.comparison is not None:
        click.echo(summary.comparison.describe(compare_field or ""))
        count = len(summary.comparison.disagreements)
        click.echo(f"wrote {count} disagreement{'' if count == 1 else 's'} to {target}")


commands = [grade_cmd]
