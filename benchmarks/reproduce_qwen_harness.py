"""Reproduce the 31 published Qwen2.5-Math-harness files with ``skyeval import`` and sort every disagreement.

Usage (by hand; the tables go to docs/reproduction.md)::

    .venv/bin/python benchmarks/reproduce_qwen_harness.py [--out DIR] [--json OUT] [--list]

Each file of ``../shared/generations/qwen_harness/MANIFEST.tsv`` is imported (``--from qwen-harness``, the
harness-layout data of ``../shared/data`` and ``../shared/minerva``), which joins every row to the task's data
on ``idx`` and checks its question. Per file it prints the published ``acc``, the same number recomputed from
the harness's own verdicts (they must agree to 0.1 point), skyeval's pass@1 and the disagreements. Every
disagreement is then put in one category by the rules of ``categorise`` (first match wins), using the
harness's row (its ``gt``, ``pred`` and response) and skyeval's grader on the harness's own extracted answer;
what no rule explains is listed. ``--list`` prints every disagreement with its category.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyeval import grade
from skyeval.importers.runner import ImportOptions, import_run
from skyeval.tasks import get_task, load_task

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HARNESS = SHARED / "generations" / "qwen_harness"

# (key, who is right, description) in the order the rules try them
CATEGORIES = {
    "our-false-positive": (
        "harness",
        "we accept fewer items than a multi-item gold (`-3` for `-3,0`, read as the decimal −3.0; `90°` for two "
        "angles of 90°)",
    ),
    "gold-mangled": (
        "skyeval",
        "the harness compared with a gold its strip_string mangled (`10,\\!080` -> `10,80`)",
    ),
    "harness-extraction": (
        "skyeval",
        "its answer extraction mangles, concatenates or drops items (`1 \\text{ and } 5` read as `15`, "
        "`(2,32)(8,18)`, only the last of several boxes)",
    ),
    "rounding": (
        "skyeval",
        "a number equal to the gold at the gold's precision (`3.275\\times10^{12}` for `3.3e12`; the grader's "
        "approximation policy, docs/grading.md)",
    ),
    "unordered-list": ("skyeval", "ordered comparison of unordered answer lists (`-2,5` vs `5,-2`)"),
    "labelled": (
        "skyeval",
        "a labelled answer, equation or inequality against a bare gold (`f(x)=…`, `\\tau=0.2`, `k<-5`)",
    ),
    "notation": (
        "skyeval",
        "notation it does not read (`3\\times10^{8}` for `3e8`, units `36\\mathrm{~mL}`, Unicode `12π`, "
        "`\\textbf{(B)}`)",
    ),
    "equality-missed": (
        "skyeval",
        "a symbolic or numeric equality it misses (`\\cot x`, complex forms, `3 \\pm 2\\sqrt2`)",
    ),
    "last-number-fallback": ("harness", "its last-number fallback on a response with no box or marker"),
    "bold-last-line": (
        "harness",
        "a bold result on the last line: the files record no finish reason, so it is unused",
    ),
    "scale-leniency": ("harness", "its x100 / ÷100 leniency (`1000` for `10`, `40.8` for `4080`)"),
    "tolerance": ("harness", "its relative tolerance 1e-4 (`24.309` for `24.310`, `102019` for `102018`)"),
    "interval-ends": ("harness", "it ignores open/closed interval ends (`[2,\\infty)` for `(2,\\infty)`)"),
    "list-accepted": ("harness", "it accepts an incomplete, padded or wrong answer list"),
    "degenerate": (
        "neither",
        "degenerate output: a reply looping to the token limit (a box or a sentence repeated)",
    ),
    "unclosed-box": (
        "neither",
        "it reads a box the reply never closed (cut off: `\\boxed{-10.` read as `-10`)",
    ),
    "multi-part": ("harness", "several labelled answers we read as one list; the harness took the last box"),
    "we-miss-equality": (
        "harness",
        "we miss an equality (`E_{1}` vs `E_1`, `\\ln` vs `\\log`, `-1./3`, `x²`)",
    ),
}


@dataclass(frozen=True)
class Case:
    """One disagreement: the harness's row and our sample."""

    file: str
    idx: int
    gold: str
    gt: str
    pred: str
    ours: str | None
    reason: str
    ours_correct: bool
    response: str


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _equal(a: str, b: str) -> bool:
    """skyeval's equivalence of two answers (each read whole: boxed, so extraction takes it as it is)."""
    if not a.strip():
        return False
    return a.replace(" ", "") == b.replace(" ", "") or grade(f"\\boxed{{{a}}}", b, timeout=5.0).correct


_THOUSANDS = re.compile(r"^\s*-?\d{1,3}(?:,(?:\\!)?\s?\d{3})+(?:\.\d+)?\s*$")
_GLUE = re.compile(r"\\text\{\s*(?:and|or)\s*\}|\s(?:and|or)\s")


def items(text: str) -> list[str]:
    """The top-level items of an answer list (commas and "and"/"or" outside brackets; thousands separators and
    one interval or tuple stay one item)."""
    if _THOUSANDS.match(text):
        return [text.strip()]
    text = _GLUE.sub(",", text.replace("\\left", "").replace("\\right", ""))
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [x.strip() for x in out if x.strip() and x.strip() not in ("\\", "\\ ")]


def _number(text: str) -> float | None:
    """A plain or scientific number (``1.5``, ``1e-3``, ``3.2\\times10^{12}``, ``3.2 \\cdot 10^{-5}``), else None."""
    if "," in text and not _THOUSANDS.match(text):
        return None  # a list, not a number
    t = text.replace(",", "").replace("\\!", "").replace(" ", "").replace("~", "")
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)(?:e(-?\d+)|\\(?:times|cdot)10\^\{?(-?\d+)\}?)?", t)
    if m is None:
        return None
    power = m.group(2) or m.group(3)
    return float(m.group(1)) * (10.0 ** int(power) if power else 1.0)


_INTERVAL = re.compile(r"^[\[(].*,.*[\])]$")
_LABEL = re.compile(r"=|<|>|\\approx|\\(?:le|ge|leq|geq|neq)(?![A-Za-z])")
_NOTATION = re.compile(r"[^\x00-\x7f]|\\mathrm|\\textbf|\\text|eV|mL|\^\\circ|\\circ")


def _same_multiset(a: list[str], b: list[str]) -> bool:
    left = list(b)
    for x in a:
        hit = next((y for y in left if _equal(x, y)), None)
        if hit is None:
            return False
        left.remove(hit)
    return not left


def _text(a: str) -> str:
    """An answer with spacing and ``\\left``/``\\right`` dropped: two spellings of one answer compare equal."""
    return re.sub(r"\s+|\\left|\\right", "", a)


def _unwrapped(a: str) -> list[str]:
    """The items of an answer, a single tuple ``(1000, 10)`` counted by its components."""
    parts = items(a)
    if len(parts) == 1 and _INTERVAL.match(parts[0]):
        return items(parts[0][1:-1])
    return parts


def _looping(response: str) -> bool:
    """A reply that loops: many boxes, or its closing words repeated many times."""
    tail = response[-120:-80]
    return response.count("\\boxed") > 20 or (
        len(response) > 2000 and len(tail) == 40 and response.count(tail) >= 5
    )


def _unclosed_box(response: str) -> bool:
    start = response.rfind("\\boxed{")
    if start < 0:
        return False
    depth = 0
    for ch in response[start + len("\\boxed") :]:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0:
            return False
    return True


def categorise(c: Case) -> str:
    """The first rule that explains why skyeval and the harness judge ``c`` differently ("" if none does)."""
    g_items, p_items = items(c.gold), items(c.pred)
    if _looping(c.response):
        return "degenerate"
    if c.ours_correct:
        if len(g_items) > 1 and c.ours is not None and len(_unwrapped(c.ours)) < len(g_items):
            return "our-false-positive"
        if not _equal(c.pred, c.gold) or re.search(r"\d(?:or|and)-?\d", c.pred):
            return "harness-extraction"
        if c.gt and not _equal(c.gt, c.gold):
            return "gold-mangled"
        p, g = _number(c.pred), _number(c.gold)
        if p is not None and g is not None:
            return (
                "rounding" if p != g else "notation"
            )  # equal values written otherwise: `3\\times10^8`, `3e8`
        if len(p_items) > 1 and len(p_items) == len(g_items) and _same_multiset(p_items, g_items):
            return "unordered-list"
        if bool(_LABEL.search(c.pred)) != bool(_LABEL.search(c.gold)):
            return "labelled"
        if _NOTATION.search(c.pred):
            return "notation"
        return "equality-missed"
    if c.reason == "no_answer" and _unclosed_box(c.response):
        return "unclosed-box"
    if c.reason == "no_answer":
        lines = [ln for ln in c.response.strip().splitlines() if ln.strip()]
        if "\\boxed" not in c.response and lines and "**" in lines[-1]:
            return "bold-last-line"
        if "\\boxed" not in c.response:
            return "last-number-fallback"
    ours = c.ours or ""
    p, g = _number(c.pred), _number(c.gold)
    if p is not None and g is not None and g != 0:
        if any(abs(p - g * f) <= 1e-9 * max(1.0, abs(g * f)) for f in (100, 0.01)):
            return "scale-leniency"
        if p != g and abs(p - g) <= 1e-4 * abs(g) + 1e-12:
            return "tolerance"
    bare_gold = c.gold.replace("\\left", "").replace("\\right", "").strip()
    if _INTERVAL.match(c.pred.strip()) and _INTERVAL.match(bare_gold):
        inner = _text(c.pred)[1:-1], _text(bare_gold)[1:-1]
        if inner[0] == inner[1] or _equal(*inner):
            return "interval-ends"
    if len(p_items) != len(g_items) or (len(g_items) > 1 and not _same_multiset(p_items, g_items)):
        return "list-accepted"
    if len(items(ours)) > 1 and any(_equal(x, c.gold) for x in items(ours)):
        # several boxes, the last one the gold: labelled parts; one box holding more: a padded answer accepted
        return "multi-part" if c.response.count("\\boxed") > 1 else "list-accepted"
    if _text(ours) == _text(c.pred) or not _equal(c.pred, c.gold):
        return "we-miss-equality"
    return ""


def _cases(run_dir: Path, file: str, task: str, data: Path) -> Iterator[Case]:
    rows = {r["idx"]: r for r in _jsonl(HARNESS / file)}
    row_of = {p.id: i for i, p in enumerate(load_task(get_task(task), data).problems)}  # the harness's idx
    for s in _jsonl(run_dir / "samples.jsonl"):
        if s["correct"] == s["source_correct"]:
            continue
        row = rows[row_of[s["problem_id"]]]
        yield Case(
            file, row["idx"], s["gold"], str(row.get("gt") or ""), str(s["source_extracted"] or ""),
            s["extracted"], s["reason"], s["correct"], s["completion"],
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="where the run directories go (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="write the per-file figures and categories here")
    parser.add_argument("--list", action="store_true", help="print every disagreement with its category")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="skyeval-repro-"))
    manifest = list(csv.DictReader((HARNESS / "MANIFEST.tsv").open(), delimiter="\t"))
    print(
        "| file | n | published acc | harness verdicts | skyeval | disagreements (only skyeval / only harness) |"
    )
    print("|---|---|---|---|---|---|")
    files: list[dict[str, Any]] = []
    cases, failed = [], []
    start = time.perf_counter()
    for entry in manifest:
        data = SHARED / ("minerva" if entry["task"] == "minerva_math" else "data")
        result = import_run(
            ImportOptions((str(HARNESS / entry["file"]),), "qwen-harness", entry["task"], model=entry["model"],
                          output_dir=str(out), data_dir=str(data), progress=False),
            log=lambda line: None,
        )  # fmt: skip
        summary, src = result.summary, result.summary.source_scores
        assert src is not None and summary.scores is not None
        published = float(entry["metrics_acc"])
        mine = 100 * src.pass_at_1
        if abs(mine - published) > 0.05 + 1e-9 or result.warnings:
            failed.append(entry["file"])
        name = entry["file"].removesuffix(".jsonl")
        print(
            f"| {name} | {summary.samples} | {published:.1f} | {mine:.1f} | {100 * summary.scores.pass_at_1:.1f} | "
            f"{src.disagreements} ({src.only_ours} / {src.only_source}) |",
            flush=True,
        )
        found = list(_cases(result.run_dir, entry["file"], entry["task"], data))
        cases += found
        files.append({"file": entry["file"], "n": summary.samples, "published": published, "harness": mine,
                      "skyeval": 100 * summary.scores.pass_at_1, "disagreements": src.disagreements,
                      "only_skyeval": src.only_ours, "only_harness": src.only_source})  # fmt: skip
    elapsed = time.perf_counter() - start
    n = sum(f["n"] for f in files)

    def pooled(key: str) -> float:
        return float(sum(f[key] * f["n"] for f in files) / n)

    print(f"| **all (responses)** | {n} | | {pooled('harness'):.1f} | {pooled('skyeval'):.1f} | "
          f"{sum(f['disagreements'] for f in files)} ({sum(f['only_skyeval'] for f in files)} / "
          f"{sum(f['only_harness'] for f in files)}) |")  # fmt: skip
    labels = [categorise(c) for c in cases]
    counts = Counter(labels)
    print(f"\nimported {len(manifest)} files in {elapsed:.1f} s; published acc reproduced by the harness's verdicts "
          f"in {len(manifest) - len(failed)} of {len(manifest)}{': FAILED ' + ', '.join(failed) if failed else ''}")  # fmt: skip
    print(
        f"\n{len(cases)} disagreements; {counts.get('', 0)} unexplained ({100 * counts.get('', 0) / max(1, len(cases)):.1f}%)\n"
    )
    print("| category | right | n | example (file, idx: gold / harness pred / skyeval) |")
    print("|---|---|---|---|")
    for key, (right, description) in CATEGORIES.items():
        if counts.get(key):
            ex = next(c for c, lab in zip(cases, labels, strict=True) if lab == key)
            print(f"| {description} | {right} | {counts[key]} | {ex.file.split('/')[0]} {ex.idx}: `{ex.gold[:40]}` / "
                  f"`{ex.pred[:40]}` / `{(ex.ours or 'no answer')[:40]}` |")  # fmt: skip
    for c, lab in zip(cases, labels, strict=True):
        if args.list or not lab:
            print(f"{lab or 'UNEXPLAINED'}: {c.file} idx {c.idx} gold={c.gold!r} gt={c.gt!r} pred={c.pred!r} "
                  f"ours={c.ours!r} ({'skyeval' if c.ours_correct else 'harness'} says correct)")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps({"files": files, "categories": dict(counts), "elapsed_s": elapsed,
                                         "cases": [{**c.__dict__, "response": None, "category": lab}
                                                   for c, lab in zip(cases, labels, strict=True)]}, indent=1))  # fmt: skip
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
