"""A tiny random Qwen2 chat model built locally in seconds, for testing reward plumbing, engines and training
loops without the Hub.

No network is needed: the BPE tokenizer is trained on a few sentences with ``tokenizers`` and the model is a
2-layer ``Qwen2Config`` with random weights. Needs the ``hf`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "The answer is \\boxed{42}. So the final answer is 7 and x = 3/4.",
    "Let x + y = 10 and x - y = 2. Then x = 6, y = 4. Therefore \\boxed{6}.",
    "What is 1 + 1? 0 1 2 3 4 5 6 7 8 9 \\frac{1}{2} \\sqrt{2} \\pi ( ) [ ] { } ^ _ = + - * / , . ; :",
]


def build_tiny_model(
    path: str | Path,
    *,
    vocab_size: int = 512,
    seed: int = 0,
    corpus: Sequence[str] | None = None,
    chat_template: str = CHAT_TEMPLATE,
    max_positions: int = 2048,
) -> Path:
    """Write a tiny random Qwen2 causal LM with a chat template and a local BPE tokenizer to ``path``.

    ``corpus`` (the tokenizer's training text; default: a few maths sentences) and ``chat_template`` fit the
    model to a task, e.g. a training test's own problems and a template with ``{% generation %}`` markers."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 20 if corpus is None else corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = chat_template
    fast.save_pretrained(path)

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.eos_token_id,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(path)
    return path
