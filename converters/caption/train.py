"""Train (and fine-tune) the caption GPT with a masked next-token loss; held-out perplexity; keep the best weights."""
from __future__ import annotations

import math
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from converters.core.tfenv import keras, tf
from edgekit.captioning.tokenizer import PAD

from .data import augment, split_xy
from .model import GPT


def limit_threads(n: int = 1, seed: int = 0) -> None:
    """Pin TensorFlow to ``n`` intra-op and inter-op threads (must run before any op) and seed its RNG."""
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)
    tf.random.set_seed(seed)


def _loss(model: GPT, x, c, y, m, training: bool, head_mask=None):
    logits = model(x, c, training=training, head_mask=head_mask)
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    return tf.reduce_sum(nll * m), tf.reduce_sum(m)


def mean_nll(model: GPT, rows: np.ndarray, cond: np.ndarray, batch: int = 512, head_mask=None) -> float:
    """Mean negative log-likelihood per caption token (nats) over ``rows`` with conditions ``cond``.

    Rows are batched by length and each batch is cut to its longest row (attention is causal, so the
    padding after a row never changes its loss): the same number, several times faster."""
    x, y, m = split_xy(rows)
    lengths = (rows != PAD).sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    total, count = 0.0, 0.0
    for i in range(0, len(x), batch):
        idx = order[i:i + batch]
        T = max(1, int(lengths[idx].max()) - 1)
        s, n = _loss(model, x[idx, :T], cond[idx], y[idx, :T], m[idx, :T], False, head_mask)
        total, count = total + float(s), count + float(n)
    return total / max(count, 1.0)


def perplexity(model: GPT, rows: np.ndarray, cond: np.ndarray) -> float:
    return math.exp(mean_nll(model, rows, cond))


class BestWeights:
    """A copy of the model's weights at the evaluation with the lowest held-out perplexity so far."""

    def __init__(self, model: GPT) -> None:
        self.model, self.step, self.ppl = model, None, math.inf
        self._weights: Optional[Dict[str, np.ndarray]] = None

    def offer(self, step: int, ppl: float) -> bool:
        """Copy the current weights when ``ppl`` is the lowest so far (NaN never is); True when copied."""
        if not ppl < self.ppl:
            return False
        self.step, self.ppl, self._weights = step, ppl, self.model.numpy_weights()
        return True

    def restore(self) -> None:
        """Put the copied weights back into the model (nothing to do before the first offer)."""
        for name, value in (self._weights or {}).items():
            self.model.w[name].assign(value)

    def record(self) -> Dict[str, Optional[float]]:
        return {"step": self.step, "heldout_ppl": self.ppl if self._weights is not None else None}


def train(model: GPT, rows: np.ndarray, cond: np.ndarray, steps: int, batch: int = 64, lr: float = 2e-3,
          warmup: int = 100, seed: int = 0, log: Optional[Callable[[str], None]] = None,
          eval_rows: Optional[Tuple[np.ndarray, np.ndarray]] = None, eval_every: int = 500,
          time_budget_s: Optional[float] = None, best: Optional[BestWeights] = None) -> List[Dict[str, float]]:
    """Adam with warmup + cosine decay and gradient clipping; returns the loss history.

    With ``time_budget_s`` the step count is re-planned every 20 steps from the measured step
    time (the machine is shared; evaluation time is left out of it and budgeted apart) so the cosine
    schedule ends within the budget. Batches are trimmed to their longest row. With ``best`` (and
    ``eval_rows``) every evaluation is offered to it and its weights are restored at the end.
    """
    rng = np.random.default_rng(seed)
    x_all, y_all, m_all = split_xy(rows)
    lengths = (rows != 0).sum(axis=1)
    opt = keras.optimizers.Adam(learning_rate=lr, clipnorm=1.0)
    variables = model.variables_list

    @tf.function(reduce_retracing=True)
    def step(x, c, y, m):
        with tf.GradientTape() as tape:
            s, n = _loss(model, x, c, y, m, True)
            loss = s / n
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    history, order, cursor, t0, run = [], rng.permutation(len(x_all)), 0, time.time(), []
    i, max_steps, t_plan, eval_s = 0, steps, t0, 0.0
    while i < steps:
        i += 1
        if time_budget_s and i > 30 and i % 20 == 11:  # re-plan from the last 20 steps' speed
            per_step = (time.time() - t_plan) / 20
            step_cost = per_step + (eval_s / eval_every if eval_rows is not None else 0.0)
            steps = max(i, min(max_steps, int(i + (time_budget_s - (time.time() - t0)) / step_cost)))
            if log and i % 100 == 11:
                log(f"planned {steps} steps at {per_step:.2f} s/step")
        if i % 20 == 11:
            t_plan = time.time()
        if cursor + batch > len(order):
            order, cursor = rng.permutation(len(x_all)), 0
        idx = order[cursor:cursor + batch]
        cursor += batch
        T = int(lengths[idx].max()) - 1
        frac = min(1.0, i / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0,
                                                                        max(0, i - warmup) / max(1, steps - warmup))))
        opt.learning_rate.assign(lr * max(frac, 0.02))
        x, c = augment(x_all[idx, :T], cond[idx], rng)
        run.append(float(step(x, c, y_all[idx, :T], m_all[idx, :T])))
        if i % 50 == 0 or i == steps:
            rec = {"step": i, "loss": float(np.mean(run)), "elapsed_s": round(time.time() - t0, 1)}
            run = []
            if eval_rows is not None and (i % eval_every == 0 or i == steps):
                t_eval = time.time()
                rec["heldout_ppl"] = perplexity(model, *eval_rows)
                eval_s = time.time() - t_eval
                t_plan += eval_s  # the step-time window leaves the evaluation out
                if best is not None:
                    best.offer(i, rec["heldout_ppl"])
            history.append(rec)
            if log:
                log(str(rec))
    if best is not None:
        best.restore()
        if log and best.step is not None:
            log(f"restored the weights of step {best.step} (held-out ppl {best.ppl:.3f})")
    return history
