"""``python -m skytrain.openrlhf_entry --max-steps S -- ARGS``: OpenRLHF's RL run (``train_ppo_ray ARGS``), stopped
after S steps.

Used only where the data cannot bound the run: ``--max-steps`` with accuracy-band filtering (``--algo prime``).
The arguments are parsed and checked by OpenRLHF's own ``__main__`` code (as in ``--dry-run``), then OpenRLHF's
``train(args)`` runs with its ``PPOTrainer`` Ray actor class replaced by the same class with
:class:`skytrain.stepbound.StepBound` in front. That replacement is a module attribute of OpenRLHF set in this
launcher process only, because ``train`` imports the class by name when it runs; nothing of OpenRLHF is copied.
Needs a GPU machine with OpenRLHF, vLLM and DeepSpeed installed.
"""

from __future__ import annotations

import sys

USAGE = "usage: python -m skytrain.openrlhf_entry --max-steps S -- TRAIN_PPO_RAY_ARGS..."


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] != "--max-steps" or not args[1].isdigit() or args[2] != "--":
        raise SystemExit(USAGE)
    from skyeval.errors import SkyevalError
    from skytrain.openrlhf_parser import parse_openrlhf
    from skytrain.stepbound import bounded

    try:
        parsed, notes = parse_openrlhf("train_ppo_ray", args[3:])
    except SkyevalError as err:
        raise SystemExit(f"error: {err}") from None
    for note in notes:
        print(note)
    if parsed.train.async_enable:
        raise SystemExit(
            "error: --max-steps bounds OpenRLHF's synchronous trainer; drop --train.async_enable"
        )
    parsed.skytrain_max_steps = int(args[1])

    import openrlhf.trainer.ppo_trainer as ppo_trainer
    import ray
    from openrlhf.cli.train_ppo_ray import train

    original = ppo_trainer.PPOTrainer.__ray_actor_class__  # the class under OpenRLHF's @ray.remote
    ppo_trainer.PPOTrainer = ray.remote(bounded(original))
    train(parsed)


if __name__ == "__main__":
    main()
