"""``skyeval import``: other harnesses' outputs as run directories, our verdicts beside theirs.

Golden fixtures (tests/data/importers, written by ``make_fixtures.py`` there) follow each writer's source:

- ``skythought``: NovaSky-AI/SkyThought@0d190f11fd8e885bbe113aeccacba5ccde5b1102,
  ``skythought/evals/inference_and_check.py`` (``generate_responses_for_dataset``, ``score_responses``,
  ``save_results``) and ``skythought/evals/util/results.py`` (``SummaryResults``).
- ``lm-eval``: EleutherAI/lm-evaluation-harness@4e7e0d47f33bc71070c1d38394bafbb52b117163, ``lm_eval/evaluator.py``
  (the logged ``example``) and ``lm_eval/loggers/evaluation_tracker.py`` (``save_results_samples``).
- ``lighteval``: huggingface/lighteval@3fd15266bc8448b797e61462d293aa3fd40b3580,
  ``src/lighteval/logging/evaluation_tracker.py`` (``save_details``) and ``src/lighteval/logging/info_loggers.py``
  (``DetailsLogger.Detail``).

``qwen-harness`` is read from the published files of ``../shared/generations/qwen_harness`` (QwenLM/Qwen2.5-Math
``evaluation/math_eval.py``@a45202b wrote them).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from skyeval import grade_many
from skyeval.cli import main
from skyeval.errors import SkyevalError
from skyeval.importers.runner import ImportOptions, import_run

FIXTURES = Path(__file__).resolve().parent / "data" / "importers"
DATA = FIXTURES / "data"
SKY = FIXTURES / "skythought" / "results.json"
LM = FIXTURES / "lm_eval" / "samples_minerva_math500_2026-11-30T12-00-00.000000.jsonl"
LIGHT = FIXTURES / "lighteval" / "details_math_500_2026-11-30T12-00-00.000000.parquet"
IDS = ["test/prealgebra/9001.json", "test/prealgebra/9002.json", "test/algebra/9003.json"]


def _import(tmp_path: Path, *args: str) -> tuple[Path, dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["import", *args, "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1].removeprefix("results: "))
    assert run_dir.parent.parent.parent == out  # OUTPUT/<model>/<task>/<name>, as `skyeval run` lays it out
    config = json.loads((run_dir / "config.json").read_text())
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    return run_dir, config, samples, json.loads((run_dir / "summary.json").read_text())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_skythought_results_and_summary(tmp_path: Path) -> None:
    run_dir, config, samples, summary = _import(
        tmp_path, str(SKY), "--from", "skythought", "--task", "math500", "--data-dir", str(DATA)
    )
    assert config["model"] == "NovaSky-AI/Sky-T1-7B" and config["engine"] == "import-skythought"
    assert config["sampling"] == {"n": 2, "temperature": 0.6, "top_p": 0.95, "max_tokens": 4096, "seed": None}
    assert config["unknown"] == ["prompt_template", "seed", "system_prompt"]
    files = config["source"]["files"]
    assert [Path(f["path"]).name for f in files] == ["results.json", "summary.json"]
    assert files[0]["sha256"] == _sha(SKY) and files[0]["rows"] == 3
    assert config["source"]["metrics"] == {"accuracy": 0.5, "pass_at_k.k=2": 66.667, "pass_at_k.k=1": 50.0}
    assert [s["problem_id"] for s in samples] == [i for i in IDS for _ in range(2)]
    assert [s["source_correct"] for s in samples] == [True, True, True, False, False, False]
    assert all(s["source_extracted"] is None for s in samples)  # SkyThought keeps no extracted answer
    assert [s["correct"] for s in samples] == [True, True, True, False, True, False]
    assert [s["finish_reason"] for s in samples][-1] == "length"  # 4096 tokens = max_tokens: cut off
    assert samples[0]["prompt"] == "Return your final response within \\boxed{}. What is $2+3$?"
    src = summary["source_scores"]
    assert (src["pass@1"], src["pass@k"], src["maj@n"]) == (0.5, {"1": 0.5, "2": pytest.approx(2 / 3)}, None)
    assert (src["disagreements"], src["only_ours"], src["only_source"]) == (1, 1, 0)
    assert summary["scores"]["pass@1"] == pytest.approx(2 / 3)


def test_lm_eval_samples(tmp_path: Path) -> None:
    _, config, samples, summary = _import(
        tmp_path, str(LM), "--from", "lm-eval", "--task", "math500", "--data-dir", str(DATA), "-m", "llama"
    )
    assert config["model"] == "llama" and config["sampling"]["temperature"] == 0.0
    assert "temperature" not in config["unknown"] and "max_tokens" in config["unknown"]
    assert config["source"]["settings"]["until"] == ["Problem:"]
    assert [s["source_correct"] for s in samples] == [True, False, False]  # exact_match, the default metric
    assert [s["correct"] for s in samples] == [True, True, False]  # 0.75 is 3/4
    assert all(s["source_extracted"] is None for s in samples)  # filter "none": no extraction logged
    assert samples[0]["prompt"] == "Problem:\nWhat is $2+3$?\n\nSolution:"
    assert summary["source_scores"]["pass@1"] == pytest.approx(1 / 3)


def test_lm_eval_metric_option_and_several_filters(tmp_path: Path) -> None:
    _, _, samples, _ = _import(
        tmp_path, str(LM), "--from", "lm-eval", "--task", "math500", "--data-dir", str(DATA), "-m", "l",
        "-S", "metric=math_verify",
    )  # fmt: skip
    assert [s["source_correct"] for s in samples] == [True, True, False]
    rows = [json.loads(line) for line in LM.read_text().splitlines()]
    two = tmp_path / "samples_two.jsonl"
    two.write_text("".join(json.dumps({**r, "filter": f}) + "\n" for r in rows for f in ("strict", "flex")))
    result = CliRunner().invoke(
        main,
        ["import", str(two), "--from", "lm-eval", "--task", "math500", "--data-dir", str(DATA), "-m", "l"],
    )
    assert result.exit_code == 2 and "filters flex, strict: choose one with -S filter=NAME" in result.output
    assert not (Path.cwd() / "runs" / "l").exists()


def test_lighteval_details_parquet(tmp_path: Path) -> None:
    _, config, samples, summary = _import(
        tmp_path,
        str(LIGHT),
        "--from",
        "lighteval",
        "--task",
        "math500",
        "--data-dir",
        str(DATA),
        "-m",
        "smol",
    )
    assert config["sampling"]["max_tokens"] == 32768 and "max_tokens" not in config["unknown"]
    assert [s["problem_id"] for s in samples] == IDS  # found inside lighteval's templated queries
    assert [s["source_correct"] for s in samples] == [True, True, False]
    assert [s["correct"] for s in samples] == [True, True, True]
    assert samples[0]["completion_tokens"] == 7 and samples[0]["prompt_tokens"] == 60
    assert summary["source_scores"]["only_ours"] == 1


def test_import_then_score_report_and_compare(tmp_path: Path) -> None:
    sky, *_ = _import(
        tmp_path, str(SKY), "--from", "skythought", "--task", "math500", "--data-dir", str(DATA)
    )
    lm, *_ = _import(
        tmp_path, str(LM), "--from", "lm-eval", "--task", "math500", "--data-dir", str(DATA), "-m", "llama"
    )
    before = [json.loads(line) for line in (sky / "samples.jsonl").read_text().splitlines()]
    scored = CliRunner().invoke(main, ["score", str(sky), "--no-progress"])
    assert scored.exit_code == 0 and "source: pass@1=0.5000" in scored.output
    after = [json.loads(line) for line in (sky / "samples.jsonl").read_text().splitlines()]
    assert [(r["correct"], r["source_correct"]) for r in after] == [
        (r["correct"], r["source_correct"]) for r in before
    ]
    out = tmp_path / "report"
    report = CliRunner().invoke(
        main,
        ["report", str(sky), str(lm), "--out", str(out), "--no-budget", "--format", "md,csv", "--no-progress",
         "--compare", "llama", "Sky-T1-7B"],
    )  # fmt: skip
    assert report.exit_code == 0, report.output
    assert "math500: llama − Sky-T1-7B" in report.output
    delta = (out / "grader_delta.csv").read_text().splitlines()
    assert delta[0] == (
        "label,task,problem_id,sample,gold,skyeval_extracted,source_extracted,skyeval_correct,source_correct,"
        "skyeval_reason"
    )
    assert delta[1:] == [
        'Sky-T1-7B,math500,test/algebra/9003.json,0,"-3, 3","3, -3",,True,False,equal',
        "llama,math500,test/prealgebra/9002.json,0,\\frac{3}{4},0.75,,True,False,equal",
    ]
    verdicts = (out / "verdicts.csv").read_text()
    assert "Sky-T1-7B,math500,source,3,6,0.5," in verdicts and "accuracy 0.5" in verdicts
    md = (out / "report.md").read_text()
    assert "## Side-by-side verdicts (imported runs)" in md and "### Grader delta (2 samples" in md


def test_qwen_harness_reproduces_the_published_math500_number(tmp_path: Path, shared_dir: Path) -> None:
    """The base row of the Sky-T1-7B table: Qwen2.5-Math-7B greedy MATH500 52.4, from the committed outputs."""
    harness = shared_dir / "generations" / "qwen_harness" / "skythought__Qwen2.5-Math-7B" / "math500.jsonl"
    result = CliRunner().invoke(
        main,
        ["import", str(harness), "--from", "qwen-harness", "--task", "math500", "--data-dir",
         str(shared_dir / "data"), "-m", "Qwen2.5-Math-7B", "-o", str(tmp_path), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the qwen-harness verdicts give acc 52.4, the 52.4 its metrics file publishes" in result.output
    (run_dir,) = tmp_path.glob("*/*/*")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["source_scores"]["pass@1"] == pytest.approx(0.524)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["source"]["metrics"] == {"acc": 52.4} and config["source"]["format"] == "qwen-harness"
    assert config["unknown"] == [
        "prompt_template",
        "temperature",
        "top_p",
        "max_tokens",
        "seed",
        "system_prompt",
    ]
    assert run_dir.name.startswith("import-qwen-harness-n1-")
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    data = [json.loads(line) for line in (shared_dir / "data" / "math500.jsonl").read_text().splitlines()]
    mangled = next(r for r in rows if r["problem_id"] == data[198]["unique_id"])
    # the harness compared with its mangled gold 10,\!080 -> 10,80; the raw gold is the task's
    assert (mangled["gold"], mangled["source_extracted"], mangled["source_correct"]) == (
        "10,\\!080",
        "10080",
        False,
    )
    assert mangled["correct"] is True
    ours = grade_many([r["completion"] for r in rows], [r["gold"] for r in rows])
    assert [g.correct for g in ours] == [r["correct"] for r in rows]  # our verdicts are the grader's, as is


def test_qwen_harness_minerva_layout_and_olympiad_join(tmp_path: Path, shared_dir: Path) -> None:
    prime = shared_dir / "generations" / "qwen_harness" / "prime__Qwen2.5-Math-7B-Instruct"
    m = import_run(
        ImportOptions((str(prime / "minerva_math.jsonl"),), "qwen-harness", "minerva_math", model="q",
                      output_dir=str(tmp_path), data_dir=str(shared_dir / "minerva"), progress=False),
        log=lambda line: None,
    )  # fmt: skip
    assert m.summary.source_scores is not None and round(100 * m.summary.source_scores.pass_at_1, 1) == 34.6
    o = import_run(
        ImportOptions((str(prime / "olympiadbench.jsonl"),), "qwen-harness", "olympiadbench", model="q",
                      output_dir=str(tmp_path), data_dir=str(shared_dir / "data"), progress=False),
        log=lambda line: None,
    )  # fmt: skip
    assert o.summary.source_scores is not None and round(100 * o.summary.source_scores.pass_at_1, 1) == 40.7
    assert o.summary.problems == 675 and not o.warnings


def test_qwen_harness_refuses_a_mismatched_question_and_writes_nothing(
    tmp_path: Path, shared_dir: Path
) -> None:
    src = shared_dir / "generations" / "qwen_harness" / "skythought__Qwen2.5-Math-7B" / "aime24.jsonl"
    rows = [json.loads(line) for line in src.read_text().splitlines()]
    rows[3]["idx"] = 4  # the question of row 3 under row 4's index
    rows[4]["idx"] = 3
    bad = tmp_path / "aime24.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "runs"
    opts = ImportOptions((str(bad),), "qwen-harness", "aime24", model="q", output_dir=str(out),
                         data_dir=str(shared_dir / "data"), progress=False)  # fmt: skip
    with pytest.raises(SkyevalError, match=r"aime24.jsonl:4: the question of idx 4 .* is not row 4 of"):
        import_run(opts, log=lambda line: None)
    assert not out.exists()
    with pytest.raises(SkyevalError, match="joins on idx, the row index in the harness's own data file"):
        import_run(ImportOptions((str(src),), "qwen-harness", "aime24", model="q", output_dir=str(out)))
    assert not out.exists()


def test_a_published_number_the_verdicts_do_not_give_exits_2_after_writing(
    tmp_path: Path, shared_dir: Path
) -> None:
    src = shared_dir / "generations" / "qwen_harness" / "skythought__Qwen2.5-Math-7B"
    (tmp_path / "amc23.jsonl").write_text((src / "amc23.jsonl").read_text())
    shutil.copy(src / "amc23.metrics.json", tmp_path / "amc23.metrics.json")
    metrics = json.loads((tmp_path / "amc23.metrics.json").read_text())
    (tmp_path / "amc23.metrics.json").write_text(json.dumps({**metrics, "acc": 47.5}))
    result = CliRunner().invoke(
        main,
        ["import", str(tmp_path / "amc23.jsonl"), "--from", "qwen-harness", "--task", "amc23", "--data-dir",
         str(shared_dir / "data"), "-m", "q", "-o", str(tmp_path / "runs"), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "verdicts give acc 45 but its metrics file publishes 47.5" in result.output
    assert len(list((tmp_path / "runs").glob("*/*/*/summary.json"))) == 1


def test_reimporting_the_same_files_replaces_the_same_run(tmp_path: Path) -> None:
    first, *_ = _import(
        tmp_path, str(SKY), "--from", "skythought", "--task", "math500", "--data-dir", str(DATA)
    )
    again, *_ = _import(
        tmp_path, str(SKY), "--from", "skythought", "--task", "math500", "--data-dir", str(DATA)
    )
    assert first == again and len((first / "samples.jsonl").read_text().splitlines()) == 6


def test_a_source_problem_the_task_lacks_is_refused(tmp_path: Path, shared_dir: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["import", str(SKY), "--from", "skythought", "--task", "math500", "--data-dir", str(shared_dir / "data"),
         "-o", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 2 and "3 of 3 source problems are no problem of math500" in result.output
    assert list(tmp_path.iterdir()) == []
