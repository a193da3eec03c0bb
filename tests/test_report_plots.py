"""Report plots: 0-100% accuracy axes, the canonical bootstrap bands (the same draw as the summary's CI),
wrapped titles, one-point curves drawn as points and said so, coinciding curves told apart and named,
incomplete runs marked in legend and caption, PNG at >= 150 dpi plus SVG."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit.synthetic import synthetic_run, write_run_dir

from skyeval import results
from skyeval.metrics import bootstrap_ci, pass_at_k
from skyeval.report import ReportTables, build_tables, load_runs, write_report
from skyeval.report.plots import PNG_DPI, add_caption, budget_plot, pass_at_k_plot, wrap_title

pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

TASK = "file:/data/qwen25math_eval_rm_maj_example_math_cot_100.jsonl"
NAME = "qwen25math_eval_rm_maj_example_math_cot_100"


@pytest.fixture(scope="module")
def same_twice(tmp_path_factory: pytest.TempPathFactory) -> ReportTables:
    """One run reported twice under two labels (identical curves) and a third, incomplete run."""
    root = tmp_path_factory.mktemp("runs")
    a = synthetic_run(root / "a", task=TASK, problems=30, samples=8, max_tokens=4096, seed=3)
    c = synthetic_run(
        root / "c", model="org/short", task=TASK, problems=30, samples=8, max_tokens=4096, seed=4
    )
    data = results.read_run(c)
    write_run_dir(c, data.config, list(data.records[:-5]))
    runs = load_runs([a, a, c], labels=["first", "again", "short"])
    return build_tables(runs, tokenizer="chars", min_budget=128)


@pytest.fixture(scope="module")
def greedy(tmp_path_factory: pytest.TempPathFactory) -> ReportTables:
    """n=1 and max_tokens below the first budget: every curve is one point."""
    root = tmp_path_factory.mktemp("greedy")
    g = synthetic_run(root / "g", problems=20, samples=1, max_tokens=512, completion_chars=400, seed=5)
    return build_tables(load_runs([g]), tokenizer="chars")


def test_bands_are_the_canonical_bootstrap(same_twice: ReportTables) -> None:
    bench = same_twice.benchmark.set_index("label")
    pk = same_twice.pass_at_k[same_twice.pass_at_k["label"] == "first"].set_index("k")
    # at k=1 the band is the summary's own CI, to the digit
    assert (pk.loc[1, "ci_lo"], pk.loc[1, "ci_hi"]) == (
        bench.loc["first", "ci_lo"],
        bench.loc["first", "ci_hi"],
    )
    # at k>1: the same resampling (problems in task order, 1000 resamples, seed 0) of per-problem pass@k
    sr = [p for p in same_twice.per_problem.itertuples() if p.label == "first"]
    per_problem = [pass_at_k(int(p.n), int(p.c), 4) for p in sr]
    assert (pk.loc[4, "ci_lo"], pk.loc[4, "ci_hi"]) == bootstrap_ci(per_problem, resamples=1000, seed=0)
    assert (pk["ci_lo"] <= pk["pass@k"]).all() and (pk["pass@k"] <= pk["ci_hi"]).all()
    # the budget curve ends at max_tokens, where every sample keeps its verdict: the benchmark CI again
    assert same_twice.budget is not None
    budget = same_twice.budget[same_twice.budget["label"] == "first"].set_index("budget")
    assert budget.index.tolist() == [128, 256, 512, 1024, 2048, 4096]
    last = budget.loc[4096]
    assert (last["accuracy"], last["ci_lo"], last["ci_hi"]) == (
        bench.loc["first", "pass@1"],
        bench.loc["first", "ci_lo"],
        bench.loc["first", "ci_hi"],
    )


def test_pass_at_k_plot_axes_bands_and_notes(same_twice: ReportTables) -> None:
    plot = pass_at_k_plot(same_twice, NAME)
    ax = plot.figure.axes[0]
    assert ax.get_ylim() == (0.0, 1.0)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0%", "20%", "40%", "60%", "80%", "100%"]
    assert (
        ax.get_title() == "pass@k — qwen25math_eval_rm_maj_example_math_cot_100" and "…" not in ax.get_title()
    )
    assert len(ax.collections) == 3  # one band per curve
    lines = ax.get_lines()
    assert (
        len({(line.get_marker(), line.get_linestyle()) for line in lines}) == 3
    )  # coinciding curves stay apart
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["first", "again", "short (incomplete)"]
    assert plot.caption[0] == (
        "CI bands: 95% percentile bootstrap over problems in task order, 1000 resamples, seed 0, as in summary.json"
    )
    assert plot.warnings == ("short: incomplete: 5 of 240 samples missing",)
    assert "identical curves (told apart by marker and dash): first = again" in plot.caption
    assert plot.warnings[0] in plot.caption


def test_budget_plot_wraps_its_title_and_names_the_token_cut(same_twice: ReportTables) -> None:
    plot = budget_plot(same_twice, NAME)
    title = plot.figure.axes[0].get_title()
    assert title == "accuracy vs budget —\nqwen25math_eval_rm_maj_example_math_cot_100"
    assert any(c.startswith("token cut: approximate: ") for c in plot.caption)
    assert plot.figure.axes[0].get_ylim() == (0.0, 1.0)


def test_wrap_title_never_cuts() -> None:
    long = "accuracy vs budget — " + "_".join(["segment"] * 12)
    wrapped = wrap_title(long, 30)
    assert wrapped.replace("\n", "") == long.replace("— ", "—") and "…" not in wrapped
    assert all(len(line) <= 30 for line in wrapped.splitlines())
    assert wrap_title("x" * 70, 30).splitlines() == ["x" * 30, "x" * 30, "x" * 10]


def test_one_point_curves_are_points_with_a_note(greedy: ReportTables) -> None:
    for plot, why in (
        (pass_at_k_plot(greedy, "math500"), "1 sample per problem: k = 1 only"),
        (budget_plot(greedy, "math500"), "max_tokens ≤ --min-budget"),
    ):
        ax = plot.figure.axes[0]
        assert all(
            line.get_linestyle() == "None" for line in ax.get_lines() if line.get_marker() not in ("", "None")
        )
        assert not ax.collections or all(len(c.get_paths()) <= 1 for c in ax.collections)  # whisker, no band
        assert f"model-a: one point only ({why}); the whisker is its CI" in plot.caption
        assert ax.get_ylim() == (0.0, 1.0)


def test_files_are_high_dpi_png_and_svg_with_the_caption_inside(
    tmp_path: Path, same_twice: ReportTables
) -> None:
    from PIL import Image

    written = write_report(same_twice, tmp_path, ["png", "svg"])
    names = sorted(p.name for p in written)
    assert names == [f"budget_{NAME}.png", f"budget_{NAME}.svg", f"passk_{NAME}.png", f"passk_{NAME}.svg"]
    with Image.open(tmp_path / f"passk_{NAME}.png") as im:
        assert im.size == (1280, 880)
        assert round(im.info["dpi"][0]) == PNG_DPI >= 150
    svg = (tmp_path / f"passk_{NAME}.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "short: incomplete: 5 of 240 samples missing" in svg  # the caption is drawn into the file
    plot = pass_at_k_plot(same_twice, NAME)
    add_caption(plot)
    assert plot.figure.get_supxlabel().splitlines()[0].startswith("CI bands: 95% percentile bootstrap")
