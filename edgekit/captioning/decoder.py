"""Runs the caption model's ``decode`` signature with LiteRT: one token per invoke over a KV cache."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..errors import ModelError
from ..litert import make_interpreter

SIGNATURE = "decode"
#: Prompts whose key/value caches are kept (a prompt is only ever run once per entry).
PREFIX_CACHE_SIZE = 32


class KVCacheDecoder:
    """Holds the interpreter and the per-layer key/value caches of one sequence.

    The cache shapes (heads per layer, context length, head size) are read from the model, so
    pruned models with different head counts per layer load the same way.
    """

    def __init__(self, model: Any, num_threads: int = 1) -> None:
        """``model``: a ``.tflite`` path or a checked :class:`edgekit.registry.ModelFile`."""
        self.path = model_path = getattr(model, "path", model)
        self.interpreter = make_interpreter(model, num_threads)
        try:
            runner = self.interpreter.get_signature_runner(SIGNATURE)
        except ValueError as exc:
            raise ModelError(f"no {SIGNATURE!r} signature ({exc})", subject=model_path,
                             hint="export the caption model with `python -m converters.caption export`") from None
        ins, outs = runner.get_input_details(), runner.get_output_details()
        self.n_layers = sum(1 for name in ins if name.startswith("k_cache_"))
        needed_in = {"token", "pos", "cond"} | {f"{kv}_cache_{l}" for l in range(self.n_layers) for kv in "kv"}
        needed_out = {"logits"} | {f"{kv}_{l}" for l in range(self.n_layers) for kv in "kv"}
        if self.n_layers == 0 or set(ins) != needed_in or set(outs) != needed_out:
            raise ModelError(f"unexpected decode signature (inputs {sorted(ins)}, outputs {sorted(outs)})",
                             subject=model_path)
        self._in: Dict[str, int] = {k: int(v["index"]) for k, v in ins.items()}
        self._out: Dict[str, int] = {k: int(v["index"]) for k, v in outs.items()}
        self.cache_shapes = [tuple(int(d) for d in ins[f"k_cache_{l}"]["shape"]) for l in range(self.n_layers)]
        self.n_ctx = self.cache_shapes[0][2]
        self.vocab_size = int(outs["logits"]["shape"][-1])
        self.cond_dim = int(ins["cond"]["shape"][-1])
        self._cond = np.zeros((1, self.cond_dim), np.float32)
        self._caches: List[np.ndarray] = []
        self._prefixes: "OrderedDict[tuple, tuple]" = OrderedDict()
        self.pos = 0
        self.reset()

    def reset(self, cond: Optional[np.ndarray] = None) -> None:
        """Start a new sequence with condition vector ``cond`` ``[1, cond_dim]`` (default: unchanged).

        Cache contents beyond ``pos`` are masked by the model, so they need no clearing."""
        if cond is not None:
            cond = np.asarray(cond, np.float32).reshape(1, -1)
            if cond.shape[1] != self.cond_dim:
                raise ModelError(f"condition vector has {cond.shape[1]} values, the model expects {self.cond_dim}",
                                 subject=self.path)
            self._cond = cond
        if not self._caches:
            self._caches = [np.zeros(shape, np.float32) for shape in self.cache_shapes for _ in "kv"]
        self.pos = 0

    def step(self, token: int) -> np.ndarray:
        """Feed ``token`` at the next position; return the logits ``[V]`` of the token after it."""
        if self.pos >= self.n_ctx:
            raise ModelError(f"sequence longer than the model context ({self.n_ctx} tokens)", subject=self.path)
        it = self.interpreter
        it.set_tensor(self._in["token"], np.array([token], np.int32))
        it.set_tensor(self._in["pos"], np.array([self.pos], np.int32))
        it.set_tensor(self._in["cond"], self._cond)
        for l in range(self.n_layers):
            it.set_tensor(self._in[f"k_cache_{l}"], self._caches[2 * l])
            it.set_tensor(self._in[f"v_cache_{l}"], self._caches[2 * l + 1])
        it.invoke()
        for l in range(self.n_layers):
            self._caches[2 * l][0, :, self.pos] = it.get_tensor(self._out[f"k_{l}"])[0]
            self._caches[2 * l + 1][0, :, self.pos] = it.get_tensor(self._out[f"v_{l}"])[0]
        self.pos += 1
        return it.get_tensor(self._out["logits"])[0]

    def prefill(self, tokens: Sequence[int], cond: np.ndarray) -> np.ndarray:
        """Reset with condition ``cond``, feed a prompt; return the logits after its last token.

        The caches after a prompt are kept (LRU, :data:`PREFIX_CACHE_SIZE` prompts), so a repeated
        prompt costs a copy instead of ``len(tokens)`` invokes.
        """
        cond = np.asarray(cond, np.float32).reshape(1, -1)
        key = (tuple(int(t) for t in tokens), cond.tobytes())
        hit = self._prefixes.get(key)
        self.reset(cond)
        if hit is not None:
            self._prefixes.move_to_end(key)
            for dst, src in zip(self._caches, hit[0]):
                np.copyto(dst, src)
            self.pos = len(key[0])
            return hit[1].copy()
        logits = None
        for t in key[0]:
            logits = self.step(t)
        self._prefixes[key] = ([c.copy() for c in self._caches], logits.copy())
        if len(self._prefixes) > PREFIX_CACHE_SIZE:
            self._prefixes.popitem(last=False)
        return logits

    def score(self, tokens: Sequence[int], start: int, cond: np.ndarray) -> List[float]:
        """Log-probabilities of ``tokens[i]`` for ``i >= start`` given the tokens before it."""
        self.reset(cond)
        out = []
        for i in range(len(tokens) - 1):
            logits = self.step(int(tokens[i]))
            if i + 1 >= start:
                z = logits.astype(np.float64) - logits.max()
                out.append(float(z[tokens[i + 1]] - np.log(np.exp(z).sum())))
        return out
