"""PRIME (Cui et al. 2025, "Process Reinforcement through Implicit Rewards") as a thin extension of TRL's GRPO.

TRL generates, grades (skyeval's grader is the outcome verifier), computes the clipped policy loss and runs the
optimizer, checkpoints and logging. This module adds only what PRIME changes, in one override of
``GRPOTrainer._generate_and_score_completions`` (GRPO's loss accepts per-token advantages from subclasses):

1. accuracy-band filter: prompts whose rollouts are all right or all wrong are masked out of the step;
2. implicit PRM: ``r_t = beta * (log pi_phi(y_t|y_<t) - log pi_ref(y_t|y_<t))``, pi_phi and the frozen pi_ref
   both loaded from the SFT model; pi_phi is updated once per rollout batch with the cross-entropy between
   ``sigmoid(sum_t r_t)`` and the grader's label;
3. advantages: leave-one-out (RLOO) baselines for the process rewards and the outcome reward separately,
   weighted, turned into returns (reverse cumulative sums, gamma = 1) and whitened over the batch.

The pure functions below are the equations; ``PrimeTrainer`` only wires them to TRL's batch. The PRM and its
reference are replicated on every process (gradients averaged with an all-reduce); they are not sharded by
ZeRO-3 or FSDP. docs/training.md maps every step to the paper and the reference code (PRIME-RL/PRIME, veRL).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from trl.trainer.grpo_config import GRPOConfig
from trl.trainer.grpo_trainer import GRPOTrainer
from trl.trainer.utils import (
    create_model_from_path,
    disable_dropout_in_model,
    get_config_model_id,
    selective_log_softmax,
)

from skytrain.checkpoints import PRIME_PRM_DIR, PRIME_PRM_OPTIMIZER, PRIME_STATE, missing_state
from skytrain.specs import PRIME_CHOICES, PRIME_FILTER, PrimeSettings

logger = logging.getLogger(__name__)


# --- the equations -------------------------------------------------------------------------------------


def band_keep(outcome: torch.Tensor, rollouts: int, low: float, high: float) -> torch.Tensor:
    """Per sample: True when its prompt's accuracy over the rollouts is strictly inside ``(low, high)``.

    ``outcome`` holds the samples of each prompt contiguously (``rollouts`` per prompt); a prompt with an
    unscorable sample (NaN: no gold answer) is dropped.
    """
    grouped = outcome.view(-1, rollouts)
    accuracy = grouped.mean(dim=1)  # NaN when any sample is NaN
    keep = (accuracy > low) & (accuracy < high) & ~torch.isnan(accuracy)
    return keep.repeat_interleave(rollouts)


def sequence_token_logps(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_len: int
) -> torch.Tensor:
    """``log p(y_t | y_<t)`` of the last ``completion_len`` tokens, shape ``[batch, completion_len]``.

    Positions come from the attention mask, so a left-padded row scores as it would unpadded.
    """
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        logits_to_keep=completion_len + 1,
        use_cache=False,
    )
    logits = out.logits[:, :-1, :].float()
    logps: torch.Tensor = selective_log_softmax(logits, input_ids[:, -completion_len:])
    return logps


def implicit_rewards(
    prm_logps: torch.Tensor, ref_logps: torch.Tensor, mask: torch.Tensor, beta: float
) -> torch.Tensor:
    """Token-level implicit process rewards ``beta * (log pi_phi - log pi_ref)`` on the response tokens (paper eq. 3)."""
    return beta * (prm_logps - ref_logps) * mask


def prm_cross_entropy(
    token_rewards: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, normaliser: float
) -> torch.Tensor:
    """Summed BCE between ``sigmoid(sum_t r_t)`` and the outcome labels, divided by ``normaliser`` (paper eq. 4)."""
    logits = token_rewards.sum(dim=-1)
    losses = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return (losses * weights).sum() / normaliser


def reward_batch_norm(token_rewards: torch.Tensor, largest_return: float) -> torch.Tensor:
    """The reference code's ``prime_norm: batch_norm``: divide by the largest |return| of the batch."""
    return token_rewards / (largest_return + 1e-6)


def reverse_cumsum(values: torch.Tensor) -> torch.Tensor:
    """Returns with gamma = 1: ``G_t = sum_{s >= t} values_s`` along the last dimension."""
    return values.flip(-1).cumsum(-1).flip(-1)


def leave_one_out(values: torch.Tensor, rollouts: int) -> torch.Tensor:
    """``v_i - mean_{j != i} v_j`` within each group of ``rollouts`` contiguous samples (RLOO)."""
    grouped = values.view(-1, rollouts)
    others = (grouped.sum(dim=1, keepdim=True) - grouped) / (rollouts - 1)
    return (grouped - others).view(-1)


def process_baselines(token_means: torch.Tensor, rollouts: int) -> torch.Tensor:
    """Per sample: the mean over the other rollouts of their per-token mean process reward (paper eq. 5)."""
    grouped = token_means.view(-1, rollouts)
    return ((grouped.sum(dim=1, keepdim=True) - grouped) / (rollouts - 1)).view(-1)


def last_token(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[batch, tokens]`` with ``values[i]`` at the last response token of row ``i`` (the outcome's place)."""
    lengths = mask.sum(dim=-1).long()
    out = torch.zeros(mask.shape, dtype=values.dtype, device=values.device)
    rows = torch.nonzero(lengths > 0).squeeze(-1)
    out[rows, lengths[rows] - 1] = values[rows]
    return out


def whiten(values: torch.Tensor, mask: torch.Tensor, mean: float, var: float) -> torch.Tensor:
    """``(values - mean) / sqrt(var)`` on the masked tokens, 0 elsewhere (veRL's ``masked_whiten``)."""
    return (values - mean) * torch.rsqrt(torch.tensor(var + 1e-8, device=values.device)) * mask


# --- TRL config and trainer ----------------------------------------------------------------------------


_DEFAULTS = {setting.name: setting for setting in fields(PrimeSettings)}


def _setting(name: str) -> Any:
    """A ``prime_NAME`` config field with :class:`PrimeSettings`' default and help (one place for both)."""
    setting = _DEFAULTS[name]
    return field(default=setting.default, metadata={"help": setting.metadata["help"]})


@dataclass
class PrimeConfig(GRPOConfig):
    """``GRPOConfig`` plus PRIME's settings; the defaults are the paper's / its released run script's."""

    prime_beta: float = _setting("beta")
    prime_lr: float = _setting("lr")
    prime_process_coef: float = _setting("process_coef")
    prime_outcome_coef: float = _setting("outcome_coef")
    prime_update: str = _setting("update")
    prime_reward_norm: str = _setting("reward_norm")
    prime_grad_clip: float = _setting("grad_clip")
    prime_filter_low: float = field(
        default=PRIME_FILTER[0], metadata={"help": "Keep prompts with accuracy > this."}
    )
    prime_filter_high: float = field(
        default=PRIME_FILTER[1], metadata={"help": "Keep prompts with accuracy < this."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[no-untyped-call]
        problems = []
        if (self.num_generations or 0) < 2:
            problems.append("PRIME's leave-one-out baselines need num_generations >= 2")
        if not 0.0 <= self.prime_filter_low < self.prime_filter_high <= 1.0:
            problems.append(
                f"the accuracy band ({self.prime_filter_low}, {self.prime_filter_high}) must satisfy "
                "0 <= low < high <= 1"
            )
        if self.prime_beta <= 0 or self.prime_lr <= 0 or self.prime_grad_clip <= 0:
            problems.append("prime_beta, prime_lr and prime_grad_clip must be positive")
        for name, allowed in PRIME_CHOICES.items():
            value = getattr(self, f"prime_{name}")
            if value not in allowed:
                problems.append(f"prime_{name} must be one of {allowed}, not {value!r}")
        if problems:
            raise ValueError("; ".join(problems))


class PrimeTrainer(GRPOTrainer):
    """GRPO's generation, grading and clipped loss with PRIME's filter, implicit PRM and advantages."""

    _tag_names = ["trl", "prime"]
    args: PrimeConfig

    def __init__(self, model: Any, reward_funcs: Any, args: PrimeConfig, **kwargs: Any) -> None:
        if not isinstance(args, PrimeConfig):
            raise TypeError("PrimeTrainer needs a PrimeConfig")
        super().__init__(model=model, reward_funcs=reward_funcs, args=args, **kwargs)
        if len(self.reward_funcs) != 1:
            raise ValueError("PRIME takes exactly one reward function: the outcome verifier (0/1)")
        source = model if isinstance(model, str) else get_config_model_id(model.config)
        init: dict[str, Any] = (
            dict(args.model_init_kwargs) if isinstance(args.model_init_kwargs, dict) else {}
        )
        self.rollouts = int(args.num_generations or 0)
        device = self.accelerator.device
        # pi_phi trains in fp32 (bf16 autocast in its forward on GPUs); pi_ref is frozen in the policy's dtype
        self.prm = create_model_from_path(source, **{**init, "dtype": torch.float32, "device_map": None}).to(
            device
        )
        self.prm_ref = create_model_from_path(source, **{**init, "device_map": None}).to(device)
        self.prm_ref.requires_grad_(False).eval()
        if args.disable_dropout:
            disable_dropout_in_model(self.prm)
            disable_dropout_in_model(self.prm_ref)
        if args.activation_checkpointing:
            self.prm.gradient_checkpointing_enable({"use_reentrant": False})
        self.prm.train()
        self.prm_optimizer = torch.optim.AdamW(self.prm.parameters(), lr=args.prime_lr, weight_decay=0.0)
        self._outcome: torch.Tensor | None = None

    # TRL hook: the grader's verdicts for every sample of the generation batch (all processes, in order)
    def _calculate_rewards(
        self, inputs: Any, prompts: Any, completions: Any, completion_ids_list: Any
    ) -> Any:
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._outcome = rewards[:, 0].clone()
        return rewards

    def _generate_and_score_completions(self, inputs: Any) -> dict[str, Any]:
        output: dict[str, Any] = super()._generate_and_score_completions(inputs)
        if not getattr(self.model, "training", False) or self._outcome is None:
            return output  # evaluation keeps GRPO's sequence-level advantages
        outcome, self._outcome = self._outcome, None
        return self._prime_batch(output, outcome)

    # --- one rollout batch ---------------------------------------------------------------------------

    def _local(self, values: torch.Tensor, count: int) -> torch.Tensor:
        start = self.accelerator.process_index * count
        return values[start : start + count]

    def _sum(self, *values: float) -> list[float]:
        """Sum scalars over all processes."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.accelerator.device)
        return [float(v) for v in self.accelerator.reduce(tensor, reduction="sum")]

    def _prime_batch(self, output: dict[str, Any], outcome: torch.Tensor) -> dict[str, Any]:
        args, rollouts = self.args, self.rollouts
        completion_mask = output["completion_mask"]
        count = completion_mask.size(0)
        keep_all = band_keep(outcome, rollouts, args.prime_filter_low, args.prime_filter_high)
        keep = self._local(keep_all, count).to(completion_mask.dtype)
        labels = torch.nan_to_num(self._local(outcome, count), nan=0.0)
        mask = completion_mask * keep.unsqueeze(1)
        kept = int(keep_all.sum())  # samples (whole prompts: all rollouts of a prompt share its verdict)
        metrics = self._metrics["train"]
        metrics["prime/kept_prompt_frac"].append(kept / max(keep_all.numel(), 1))
        if kept == 0:
            logger.warning(
                "PRIME: every prompt of this batch is outside the accuracy band; this step has no learning signal"
            )
            metrics["prime/prm_loss"].append(float("nan"))  # logged as None: no PRM update this step
            output.update(completion_mask=mask, advantages=torch.zeros_like(mask, dtype=torch.float32))
            output["num_items_in_batch"] = self.accelerator.reduce(mask.sum(), reduction="sum")
            return output

        input_ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
        attention = torch.cat([output["prompt_mask"], completion_mask], dim=1)
        rewards = self._update_prm(input_ids, attention, mask, labels, keep, kept)

        if args.prime_reward_norm == "batch_norm":
            local_max = reverse_cumsum(rewards).abs().max()
            largest = float(self.accelerator.gather(local_max.reshape(1)).max())
            rewards = reward_batch_norm(rewards, largest)
        lengths = mask.sum(dim=-1).clamp(min=1)
        token_means = self.accelerator.gather(rewards.sum(dim=-1) / lengths)
        process = (rewards - self._local(process_baselines(token_means, rollouts), count).unsqueeze(1)) * mask
        outcome_adv = self._local(leave_one_out(torch.nan_to_num(outcome, nan=0.0), rollouts), count)
        returns = reverse_cumsum(
            args.prime_process_coef * process + args.prime_outcome_coef * last_token(outcome_adv, mask)
        )
        returns = returns * mask
        total, square, n = self._sum(float(returns.sum()), float((returns**2).sum()), float(mask.sum()))
        mean = total / n
        var = (square / n - mean**2) * n / max(n - 1, 1)  # unbiased, as veRL's masked_whiten
        advantages = whiten(returns, mask, mean, var)

        metrics["prime/process_reward"].append(self._sum(float((rewards * mask).sum()))[0] / kept)
        output.update(completion_mask=mask, advantages=advantages)
        output["num_items_in_batch"] = self.accelerator.reduce(mask.sum(), reduction="sum")
        return output

    def _token_rewards(
        self, input_ids: torch.Tensor, attention: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        length = mask.size(1)
        with self.accelerator.autocast():
            prm_logps = sequence_token_logps(self.prm, input_ids, attention, length)
            with torch.no_grad():
                ref_logps = sequence_token_logps(self.prm_ref, input_ids, attention, length)
        return implicit_rewards(prm_logps, ref_logps, mask, self.args.prime_beta)

    def _update_prm(
        self,
        input_ids: torch.Tensor,
        attention: torch.Tensor,
        mask: torch.Tensor,
        labels: torch.Tensor,
        keep: torch.Tensor,
        kept: int,
    ) -> torch.Tensor:
        """One PRM optimizer step on the kept samples; returns the token rewards the advantages use."""
        args, micro = self.args, self.args.per_device_train_batch_size
        kept_samples = float(kept)
        self.prm.train()
        self.prm_optimizer.zero_grad(set_to_none=True)
        pieces, loss_sum, right = [], 0.0, 0.0
        for start in range(0, input_ids.size(0), micro):
            rows = slice(start, start + micro)
            if not bool(keep[rows].any()):  # nothing of this micro-batch is trained on or used
                pieces.append(torch.zeros(mask[rows].shape, device=mask.device))
                continue
            rewards = self._token_rewards(input_ids[rows], attention[rows], mask[rows])
            loss = prm_cross_entropy(rewards, labels[rows], keep[rows].float(), kept_samples)
            loss.backward()  # type: ignore[no-untyped-call]
            pieces.append(rewards.detach())
            loss_sum += float(loss.detach())
            predicted = (rewards.detach().sum(-1) > 0).float()
            right += float(((predicted == labels[rows]).float() * keep[rows]).sum())
        if self.accelerator.num_processes > 1:  # every process reduces every parameter, kept samples or not
            for param in self.prm.parameters():
                if param.grad is None:
                    param.grad = torch.zeros_like(param)
                dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.prm.parameters(), args.prime_grad_clip)
        self.prm_optimizer.step()
        self.prm_optimizer.zero_grad(set_to_none=True)
        loss_total, right_total = self._sum(loss_sum, right)
        metrics = self._metrics["train"]
        metrics["prime/prm_loss"].append(loss_total)
        metrics["prime/prm_accuracy"].append(right_total / kept_samples)
        metrics["prime/prm_grad_norm"].append(float(grad_norm))
        rewards = torch.cat(pieces)
        if args.prime_update == "before":  # score with the updated PRM (the reference code's double forward)
            with torch.no_grad():
                rewards = torch.cat(
                    [
                        self._token_rewards(
                            input_ids[s : s + micro], attention[s : s + micro], mask[s : s + micro]
                        )
                        for s in range(0, input_ids.size(0), micro)
                    ]
                )
        return rewards

    # --- checkpoints: the PRM and its optimizer travel with TRL's checkpoint-N folders -----------------
    # (the layout and the resume rules are skytrain.checkpoints'; these two hooks only fill and read it)

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        super()._save_checkpoint(model, trial)  # type: ignore[no-untyped-call]
        if not self.args.should_save:
            return
        folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
        self.prm.save_pretrained(folder / PRIME_PRM_DIR)
        if not self.args.save_only_model:  # as TRL's optimizer state: only in resumable checkpoints
            torch.save(self.prm_optimizer.state_dict(), folder / PRIME_PRM_OPTIMIZER)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)  # type: ignore[no-untyped-call]
        if checkpoint is None:
            return
        folder = Path(checkpoint)
        lacking = missing_state(folder, PRIME_STATE)
        if lacking:
            raise ValueError(
                f"{folder} holds no PRIME PRM state ({', '.join(lacking)} missing); cannot resume"
            )
        saved = create_model_from_path(str(folder / PRIME_PRM_DIR), dtype=torch.float32, device_map=None)
        self.prm.load_state_dict(saved.state_dict())
        state = torch.load(
            folder / PRIME_PRM_OPTIMIZER, map_location=self.accelerator.device, weights_only=True
        )
        self.prm_optimizer.load_state_dict(state)
