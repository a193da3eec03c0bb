"""Task definitions and loading (local files; the Hub is never contacted in tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyeval import hub
from skyeval.errors import SkyevalError
from skyeval.tasks import FieldMap, file_task, get_task, load_task, normalize_gold, task_names


def test_builtin_tasks_parse() -> None:
    names = task_names()
    assert {"aime24", "amc23", "math500", "olympiadbench", "aime25", "minerva_math"} <= set(names)
    for name in names:
        spec = get_task(name)
        assert spec.name == name and spec.hub is not None and "{question}" in spec.prompt_template
    assert get_task("aime24").sampling.n == 8 and get_task("aime24").sampling.temperature == 0.6
    assert get_task("amc23").sampling.top_p == 0.95
    assert get_task("math500").sampling.temperature == 0.0 and get_task("olympiadbench").sampling.n == 1


def test_unknown_task_lists_known() -> None:
    with pytest.raises(SkyevalError, match="known tasks: aime24, aime25, amc23"):
        get_task("aime23")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (27.0, "27"),
        (-1.0, "-1"),
        (0.5, "0.5"),
        ("025", "025"),
        (["$2$"], "2"),
        (["$69$,$84$"], "69, 84"),
        (["$x$", "$y$"], "x, y"),
        ("$a$ and $b$", "$a$ and $b$"),
    ],
)
def test_normalize_gold(value: object, expected: str) -> None:
    assert normalize_gold(value) == expected


def test_shared_data_loads(shared_dir: Path) -> None:
    data = shared_dir / "data"
    counts = {
        name: len(load_task(get_task(name), data).problems)
        for name in ("aime24", "amc23", "math500", "olympiadbench")
    }
    assert counts == {"aime24": 30, "amc23": 40, "math500": 500, "olympiadbench": 675}
    math500 = load_task(get_task("math500"), data)
    assert math500.problems[0].id == "test/precalculus/807.json" and set(math500.problems[0].meta) == {
        "subject",
        "level",
    }
    amc = load_task(get_task("amc23"), data)
    assert amc.problems[0].gold == "27"
    olympiad = load_task(get_task("olympiadbench"), data)
    multi = [p for p in olympiad.problems if ", " in p.gold]
    assert multi and all("$" not in p.gold for p in olympiad.problems[:50])


def test_fingerprint_and_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"id": i, "problem": f"q{i}", "answer": str(i)} for i in range(5)]
    (tmp_path / "aime24.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.setenv("SKYEVAL_DATA_DIR", str(tmp_path))
    full = load_task(get_task("aime24"))
    limited = load_task(get_task("aime24"), limit=2)
    assert len(limited.problems) == 2 and limited.fingerprint != full.fingerprint
    assert load_task(get_task("aime24")).fingerprint == full.fingerprint
    rows[0]["answer"] = "9"
    (tmp_path / "aime24.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert load_task(get_task("aime24")).fingerprint != full.fingerprint
    with pytest.raises(SkyevalError, match="no amc23.jsonl"):
        load_task(get_task("amc23"))


def test_file_task_mapping_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"idx": 3, "q": "Q?", "gt": 1.0, "level": "L1"}\n{"idx": 4, "q": "R?", "gt": "2"}\n')
    spec = file_task(str(path), FieldMap(question="q", gold="gt", id="idx", meta=("level",)))
    task = load_task(spec)
    assert [(p.id, p.question, p.gold, dict(p.meta)) for p in task.problems] == [
        ("3", "Q?", "1", {"level": "L1"}),
        ("4", "R?", "2", {}),
    ]
    with pytest.raises(SkyevalError, match="lacks field"):
        load_task(file_task(str(path), FieldMap(question="question", gold="gt")))
    path.write_text('{"idx": 3, "q": "Q?", "gt": 1}\n{"idx": 3, "q"\n')
    with pytest.raises(SkyevalError, match=r"mine.jsonl:2: malformed JSON"):
        load_task(spec)
    with pytest.raises(SkyevalError, match="file not found"):
        load_task(file_task(str(tmp_path / "nope.jsonl"), FieldMap(question="q", gold="gt")))


def test_hub_loading_maps_fields_and_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls: list[tuple[str, str | None, str | None]] = []

    def fake_load_dataset(
        path: str, name: str | None = None, split: str | None = None
    ) -> list[dict[str, object]]:
        calls.append((path, name, split))
        return [
            {"id": 1, "problem": "P1", "answer": "5", "url": "https://x/2024_AIME_I_Problems/Problem_1"},
            {"id": 2, "problem": "P2", "answer": "6", "url": "https://x/2023_AIME_I_Problems/Problem_1"},
        ]

    monkeypatch.delenv("SKYEVAL_DATA_DIR", raising=False)
    monkeypatch.setattr(hub, "probe", lambda: hub.HubStatus(True))  # the Hub answers
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    task = load_task(get_task("aime24"))
    assert calls == [("AI-MO/aimo-validation-aime", None, "train")]
    assert [(p.id, p.question, p.gold) for p in task.problems] == [("1", "P1", "5")]
    assert task.source == "hub:AI-MO/aimo-validation-aime"

    def offline(path: str, name: str | None = None, split: str | None = None) -> list[dict[str, object]]:
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SkyevalError, match="use --data-dir"):
        load_task(get_task("olympiadbench"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"q": "Q?", "gt": "1"}\n\n{"q": "R?", "gt": null}\n',
            r"mine.jsonl:3: empty or null field\(s\) gt",
        ),
        (b'{"q": "Q?", "gt": "1"}\n{"q": " ", "gt": "2"}\n', r"mine.jsonl:2: empty or null field\(s\) q"),
        (b'{"q": "Q?", "gt": []}\n', r"mine.jsonl:1: empty or null field\(s\) gt"),
        (b'{"q": "Q?", "gt": "1"}\n\n{"x": 1}\n', r"mine.jsonl:3: lacks field\(s\) q, gt"),
        (b'{"q": "Q?", "gt": "1"}\n\xff\xfe\n', r"mine.jsonl:2: not UTF-8"),
    ],
)
def test_bad_rows_name_their_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_bytes(content)
    with pytest.raises(SkyevalError, match=message):
        load_task(file_task(str(path), FieldMap(question="q", gold="gt")))


def test_duplicate_id_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"i": 1, "q": "Q?", "gt": "1"}\n\n{"i": 1, "q": "R?", "gt": "2"}\n')
    with pytest.raises(SkyevalError, match=r"mine.jsonl:3: duplicate id '1'"):
        load_task(file_task(str(path), FieldMap(question="q", gold="gt", id="i")))
