"""The caption model's settings: network shape, training and pruning schedules (one frozen
dataclass each, as the emotion and identity toolchains keep theirs). ``train.json`` and
``prune.json`` record them as the same dicts as before."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Tuple

from edgekit.captioning.conditioning import COND_DIM


@dataclass(frozen=True)
class ModelShape:
    """The GPT-2's widths (:class:`converters.caption.model.GPTConfig` less the vocabulary)."""

    n_cond: int = COND_DIM
    n_ctx: int = 56
    d_model: int = 160
    head_dim: int = 40
    heads: Tuple[int, ...] = (4, 4, 4, 4)
    mlp: Tuple[int, ...] = (640, 640, 640, 640)
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Schedule:
    """One training run of :func:`converters.caption.train.train`: steps, batch, peak learning rate,
    warm-up steps, wall-clock budget, and how often the held-out perplexity is measured."""

    steps: int
    batch: int
    lr: float
    warmup: int
    time_budget_s: float
    eval_every: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CaptionConfig:
    seed: int = 0
    model: ModelShape = field(default_factory=ModelShape)
    #: 45 min wall clock; held-out perplexity every 100 steps (one evaluation costs about 7 training steps) and the
    #: weights of the lowest one are kept (the 6,400-line model was best at step 1,000 of 2,488, then over-fitted).
    train: Schedule = Schedule(steps=3000, batch=64, lr=2e-3, warmup=100, time_budget_s=45 * 60, eval_every=100)
    prune_fraction: float = 0.30
    finetune: Schedule = Schedule(steps=400, batch=64, lr=5e-4, warmup=20, time_budget_s=150, eval_every=100)


#: The settings of the shipped caption model.
CONFIG = CaptionConfig()
