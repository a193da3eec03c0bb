"""Write the golden fixtures of tests/test_importers.py: each harness's output files, shaped by its own writer.

Run by hand (``.venv/bin/python tests/data/importers/make_fixtures.py``); the files are committed. Three
invented MATH500-style problems (``data/math500.jsonl``, the ``../shared/data`` layout) are answered by each
harness, with verdicts as that harness would record them. Every writer is followed line by line:

- SkyThought (NovaSky-AI/SkyThought@0d190f11fd8e885bbe113aeccacba5ccde5b1102):
  ``skythought/evals/inference_and_check.py`` ``generate_responses_for_dataset`` (records: the dataset row,
  ``_index``, ``prompt``, ``input_conversation``, ``responses``, ``token_usages``), ``score_responses``
  (``correctness``/``reason``), ``save_results`` (``json.dumps(indent=4, ensure_ascii=False)``);
  ``skythought/evals/util/results.py`` ``SummaryResults``/``save_summary``; ``skythought/evals/cli.py``
  ``get_run_config``; ``skythought/evals/util/metrics.py`` ``pass_at_k``; ``tasks/math/math500.yaml``.
- lm-evaluation-harness (EleutherAI/lm-evaluation-harness@4e7e0d47f33bc71070c1d38394bafbb52b117163):
  ``lm_eval/evaluator.py`` (the logged ``example``), ``lm_eval/loggers/evaluation_tracker.py``
  ``save_results_samples`` (``arguments`` as ``gen_args_i``/``arg_j``, ``target`` as str, one JSON line per
  sample); ``lm_eval/utils.py`` ``hash_string`` (sha256 hex); task ``minerva_math500`` (``doc_to_text``
  ``"Problem:\\n{problem}\\n\\nSolution:"``, metrics ``exact_match`` and ``math_verify``, filter ``none``).
- lighteval (huggingface/lighteval@3fd15266bc8448b797e61462d293aa3fd40b3580):
  ``src/lighteval/logging/evaluation_tracker.py`` ``save_results``/``save_details``
  (``Dataset.from_list([asdict(detail)])``, columns sorted, ``to_parquet``); ``Doc``
  (``src/lighteval/tasks/requests.py``) and ``ModelResponse`` (``src/lighteval/models/model_output.py``) as
  ``asdict`` makes them; task ``math_500`` (``src/lighteval/tasks/tasks/math_500.py``: ``MATH_QUERY_TEMPLATE``,
  ``choices=[f"ANSWER: {solution}"]``, metric ``pass@k:k=1&n=1``, ``generation_size=32768``). lighteval names
  the file ``details_lighteval|math_500|0_<date>.parquet``; the fixture drops the ``|``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent

PROBLEMS = [
    {
        "problem": "What is $2+3$?",
        "solution": "Adding, $2+3=\\boxed{5}$.",
        "answer": "5",
        "subject": "Prealgebra",
        "level": 1,
        "unique_id": "test/prealgebra/9001.json",
    },
    {
        "problem": "Simplify $\\frac{6}{8}$.",
        "solution": "Dividing by $2$, $\\frac{6}{8}=\\boxed{\\frac{3}{4}}$.",
        "answer": "\\frac{3}{4}",
        "subject": "Prealgebra",
        "level": 2,
        "unique_id": "test/prealgebra/9002.json",
    },
    {
        "problem": "Find every real $x$ with $x^2 = 9$.  Enter all the solutions, separated by commas.",
        "solution": "Since $x^2=9$, $x=\\boxed{-3, 3}$.",
        "answer": "-3, 3",
        "subject": "Algebra",
        "level": 1,
        "unique_id": "test/algebra/9003.json",
    },
]


def write_data() -> None:
    (HERE / "data").mkdir(exist_ok=True)
    lines = "".join(json.dumps(p) + "\n" for p in PROBLEMS)
    (HERE / "data" / "math500.jsonl").write_text(lines, encoding="utf-8")


# -- SkyThought ---------------------------------------------------------------------------------------------

SKY_TEMPLATE = "Return your final response within \\boxed{{}}. {problem}"  # tasks/math/math500.yaml
SKY_RESPONSES = [  # (content, correctness, completion_tokens); n = 2, max_tokens = 4096
    [("Adding the numbers: 2 + 3 = 5.\n\n\\boxed{5}", True, 15), ("We get \\boxed{5}.", True, 6)],
    [("6/8 = 0.75, so \\boxed{0.75}", True, 12), ("Halving gives \\boxed{\\frac{3}{8}}", False, 10)],
    [("x = 3 or x = -3, so \\boxed{3, -3}", False, 14), ("Let us square both sides and", False, 4096)],
]


def _pass_at_k(n: int, c: int, k: int) -> float:  # skythought/evals/util/metrics.py
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def write_skythought() -> None:
    out = HERE / "skythought"
    out.mkdir(exist_ok=True)
    id_to_results = {}
    for idx, (row, responses) in enumerate(zip(PROBLEMS, SKY_RESPONSES, strict=True)):
        record = {**row, "_index": str(idx)}  # add_idx_map
        prompt = SKY_TEMPLATE.format(**row)
        record["prompt"] = prompt
        record["input_conversation"] = [{"role": "user", "content": prompt}]
        record["responses"] = [
            {"content": c.strip(), "correctness": ok, "reason": "" if ok else "Solution is incorrect."}
            for c, ok, _ in responses
        ]
        record["token_usages"] = [
            {"completion_tokens": t, "prompt_tokens": 40 + idx} for _, _, t in responses
        ]
        id_to_results[str(idx)] = record
    (out / "results.json").write_text(
        json.dumps(id_to_results, indent=4, ensure_ascii=False), encoding="utf-8"
    )
    scores = [[int(ok) for _, ok, _ in r] for r in SKY_RESPONSES]
    total = sum(len(s) for s in scores)
    pass_k = {}
    for k in (2, 1):
        values = [_pass_at_k(2, sum(s), k) for s in scores]
        pass_k[f"k={k}"] = round(math.fsum(values) / len(values) * 100, 3)
    completion = sum(t for r in SKY_RESPONSES for _, _, t in r)
    summary = {
        "configuration": {
            "task": {
                "name": "math500",
                "config": {
                    "handler": "math",
                    "dataset_path": "qq8933/MATH500",
                    "dataset_subset": None,
                    "dataset_split": "test",
                    "dataset_kwargs": {},
                    "question_key": "problem",
                    "answer_key": "answer",
                    "templating_parameters": {"template": SKY_TEMPLATE},
                    "preprocess_config": {},
                },
                "start": 0,
                "end": -1,
            },
            "model": {
                "name": "NovaSky-AI/Sky-T1-7B",
                "config": {
                    "model_id": "NovaSky-AI/Sky-T1-7B",
                    "name": "Sky-T1-7B",
                    "system_prompt": None,
                    "user_template": None,
                    "assistant_prefill": None,
                },
            },
            "backend": {"name": "vllm", "backend_args": {}},
            "sampling_params": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 4096, "n": 2},
        },
        "total_completion_tokens": completion,
        "avg_completion_tokens": round(completion / total, 3),
        "total_prompt_tokens": 0,
        "avg_prompt_tokens": 0,
        "accuracy": round(sum(map(sum, scores)) / total, 4),
        "pass_at_k": pass_k,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=4), encoding="utf-8")


# -- lm-evaluation-harness ------------------------------------------------------------------------------------

LM_RESPONSES = [  # (response, exact_match, math_verify)
    ("We have $2+3=5$.\nFinal Answer: The final answer is $5$. I hope it is correct.", 1, 1),
    ("Dividing, $6/8=0.75$.\nFinal Answer: The final answer is $0.75$. I hope it is correct.", 0, 1),
    ("Taking roots, $x=3$.\nFinal Answer: The final answer is $3$. I hope it is correct.", 0, 0),
]


def _hash(text: str) -> str:  # lm_eval/utils.py hash_string
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_lm_eval() -> None:
    out = HERE / "lm_eval"
    out.mkdir(exist_ok=True)
    lines = []
    for doc_id, (row, (resp, em, mv)) in enumerate(zip(PROBLEMS, LM_RESPONSES, strict=True)):
        doc = {"problem": row["problem"], "solution": row["solution"], "answer": row["answer"]}
        doc.update({k: row[k] for k in ("subject", "level", "unique_id")})
        prompt = (
            "Problem:" + "\n" + str(row["problem"]) + "\n\n" + "Solution:"
        )  # minerva_math utils.doc_to_text
        gen_kwargs = {"until": ["Problem:"], "do_sample": False, "temperature": 0}
        sample = {
            "doc_id": doc_id,
            "doc": doc,
            "target": str(row["answer"]),
            "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": gen_kwargs}},
            "resps": [[resp]],
            "filtered_resps": [resp],
            "filter": "none",
            "metrics": ["exact_match", "math_verify"],
            "doc_hash": _hash(json.dumps(doc, indent=2, ensure_ascii=False)),
            "prompt_hash": _hash(prompt),
            "target_hash": _hash(str(row["answer"])),
            "exact_match": em,
            "math_verify": mv,
        }
        lines.append(json.dumps(sample, ensure_ascii=False) + "\n")
    name = "samples_minerva_math500_2026-11-30T12-00-00.000000.jsonl"
    (out / name).write_text("".join(lines), encoding="utf-8")


# -- lighteval ---------------------------------------------------------------------------------------------

LIGHT_QUERY = """
Solve the following problem. The final line of your response MUST be of the following format:
"ANSWER: $ANSWER" (without quotes) where $ANSWER is the final answer. Think step by step before answering.

{prompt}
""".strip()
LIGHT_RESPONSES = [  # (text, metric)
    ("2 + 3 = 5.\nANSWER: 5", 1.0),
    ("6/8 reduces to 3/4.\nANSWER: \\frac{3}{4}", 1.0),
    ("Both roots work.\nANSWER: -3, 3", 0.0),
]


def write_lighteval() -> None:
    from datasets import Dataset

    out = HERE / "lighteval"
    out.mkdir(exist_ok=True)
    details = []
    for row, (text, score) in zip(PROBLEMS, LIGHT_RESPONSES, strict=True):
        doc = {  # asdict(Doc(...)) of math_500_prompt
            "query": LIGHT_QUERY.format(prompt=row["problem"]),
            "choices": [f"ANSWER: {row['solution']}"],
            "gold_index": 0,
            "instruction": None,
            "images": None,
            "specific": None,
            "unconditioned_query": None,
            "original_query": None,
            "id": "",
            "task_name": "lighteval|math_500|0",
            "fewshot_samples": [],
            "sampling_methods": ["GENERATIVE"],
            "fewshot_sorting_class": None,
            "generation_size": 32768,
            "stop_sequences": [],
            "use_logits": False,
            "num_samples": 1,
            "generation_grammar": None,
        }
        response = {  # asdict(ModelResponse(...))
            "input": doc["query"],
            "input_tokens": list(range(60)),
            "text": [text],
            "output_tokens": [list(range(len(text.split())))],
            "text_post_processed": None,
            "reasonings": [None],
            "logprobs": [],
            "argmax_logits_eq_gold": [],
            "logits": None,
            "unconditioned_logprobs": None,
            "truncated_tokens_count": 0,
            "padded_tokens_count": 0,
        }
        details.append({"doc": doc, "model_response": response, "metric": {"pass@k:k=1&n=1": score}})
    dataset = Dataset.from_list(details)
    dataset = dataset.select_columns(sorted(c for c in dataset.column_names if c != "id"))
    with (out / "details_math_500_2026-11-30T12-00-00.000000.parquet").open("wb") as f:
        dataset.to_parquet(f)


if __name__ == "__main__":
    write_data()
    write_skythought()
    write_lm_eval()
    write_lighteval()
