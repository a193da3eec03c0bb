"""``skyeval score`` summarises a run directory the way ``skyeval run`` last did, ``--limit`` included."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from skyeval import results
from skyeval.cli import run as cli_run
from skyeval.errors import SkyevalError
from skyeval.regrade import score
from skyeval.runner import RunOptions, run
from skyeval.tasks import FieldMap


def _options(tmp_path: Path) -> RunOptions:
    path = tmp_path / "gens.jsonl"
    rows = [
        {
            "qid": str(i),
            "q": f"Problem {i}?",
            "gold": "42",
            "outs": [f"\\boxed{{{42 if (i + j) % 3 else 7}}}" for j in range(4)],
        }
        for i in range(6)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return RunOptions(
        model="replay:gens",
        task=f"file:{path}",
        engine="replay",
        engine_options={"response_field": "outs"},
        samples=4,
        output_dir=str(tmp_path / "runs"),
        fields=FieldMap(question="q", gold="gold", id="qid"),
        progress=False,
    )


def test_score_after_a_smaller_limit_agrees_with_run(tmp_path: Path) -> None:
    full = run(_options(tmp_path))
    limited = run(replace(_options(tmp_path), limit=2, samples=2))
    assert limited.run_dir == full.run_dir
    assert limited.summary.problems == 2 and limited.summary.samples == 4
    assert score(full.run_dir, progress=False) == limited.summary
    assert len(results.read_samples(full.run_dir)) == 24  # rows outside the limit are kept, not summarised
    out = CliRunner().invoke(cli_run.score_cmd, [str(full.run_dir), "--no-progress"])
    assert out.exit_code == 0 and "problems=2/2" in out.output
    again = run(_options(tmp_path))  # without --limit the directory is summarised whole again
    assert score(full.run_dir, progress=False) == again.summary == full.summary


def test_score_of_a_pre_release_run_dir_is_refused_until_run_updates_it(tmp_path: Path) -> None:
    """A schema-1 config.json lacks the task order and breakdown fields: ``score`` says how to update it."""
    res = run(replace(_options(tmp_path), limit=2))
    config = json.loads((res.run_dir / "config.json").read_text())
    del config["problem_ids"]
    config["schema_version"] = 1
    (res.run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(SkyevalError, match="schema version 1 .*re-run the same `skyeval run` command"):
        score(res.run_dir, progress=False)
    run(replace(_options(tmp_path), limit=2))
    assert score(res.run_dir, progress=False) == res.summary


def test_newer_schemas_are_refused_by_every_reader(tmp_path: Path) -> None:
    from skyeval.cli import main

    res = run(_options(tmp_path))
    config_path, samples_path = res.run_dir / "config.json", res.run_dir / "samples.jsonl"
    config_text, samples_text = config_path.read_text(), samples_path.read_text()
    config_path.write_text(json.dumps(json.loads(config_text) | {"schema_version": 99}))
    for args in (["score", str(res.run_dir)], ["report", str(res.run_dir), "--out", str(tmp_path / "rep")]):
        out = CliRunner().invoke(main, args)
        assert out.exit_code == 2 and "schema version 99, newer than this skyeval reads (2)" in out.output
        assert out.output.strip().count("\n") == 0
    with pytest.raises(SkyevalError, match="schema version 99"):
        run(_options(tmp_path))
    config_path.write_text(config_text)
    lines = samples_text.splitlines()
    lines[3] = json.dumps(json.loads(lines[3]) | {"schema_version": 3})
    samples_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        SkyevalError, match=r"samples.jsonl:4 has schema version 3, newer than this skyeval reads \(2\)"
    ):
        score(res.run_dir, progress=False)
    samples_path.write_text(samples_text)
    summary_path = res.run_dir / "summary.json"
    summary_path.write_text(json.dumps(json.loads(summary_path.read_text()) | {"schema_version": 7}))
    with pytest.raises(
        SkyevalError, match="summary.json has schema version 7, newer than this skyeval reads"
    ):
        results.read_summary(res.run_dir)
    summary_path.write_text(json.dumps({"task": "t", "pass@1": 0.5, "schema_version": 1}))
    with pytest.raises(SkyevalError, match="pre-release skyeval.*skyeval score"):
        results.read_summary(res.run_dir)
    assert not (tmp_path / "rep").exists()
