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
from skyeval.runner import RunOptions, run, score
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
    assert limited.summary["problems"] == 2 and limited.summary["samples"] == 4
    assert score(full.run_dir, progress=False) == limited.summary
    assert len(results.read_samples(full.run_dir)) == 24  # rows outside the limit are kept, not summarised
    out = CliRunner().invoke(cli_run.score_cmd, [str(full.run_dir), "--no-progress"])
    assert out.exit_code == 0 and "problems=2/2" in out.output
    again = run(_options(tmp_path))  # without --limit the directory is summarised whole again
    assert score(full.run_dir, progress=False) == again.summary == full.summary


def test_score_of_an_old_limited_run_without_ids_is_refused(tmp_path: Path) -> None:
    res = run(replace(_options(tmp_path), limit=2))
    config = json.loads((res.run_dir / "config.json").read_text())
    del config["problem_ids"]
    (res.run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(SkyevalError, match="re-run the same `skyeval run` command"):
        score(res.run_dir, progress=False)
    run(replace(_options(tmp_path), limit=2))
    assert score(res.run_dir, progress=False) == res.summary
