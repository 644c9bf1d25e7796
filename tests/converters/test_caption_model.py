"""Tiny caption GPT: train a few steps, prune, export with the KV cache, decode through the runtime."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("converters.core.tfenv", reason="needs the [train] extra (TensorFlow)").tf
pytestmark = pytest.mark.train  # every test uses the `tiny` model trained for a few steps

from converters.caption import prune as pr  # noqa: E402
from converters.caption.templates import generate  # noqa: E402
from converters.caption.data import conditions, encode_entries, split_xy  # noqa: E402
from converters.caption.export import export_tflite  # noqa: E402
from converters.caption.model import GPT, GPTConfig, init_weights  # noqa: E402
from converters.caption.tokenizer_train import train_tokenizer  # noqa: E402
from converters.caption import train as train_module  # noqa: E402
from converters.caption.train import BestWeights, mean_nll, train  # noqa: E402
from edgekit.captioning import Captioner  # noqa: E402
from edgekit.captioning.conditioning import COND_DIM, condition  # noqa: E402
from edgekit.captioning.decoder import KVCacheDecoder  # noqa: E402
from edgekit.captioning.tokenizer import EOS  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny model (2 layers with 2 and 3 heads) trained for 5 steps, exported float and INT8."""
    entries = generate(per_cell=1)
    tok = train_tokenizer([e.text for e in entries])
    cfg = GPTConfig(vocab_size=tok.vocab_size, n_ctx=36, d_model=32, head_dim=8, heads=(2, 3), mlp=(48, 32),
                    dropout=0.0,
                    n_cond=COND_DIM)
    model = GPT(cfg, init_weights(cfg, seed=1))
    rows, cond = encode_entries(tok, entries[::10], cfg.n_ctx), conditions(entries[::10])
    history = train(model, rows, cond, steps=5, batch=16, lr=1e-2, warmup=1)
    out = tmp_path_factory.mktemp("tiny")
    tok.save(out / "tok.json")
    weights = model.numpy_weights()
    return {"tok": tok, "cfg": cfg, "model": model, "rows": rows, "cond": cond, "history": history, "dir": out,
            "float": export_tflite(cfg, weights, out / "float.tflite", int8=False),
            "int8": export_tflite(cfg, weights, out / "int8.tflite", int8=True)}


def _tf_greedy(model: GPT, prompt, cond, banned, steps: int):
    """Greedy decode re-running the full prefix through the TF model at every step."""
    ids = list(prompt)
    out = []
    for _ in range(steps):
        logits = model(np.array([ids], np.int32), cond).numpy()[0, -1].astype(np.float64)
        logits[banned if out else banned | (np.arange(logits.size) == EOS)] = -np.inf
        t = int(np.argmax(logits))
        if t == EOS:
            break
        out.append(t)
        ids.append(t)
    return out


def test_training_reduces_loss(tiny):
    assert tiny["history"][-1]["step"] == 5
    assert np.isfinite(tiny["history"][-1]["loss"])


def test_training_restores_the_weights_of_the_best_evaluation(tiny, monkeypatch):
    """Held-out perplexity faked as 9, 4, 6, 5 at steps 50..200: the weights of step 100 come back."""
    seen, fake = [], iter([9.0, 4.0, 6.0, 5.0])

    def perplexity(model, rows, cond):
        seen.append(model.numpy_weights())
        return next(fake)

    monkeypatch.setattr(train_module, "perplexity", perplexity)
    model = GPT(tiny["cfg"], init_weights(tiny["cfg"], seed=2))
    best = BestWeights(model)
    history = train(model, tiny["rows"], tiny["cond"], steps=200, batch=16, lr=1e-2, warmup=1,
                    eval_rows=(tiny["rows"], tiny["cond"]), eval_every=50, best=best)
    assert [h["heldout_ppl"] for h in history if "heldout_ppl" in h] == [9.0, 4.0, 6.0, 5.0]
    assert best.record() == {"step": 100, "heldout_ppl": 4.0}
    final = model.numpy_weights()
    assert any(not np.array_equal(seen[1][k], seen[3][k]) for k in final)  # training went on after step 100
    assert all(np.array_equal(final[k], seen[1][k]) for k in final)


def test_mean_nll_on_length_sorted_trimmed_batches_equals_the_padded_rows(tiny):
    rows, cond = tiny["rows"], tiny["cond"]
    assert (rows[:, -1] == 0).all()  # every row has padding to trim
    x, y, m = split_xy(rows)
    total, count = train_module._loss(tiny["model"], x, cond, y, m, False)
    assert abs(mean_nll(tiny["model"], rows, cond, batch=7) - float(total) / float(count)) < 1e-5


def test_kv_cache_runtime_matches_full_prefix_tf(tiny):
    cap = Captioner(tiny["float"], tiny["dir"] / "tok.json", temperature=0.0, repetition_penalty=1.0, max_new_tokens=20,
                    no_repeat_ngram=0, source="model")  # the plain greedy decode the TF reference does
    for lang, emotion, style, scene in (("zh", "happiness", "anime", "party"), ("en", "fear", "retro", None)):
        prompt, cond = cap.tokenizer.prompt(lang, emotion, style, scene), condition(lang, emotion, style, scene)
        runtime, _ = cap._sample(np.random.default_rng(0), prompt, cond)
        reference = _tf_greedy(tiny["model"], prompt, cond, cap._banned, 20)
        assert runtime == reference and len(runtime) > 0


def test_kv_cache_logits_match_tf_and_int8_is_close(tiny):
    tok, model = tiny["tok"], tiny["model"]
    seq = tok.prompt("zh", "sadness", "poetic", "rain") + tok.encode("下雨天，心里下了一场雨。")
    cond = condition("zh", {"sadness": 0.7, "fear": 0.3}, "poetic", "rain")
    full = model(np.array([seq], np.int32), cond).numpy()[0]
    for key, atol in (("float", 1e-4), ("int8", 0.15)):
        dec = KVCacheDecoder(tiny[key])
        assert dec.n_ctx == 36 and dec.cache_shapes == [(1, 2, 36, 8), (1, 3, 36, 8)] and dec.cond_dim == COND_DIM
        dec.reset(cond)
        got = np.stack([dec.step(t) for t in seq])
        np.testing.assert_allclose(got, full, atol=atol)


def test_pruning_really_removes_structure_and_equals_masking(tiny):
    cfg, model, rows, cond = tiny["cfg"], tiny["model"], tiny["rows"][:32], tiny["cond"][:32]
    weights = model.numpy_weights()
    importance = pr.head_importance(model, rows, cond)
    assert [len(d) for d in importance] == [2, 3]
    keep_heads, keep_units = pr.plan(cfg, weights, importance, 0.3)
    assert sum(len(h) for h in keep_heads) == 5 - 2 and all(len(h) >= 1 for h in keep_heads)
    new_cfg, new_w = pr.apply(cfg, weights, keep_heads, keep_units)
    assert new_cfg.mlp == (34, 22) and new_w["h1_w1"].shape == (32, 22)
    # The pruned model equals the dense one with those heads masked and those units' outputs zeroed.
    zeroed = dict(weights)
    for l, units in enumerate(keep_units):
        mask = np.zeros(cfg.mlp[l], np.float32)
        mask[units] = 1
        zeroed[f"h{l}_w2"] = weights[f"h{l}_w2"] * mask[:, None]
    head_mask = [np.isin(np.arange(h), keep).astype(np.float32) for h, keep in zip(cfg.heads, keep_heads)]
    dense = mean_nll(GPT(cfg, zeroed), rows, cond, head_mask=head_mask)
    assert abs(mean_nll(GPT(new_cfg, new_w), rows, cond) - dense) < 1e-4


def test_latency_times_every_caption_and_every_decode_step(tiny):
    from converters.caption.evaluate import latency

    tiny["tok"].save(tiny["dir"] / "tok.json")
    got = latency(tiny["dir"] / "int8.tflite", tiny["dir"] / "tok.json", calls=3, seed=0)
    assert got["calls"] == 3 and got["threads"] == 1
    assert 0 < got["invoke_ms_p50"] <= got["caption_ms_p50"] <= got["caption_ms_p95"]
