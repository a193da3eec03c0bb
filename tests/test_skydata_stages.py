"""skydata stages without a model: sources, judge parsing, selection, dedup, rejection, export formats,
mixtures, RL prompt filtering and crash-safe logs (decontamination: test_decontam.py)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from skydata.dedup import dedup
from skydata.difficulty import MAX_ATTEMPTS, JudgeCache, JudgeConfig, LabelCounts, label, parse_level
from skydata.export import export_rows
from skydata.mix import mix, parse_part
from skydata.records import Drop, Generation, Item
from skydata.reject import Acceptance, RejectConfig, reject
from skydata.rlfilter import Band, filter_prompts
from skydata.select import needs_label, parse_rule, resolve_rules, select
from skydata.sources import last_boxed, make_spec, parse_fields, read_source
from skydata.teacher import problem_key, resolve_teacher
from skyeval.errors import SkyevalError
from skyeval.jsonl import AppendLog, read_jsonl
from skyeval.prompts import QWEN_COT, QWQ, SKY_T1
from skyeval.types import Completion, FinishReason, GenerationRequest, SamplingParams


def write(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def item(i: str, problem: str, source: str = "math", gold: str = "1", **meta: object) -> Item:
    return Item(i, problem, gold, source, meta)


# ---------------------------------------------------------------- sources


def test_last_boxed_nested_and_missing() -> None:
    assert last_boxed(r"a \boxed{1} then \boxed{\frac{1}{2}}.") == r"\frac{1}{2}"
    assert last_boxed("no answer") is None
    assert last_boxed(r"\boxed{unclosed") is None


def test_numina_source_streams_and_reports_missing_gold(tmp_path: Path) -> None:
    src = write(
        tmp_path / "n.jsonl",
        [
            {"source": "olympiads", "problem": "P1", "solution": r"so \boxed{3}"},
            {"source": "math", "problem": "P2", "solution": "no box"},
            {"source": "math", "problem": "", "solution": r"\boxed{1}"},
        ],
    )
    out = list(read_source(make_spec("numina", str(src))))
    assert isinstance(out[0], Item) and out[0].gold == "3" and out[0].source == "olympiads"
    assert [o.reason for o in out[1:] if isinstance(o, Drop)] == ["no_gold", "no_problem"]


def test_eurus_source_subsets_and_ground_truth(tmp_path: Path) -> None:
    def rec(ds: str, ans: str) -> dict[str, object]:
        return {
            "data_source": ds,
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": ans},
            "prompt": [
                {"role": "system", "content": "sys"},
                {
                    "role": "user",
                    "content": "Find x.\n\nPresent the answer in LaTex format: \\boxed{Your answer}",
                },
            ],
        }

    src = write(
        tmp_path / "e.jsonl",
        [rec("numina_olympiads", "7"), rec("numina_cn_k12", "1"), rec("numina_amc_aime", "")],
    )
    out = list(read_source(make_spec("eurus", str(src), subsets=("numina_olympiads", "numina_amc_aime"))))
    assert isinstance(out[0], Item) and out[0].problem == "Find x." and out[0].gold == "7"
    assert [(o.reason) for o in out[1:] if isinstance(o, Drop)] == ["other_subset", "no_gold"]


def test_local_source_field_mapping_and_errors(tmp_path: Path) -> None:
    src = write(tmp_path / "l.jsonl", [{"q": "What?", "a": 5.0, "uid": "x1"}])
    spec = make_spec("local", str(src), fields=parse_fields(("problem=q", "gold=a", "id=uid")))
    (only,) = list(read_source(spec))
    assert isinstance(only, Item) and only.id == "x1" and only.gold == "5"
    with pytest.raises(SkyevalError, match="bad field mapping"):
        parse_fields(("question",))
    with pytest.raises(SkyevalError, match="no such source file"):
        list(read_source(make_spec("local", str(tmp_path / "missing.jsonl"))))
    (tmp_path / "bad.jsonl").write_text('{"q": 1}\nnot json\n')
    with pytest.raises(SkyevalError, match="bad.jsonl:2"):
        list(read_source(make_spec("local", str(tmp_path / "bad.jsonl"), fields={"problem": "q"})))


def test_parquet_source(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"question": ["A?", "B?"], "answer": ["1", "2"]}), tmp_path / "s.parquet")
    out = list(read_source(make_spec("still3", str(tmp_path / "s.parquet"))))
    assert [o.gold for o in out if isinstance(o, Item)] == ["1", "2"]


# ---------------------------------------------------------------- difficulty judge


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("Reasoning...\nDifficulty: 5", 5.0),
        ("Difficulty: 4.5", 4.5),
        ("difficulty = **7**", 7.0),
        ("Difficulty: 6/10", 6.0),
        ("Difficulty: 3\n...on reflection\nDifficulty: 4", 4.0),  # the last marker wins
        ("It is about a 5.", None),  # no marker
        ("Difficulty: 11", None),  # off the scale
        ("Difficulty: 0", None),
        ("Difficulty: hard", None),
        ("", None),
    ],
)
def test_parse_level(text: str, level: float | None) -> None:
    assert parse_level(text) == level


class ScriptedEngine:
    """Answers each request from a script keyed by problem text fragment; counts calls."""

    name = "scripted"

    def __init__(self, answer: Callable[[str, int], tuple[str, FinishReason]]) -> None:
        self.answer = answer
        self.calls = 0

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Iterator[Completion]:
        for r in requests:
            for i in r.sample_indices:
                self.calls += 1
                text, finish = self.answer(r.messages[-1].content, i)
                yield Completion(r.problem_id, i, text, finish, 3, len(text))


def test_label_votes_median_unparsable_retries_and_cache(tmp_path: Path) -> None:
    def answer(prompt: str, vote: int) -> tuple[str, FinishReason]:
        if "garbage" in prompt:
            return "I cannot say", "stop"
        if "flaky" in prompt:
            return "HTTP 400: model not found", "error"
        return f"Difficulty: {[3, 6, 5][vote]}", "stop"

    items = [
        item("a", "easy one"),
        item("b", "garbage one"),
        item("c", "flaky one"),
        item("d", "skip me", "amc_aime"),
    ]
    rules = resolve_rules("sky-t1")
    cfg = JudgeConfig("scripted:x", votes=3, batch=2)
    engine = ScriptedEngine(answer)
    cache = JudgeCache(tmp_path / "cache.jsonl")
    counts = LabelCounts()
    wanted = lambda it: needs_label(rules, it.source)  # noqa: E731
    out = {i.id: i for i in label(items, engine, cfg, cache, wanted=wanted, counts=counts)}
    cache.close()
    assert out["a"].meta["difficulty"] == 5.0 and out["a"].meta["difficulty_votes"] == [3, 6, 5]
    assert out["b"].meta["difficulty"] is None and out["b"].meta["difficulty_status"] == "unparsable"
    assert out["c"].meta["difficulty_status"] == "judge_error"  # engine errors are not cached
    assert out["d"].meta["difficulty_status"] == "not_needed"
    # a: 3 votes; b: 3 votes x MAX_ATTEMPTS (unparsable, asked again); c: 3 failed votes, not retried
    assert engine.calls == 3 + 3 * MAX_ATTEMPTS + 3
    assert dict(counts.status) == {"labelled": 1, "unparsable": 1, "judge_error": 1, "not_needed": 1}
    assert (counts.tally.work, counts.tally.errors) == (9, 3)
    assert counts.tally.first_error == "HTTP 400: model not found"
    rows = list(read_jsonl(tmp_path / "cache.jsonl"))
    assert sorted(r["attempt"] for r in rows if r["level"] is None) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # a re-run asks only for what is missing (the errored votes); the unparsable ones are settled
    engine2 = ScriptedEngine(answer)
    cache2 = JudgeCache(tmp_path / "cache.jsonl")
    again = {i.id: i for i in label(items, engine2, cfg, cache2, wanted=wanted)}
    cache2.close()
    assert engine2.calls == 3 and again["a"].meta == out["a"].meta
    # --rejudge-unparsable forgets the unparsable attempts: b gets MAX_ATTEMPTS new ones per vote
    engine3 = ScriptedEngine(answer)
    cache3 = JudgeCache(tmp_path / "cache.jsonl", rejudge_unparsable=True)
    assert cache3.forgotten == 3 * MAX_ATTEMPTS
    list(label(items, engine3, cfg, cache3, wanted=wanted))
    cache3.close()
    assert engine3.calls == 3 * MAX_ATTEMPTS + 3


def test_judge_cache_is_keyed_by_what_changes_a_vote(tmp_path: Path) -> None:
    """Model id, rubric version, temperature and max tokens are in the key; the endpoint URL is not."""
    engine = ScriptedEngine(lambda prompt, vote: ("Difficulty: 4", "stop"))
    items = [item("a", "one problem"), item("b", "another problem")]

    def calls(cfg: JudgeConfig) -> int:
        before = engine.calls
        with_cache = JudgeCache(tmp_path / "cache.jsonl")
        list(label(items, engine, cfg, with_cache))
        with_cache.close()
        return engine.calls - before

    base = JudgeConfig("gpt-4o-mini", max_tokens=1024)
    assert calls(base) == 2 and calls(base) == 0  # cached
    assert calls(JudgeConfig("gpt-4o-mini", max_tokens=2048)) == 2  # D3: a larger budget is asked again
    assert calls(JudgeConfig("gpt-4o-mini", temperature=0.3)) == 2
    assert calls(JudgeConfig("gpt-4o", max_tokens=1024)) == 2
    assert calls(JudgeConfig("gpt-4o-mini", votes=2)) == 4  # 0.7 by default with two votes: a new key
    assert base.cache_key("x") != JudgeConfig("gpt-4o-mini", max_tokens=1024, temperature=0.5).cache_key("x")


# ---------------------------------------------------------------- selection, dedup


def test_select_rules_and_presets() -> None:
    rows = [
        item("m3", "x", "math", difficulty=3.0),
        item("m4", "x", "math", difficulty=4.0),
        item("o9", "x", "olympiads", difficulty=9.0),
        item("o8", "x", "olympiads", difficulty=8.0),
        item("a", "x", "amc_aime"),
        item("k", "x", "cn_k12", difficulty=9.0),
        item("u", "x", "math", difficulty=None),
    ]
    out = list(select(rows, resolve_rules("sky-t1")))
    assert [o.id for o in out if isinstance(o, Item)] == ["m4", "o9", "a"]
    assert Counter(o.reason for o in out if isinstance(o, Drop)) == {
        "too_easy": 2,
        "source_not_selected": 1,
        "unlabelled": 1,
    }
    statuses = [
        item("p", "x", "math", difficulty=None, difficulty_status="unparsable"),
        item("e", "x", "math", difficulty=None, difficulty_status="judge_error"),
    ]
    assert [o.reason for o in select(statuses, resolve_rules("sky-t1")) if isinstance(o, Drop)] == [
        "unparsable",
        "judge_error",
    ]
    custom = resolve_rules("sky-t1", ["math>2", "cn_k12:all"])
    assert {o.id for o in select(rows, custom) if isinstance(o, Item)} == {"m3", "m4", "o9", "a", "k"}
    with pytest.raises(SkyevalError, match="bad selection rule"):
        parse_rule("math>>3")
    with pytest.raises(SkyevalError, match="unknown selection preset"):
        resolve_rules("nope")


def test_dedup_exact_and_near() -> None:
    base = "Let ABC be a triangle with sides 3 4 and 5 and let D be the foot of the altitude from C find the length CD"
    rows = [
        item("1", base),
        item("2", base.upper() + " ."),  # same normalised text
        item("3", base + " exactly"),  # near duplicate
        item(
            "4", "A completely different problem about counting subsets of a set with ten elements and parity"
        ),
    ]
    out = list(dedup(rows))
    assert [o.id for o in out if isinstance(o, Item)] == ["1", "4"]
    drops = {o.id: o for o in out if isinstance(o, Drop)}
    assert (
        drops["2"].reason == "duplicate"
        and drops["3"].reason == "near_duplicate"
        and "1" in drops["3"].detail
    )


# ---------------------------------------------------------------- rejection sampling


def gen(pid: str, i: int, text: str, correct: bool = True, finish: str = "stop") -> Generation:
    reason = "equal" if correct else "not_equal"
    return Generation(pid, i, text, len(text), finish, len(text), correct, reason, None)


def test_reject_policies_target_and_reasons() -> None:
    items = [item("a", "pa"), item("b", "pb"), item("c", "pc"), item("d", "pd")]
    k = {it.id: problem_key(it) for it in items}
    gens = {
        k["a"]: [
            gen(k["a"], 0, "long answer x"),
            gen(k["a"], 1, "short"),
            gen(k["a"], 2, "wrong", correct=False),
        ],
        k["b"]: [gen(k["b"], 0, "cut", finish="length"), gen(k["b"], 1, "bad", correct=False)],
        k["c"]: [gen(k["c"], 0, "ok c")],
    }
    reasons: Counter[str] = Counter()
    out = list(reject(items, gens, RejectConfig(policy="shortest"), teacher="t", sample_reasons=reasons))
    kept = [o for o in out if not isinstance(o, Drop)]
    assert [(r["problem_id"], r["response"]) for r in kept] == [("a", "short"), ("c", "ok c")]
    assert {o.id: o.reason for o in out if isinstance(o, Drop)} == {
        "b": "no_accepted_sample",
        "d": "no_samples",
    }
    assert reasons == {"wrong:not_equal": 2, "not_finished:length": 1}
    all_kept = [
        o for o in reject(items, gens, RejectConfig(policy="all"), teacher="t") if not isinstance(o, Drop)
    ]
    assert len(all_kept) == 3
    capped = list(
        reject(items, gens, RejectConfig(target=1, acceptance=Acceptance(max_chars=5)), teacher="t")
    )
    assert [o["response"] for o in capped if not isinstance(o, Drop)] == ["short"]
    assert [o.reason for o in capped if isinstance(o, Drop)].count("over_target") == 3
    with pytest.raises(SkyevalError):
        RejectConfig(policy="best")


def test_teacher_aliases_prompts_and_unknown_names() -> None:
    qwq = resolve_teacher("qwq")
    assert (qwq.name, qwq.model, qwq.system_prompt) == ("qwq", "Qwen/QwQ-32B-Preview", "qwq")
    system, user = qwq.messages("P")
    assert system.content == QWQ and user.content == "P\n\n" + QWEN_COT
    r1 = resolve_teacher("r1-distill-qwen-7b")
    assert r1.system_prompt == "none" and [m.role for m in r1.messages("P")] == ["user"]
    sky = resolve_teacher("sky-t1-32b")
    assert sky.messages("P")[0].content == SKY_T1  # the verbatim prompt, not a paraphrase
    served = resolve_teacher("qwq", model="served-name")
    assert (served.name, served.model) == ("qwq", "served-name")  # provenance keeps the alias
    anyid = resolve_teacher("my-org/model", system_prompt="sky-t1")
    assert (anyid.name, anyid.model) == ("my-org/model", "my-org/model")
    assert anyid.messages("P")[0].content == SKY_T1
    assert resolve_teacher(None, model="gpt-4o").name == "gpt-4o"
    with pytest.raises(SkyevalError, match="unknown teacher alias 'qwq-preview'; choose one of: qwq"):
        resolve_teacher("qwq-preview")  # a typo never becomes a model id
    with pytest.raises(SkyevalError, match="unknown system prompt 'Be brief.'"):
        resolve_teacher("qwq", system_prompt="Be brief.")


# ---------------------------------------------------------------- export, mixtures, RL filter


SFT = {
    "id": "a#0",
    "problem": "What is 1+1?",
    "gold": "2",
    "source": "math",
    "response": "\\boxed{2}",
    "teacher": "t",
}


def test_export_formats() -> None:
    (trl,) = export_rows([SFT], "trl")
    assert [m["role"] for m in trl["messages"]] == ["system", "user", "assistant"] and trl["source"] == "math"
    assert trl["messages"][0]["content"] == SKY_T1 and trl["messages"][1]["content"] == "What is 1+1?"
    (sg,) = export_rows([SFT], "sharegpt", system_prompt="qwq")
    assert sg["system"] == QWQ and [c["from"] for c in sg["conversations"]] == ["human", "gpt"]
    (orl,) = export_rows([SFT], "openrlhf", system_prompt="none")
    assert (
        orl["input"] == [{"role": "user", "content": "What is 1+1?"}]
        and orl["output"][0]["role"] == "assistant"
    )
    (rl,) = export_rows([SFT], "openrlhf-rl")
    assert rl["label"] == "2" and rl["prompt"] == [{"role": "user", "content": "What is 1+1?\n\n" + QWEN_COT}]
    (trl_rl,) = export_rows([SFT], "trl-rl")
    assert trl_rl["answer"] == "2"
    with pytest.raises(SkyevalError, match="missing response"):
        list(export_rows([{"problem": "x", "gold": "1"}], "trl"))
    with pytest.raises(SkyevalError, match="unknown export format"):
        list(export_rows([SFT], "alpaca"))
    with pytest.raises(SkyevalError, match="unknown system prompt 'S'"):
        list(export_rows([SFT], "trl", system_prompt="S"))


def test_mix_counts_fractions_and_provenance(tmp_path: Path) -> None:
    a = write(tmp_path / "qwq.jsonl", [{"id": f"a{i}"} for i in range(50)])
    b = write(tmp_path / "self.jsonl", [{"id": f"b{i}"} for i in range(30)])
    rows = list(mix([parse_part(f"{a}:10"), parse_part(f"rl={b}:5")], seed=1))
    assert Counter(r["mixture"] for r in rows) == {"qwq": 10, "rl": 5}
    assert len({r["id"] for r in rows}) == 15
    half = list(mix([parse_part(f"{a}:0.5"), parse_part(f"{b}:0.5")], total=40))
    assert Counter(r["mixture"] for r in half) == {"qwq": 20, "self": 20}
    with pytest.raises(SkyevalError, match="fewer than"):
        list(mix([parse_part(f"{b}:31")]))


def test_filter_prompts_band() -> None:
    items = [item("all", "p"), item("none", "p"), item("half", "p"), item("unseen", "p")]
    counts = {"all": (4, 4), "none": (4, 0), "half": (4, 2)}
    out = list(filter_prompts(items, counts, Band()))
    assert [o.id for o in out if isinstance(o, Item)] == ["half"]
    assert {o.id: o.reason for o in out if isinstance(o, Drop)} == {
        "all": "too_easy_for_policy",
        "none": "too_hard_for_policy",
        "unseen": "no_rollouts",
    }
    inclusive = [
        o.id for o in filter_prompts(items, counts, Band(0.0, 0.5, inclusive=True)) if isinstance(o, Item)
    ]
    assert inclusive == ["none", "half"]


# ---------------------------------------------------------------- crash safety


def test_append_log_survives_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with AppendLog(path) as log:
        log.write({"i": 0})
        log.write({"i": 1})
    with path.open("a") as fh:
        fh.write('{"i": 2, "tex')  # a kill -9 in the middle of a write
    assert [r["i"] for r in read_jsonl(path, tolerate_torn_tail=True)] == [0, 1]
    with pytest.raises(SkyevalError, match="malformed"):
        list(read_jsonl(path))
    with AppendLog(path) as log:
        log.write({"i": 3})
    assert [r["i"] for r in read_jsonl(path)] == [0, 1, 3]


def test_hub_sources_stream_through_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls: dict[str, object] = {}

    def fake_load(name: str, split: str, streaming: bool) -> Iterator[dict[str, str]]:
        calls.update(name=name, split=split, streaming=streaming)
        return iter([{"source": "amc_aime", "problem": "P?", "solution": r"\boxed{4}"}])

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    (only,) = list(read_source(make_spec("numina")))
    assert calls == {"name": "AI-MO/NuminaMath-CoT", "split": "train", "streaming": True}
    assert isinstance(only, Item) and only.gold == "4"

    def offline(name: str, split: str, streaming: bool) -> Iterator[dict[str, str]]:
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SkyevalError, match="cannot stream PRIME-RL/Eurus-2-RL-Data"):
        list(read_source(make_spec("eurus")))
