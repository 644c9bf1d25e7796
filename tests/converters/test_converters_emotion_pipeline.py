"""End to end on tiny generated data sets: train -> prune -> QAT/PTQ -> export -> evaluate -> ship."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the toolchain needs the [train] extra")
pytest.importorskip("tensorflow_model_optimization", reason="the toolchain needs the [train] extra")

from converters.emotion import data, export, synthetic  # noqa: E402
from converters.emotion.config import TrainConfig  # noqa: E402
from converters.emotion.evaluate import TFLiteRunner, agreement, runtime_inputs  # noqa: E402
from converters.emotion.pipeline import PipelineConfig, run_all  # noqa: E402


def _tiny_config(tmp: Path, data_path: Path) -> PipelineConfig:
    models = tmp / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"schema": 1, "models": {}, "external": {}}))
    train = TrainConfig(data=str(data_path), alpha=0.5, depth=4, input_size=32, epochs=2, batch_size=16, lr=3e-3,
                        warmup_epochs=0.5)
    return PipelineConfig(out=str(tmp / "runs"), train=train, finetune_epochs=1, finetune_distill=0.5, qat_epochs=1,
                          calibration_count=32,
                          models_dir=str(models), report_dir=str(tmp / "report"), produced_by="pytest")


@pytest.fixture(scope="module")
def ferplus_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("emotion_e2e")
    root = synthetic.write_ferplus(tmp / "ferplus", per_class=6)
    cfg = _tiny_config(tmp, root)
    names = data.load_splits(root, progress=False)[0].names
    probs = np.random.default_rng(0).dirichlet(np.ones(len(data.EMOTIONS)), len(names)).astype(np.float32)
    np.savez(tmp / "teacher_labels.npz", names=np.array(names), probs=probs)
    cfg.teacher_labels, cfg.teacher_weight = str(tmp / "teacher_labels.npz"), 0.3
    return cfg, run_all(cfg)


@pytest.mark.train
def test_end_to_end_report_and_ship(ferplus_run):
    cfg, report = ferplus_run
    results = report["results"]
    for name in ("float_keras", "pruned_keras", "float_fp32", "float_int8_ptq", "pruned_fp32", "pruned_int8_ptq",
                 "pruned_int8_qat"):
        assert 0.0 <= results[name]["accuracy"] <= 1.0 and results[name]["n"] == 48
    assert 0.25 <= report["pruning"]["removed_fraction"] <= 0.35
    assert results["pruned_keras"]["params"] < results["float_keras"]["params"]
    assert results["pruned_int8_ptq"]["file_bytes"] < results["pruned_fp32"]["file_bytes"]
    finetune = json.loads((Path(cfg.out) / "pruned" / "config.json").read_text())
    assert finetune["distill_from"] == str(Path(cfg.out) / "float" / "model.h5") and finetune["distill_weight"] == 0.5
    stages = {s: json.loads((Path(cfg.out) / s / "config.json").read_text()) for s in ("float", "pruned", "qat")}
    assert stages["float"]["teacher_labels"] is None  # the teacher's labels only reach the stages after the float model
    assert all(stages[s]["teacher_labels"] == cfg.teacher_labels and stages[s]["teacher_weight"] == 0.3
               for s in ("pruned", "qat"))
    assert report["teacher"]["weight"] == 0.3
    assert "out-of-fold probabilities" in (Path(cfg.report_dir) / "README.md").read_text()
    # Shipped through the manifest, checked through the runtime and MediaPipe.
    manifest = json.loads((Path(cfg.models_dir) / "manifest.json").read_text())
    entry = manifest["models"]["emotion"]
    assert entry["labels"] == list(data.EMOTIONS) and entry["produced_by"] == "pytest"
    assert entry["input"]["dtype"] == "uint8" and entry["input"]["height"] == 32
    shipped = report["shipped"]
    # The toolchain scores the runtime's own pixels, so both paths give the same answers.
    assert shipped["runtime_path"]["top1_agreement_with_toolchain"] == 1.0
    assert shipped["runtime_path"]["accuracy"] == results[shipped["variant"]]["accuracy"]
    assert all(0.0 <= results[n]["noise_flip_rate"] <= 1.0 for n in ("float_fp32", "pruned_int8_ptq",
                                                                     "pruned_int8_qat"))
    # Same uint8 output through both stacks (a nearly untrained model has ties, so compare scores).
    assert shipped["mediapipe_image_classifier"]["max_abs_prob_diff"] <= 2.0 / 256
    report_dir = Path(cfg.report_dir)
    assert (report_dir / "README.md").is_file() and (report_dir / "configs" / "float.json").is_file()
    assert len(list(report_dir.glob("confusion_*.png"))) == 3
    assert json.loads((report_dir / "report.json").read_text())["targets"]["file_bytes"]["met"] is True


@pytest.mark.train
def test_a_run_continues_an_earlier_runs_pruned_model(ferplus_run, tmp_path):
    """continue_from: the earlier float model is reused, its pruned model is fine-tuned again with
    the same pruning plan, and the report names the earlier run."""
    from dataclasses import replace

    from converters.core.keras_io import load_model

    earlier, _ = ferplus_run
    assert "learned from the votes alone" in (Path(earlier.report_dir) / "README.md").read_text()
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"schema": 1, "models": {}, "external": {}}))
    cfg = replace(earlier, out=str(tmp_path / "runs"), continue_from=earlier.out, models_dir=str(models),
                  report_dir=str(tmp_path / "report"))
    report = run_all(cfg)
    assert not (tmp_path / "runs" / "float").exists()
    before = load_model(Path(earlier.out) / "pruned" / "model.h5")
    after = load_model(tmp_path / "runs" / "pruned" / "model.h5")
    assert [w.shape for w in before.get_weights()] == [w.shape for w in after.get_weights()]
    assert any(not np.array_equal(a, b) for a, b in zip(before.get_weights(), after.get_weights()))
    assert report["pruning"] == json.loads((Path(earlier.out) / "pruned" / "pruning_plan.json").read_text())
    assert report["continued_from"]["run"] == earlier.out
    assert report["continued_from"]["training"]["pruned"]["epochs"] == earlier.finetune_epochs
    assert report["training"]["float"]["epochs"] == earlier.train.epochs
    assert f"continued from `{earlier.out}`" in (tmp_path / "report" / "README.md").read_text()
    # a run that continues the continued run still finds the float model two runs back
    again = replace(cfg, out=str(tmp_path / "runs2"), continue_from=cfg.out)
    from converters.emotion.config import stage_dir
    from converters.emotion.pipeline import stage_train

    assert stage_train(again, data=None) == Path(earlier.out) / "float" / "model.h5"
    assert stage_dir(again, "float") == Path(earlier.out) / "float"


@pytest.mark.train
def test_a_continued_run_must_match_the_earlier_runs_shape_and_folder(ferplus_run, tmp_path):
    from dataclasses import replace

    from converters.emotion.pipeline import stage_train
    from edgekit.errors import ConfigError

    earlier, _ = ferplus_run
    with pytest.raises(ConfigError, match="same folder"):
        stage_train(replace(earlier, continue_from=earlier.out), data=None)
    wider = replace(earlier, out=str(tmp_path / "wider"), continue_from=earlier.out,
                    train=replace(earlier.train, input_size=64))
    with pytest.raises(ConfigError, match="train.input_size 32 there, 64 here"):
        stage_train(wider, data=None)


@pytest.mark.train
def test_continuing_a_missing_run_names_the_folder(tmp_path):
    from converters.emotion.pipeline import stage_train
    from edgekit.errors import ConfigError

    cfg = PipelineConfig(out=str(tmp_path / "new"), continue_from=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="nowhere"):
        stage_train(cfg, data=None)
    # a run that was started but never wrote its float model
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "pipeline_config.json").write_text(json.dumps(PipelineConfig(out=str(partial)).to_dict()))
    cfg = PipelineConfig(out=str(tmp_path / "new2"), continue_from=str(partial))
    with pytest.raises(ConfigError, match=r"partial/float/model\.h5 not found"):
        stage_train(cfg, data=None)


@pytest.mark.slow
def test_int8_agrees_with_float_on_same_inputs():
    """PTQ INT8 vs float32 .tflite of the same (non-trivial) network on the same faces."""
    from converters.core import quantize
    from converters.core.mobilenet import build_model, mobilenet_v3_spec
    from converters.core.tfenv import keras

    model = build_model(mobilenet_v3_spec("small", alpha=0.5, input_size=32, depth=4))
    rng = np.random.default_rng(0)
    faces = np.stack([synthetic.synthetic_face(i % 8, rng) for i in range(96)])
    rgb = runtime_inputs(faces, 32).astype(np.float32)
    for layer in model.layers:  # BN statistics of real activations (momentum 0: one pass sets them)
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model(rgb, training=True)
    logits = model.get_layer("logits")
    logits.set_weights([w * 8.0 for w in logits.get_weights()])
    calib, test = faces[:64], faces[64:]
    rep = quantize.representative_dataset(calib, 32, count=64)
    fp32 = TFLiteRunner(quantize.to_tflite(model, int8=False)).predict(test)
    int8 = TFLiteRunner(quantize.to_tflite(model, rep, int8=True)).predict(test)
    keras_probs = model.predict(rgb[64:], verbose=0)
    # float .tflite == Keras on the same pixels
    assert np.abs(fp32 - keras_probs).max() < 1e-3 and agreement(fp32, keras_probs) == 1.0
    assert fp32.max(axis=1).mean() > 0.3  # outputs are not uniform, so agreement means something
    assert np.abs(int8 - fp32).mean() < 0.03
    assert agreement(int8, fp32) >= 0.8


@pytest.mark.train
def test_metadata_round_trip(ferplus_run):
    cfg, _ = ferplus_run
    model = (Path(cfg.out) / "tflite" / "pruned_int8_qat.tflite").read_bytes()
    assert export.read_labels(model) == list(data.EMOTIONS)
    meta = json.loads((Path(cfg.out) / "tflite" / "pruned_int8_qat.metadata.json").read_text())
    tensor = meta["subgraph_metadata"][0]["input_tensor_metadata"][0]
    assert tensor["content"]["content_properties"]["color_space"] == "RGB"
    runner = TFLiteRunner(model)
    assert runner.inp["dtype"] == np.uint8 and tuple(runner.inp["quantization"]) == (1.0, 0)
    assert runner.out["shape"].tolist() == [1, 8]


@pytest.mark.train
def test_training_resumes_from_checkpoint(tmp_path):
    from converters.emotion.train import train

    root = synthetic.write_fer2013_csv(tmp_path / "fer2013.csv", per_class=4)
    cfg = TrainConfig(data=str(root), out=str(tmp_path / "run"), alpha=0.5, depth=2, input_size=32, epochs=1,
                      batch_size=8)
    train(cfg, verbose=0)
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["epoch"] == 1 and (tmp_path / "run" / "model.h5").is_file()
    cfg.epochs = 2
    train(cfg, verbose=0)
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["epoch"] == 2 and [h["epoch"] for h in state["history"]] == [1, 2]
    assert (tmp_path / "run" / "tb").is_dir()


@pytest.mark.train
def test_training_runs_under_a_tf_distribute_strategy(tmp_path, monkeypatch):
    from converters.emotion import train as train_mod
    from converters.core.tfenv import tf

    used = []
    make = train_mod.make_strategy
    monkeypatch.setattr(train_mod, "make_strategy", lambda name: used.append(make(name)) or used[-1])
    root = synthetic.write_fer2013_csv(tmp_path / "fer2013.csv", per_class=4)
    cfg = TrainConfig(data=str(root), out=str(tmp_path / "run"), alpha=0.5, depth=2, input_size=32, epochs=1,
                      batch_size=8,
                      strategy="mirrored")
    train_mod.train(cfg, verbose=0)
    assert isinstance(used[0], tf.distribute.MirroredStrategy)  # on CPU: one replica, TensorFlow's own code path
    assert json.loads((tmp_path / "run" / "state.json").read_text())["epoch"] == 1
    model = train_mod.load_model(tmp_path / "run" / "model.h5")
    assert model.output_shape == (None, len(data.EMOTIONS))


def test_distillation_mixes_the_teachers_probabilities_into_each_batch_target():
    from converters.emotion.train import with_teacher_targets
    from converters.core.tfenv import keras, tf

    inp = keras.Input((4, 4, 3))
    probs = keras.layers.Dense(8, activation="softmax")(keras.layers.Flatten()(inp))
    teacher = keras.Model(inp, probs)
    x = np.random.default_rng(0).uniform(0, 255, (6, 4, 4, 3)).astype(np.float32)
    y = np.eye(8, dtype=np.float32)[[0, 1, 2, 3, 4, 5]]
    w = np.arange(6, dtype=np.float32)
    ds = with_teacher_targets(tf.data.Dataset.from_tensor_slices((x, y, w)).batch(3), teacher, 0.25)
    got_x, got_y, got_w = (np.concatenate(parts) for parts in zip(*[[t.numpy() for t in b] for b in ds]))
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_w, w)
    np.testing.assert_allclose(got_y, 0.25 * teacher(x).numpy() + 0.75 * y, atol=1e-6)
    np.testing.assert_allclose(got_y.sum(axis=1), 1.0, atol=1e-5)
    assert not teacher.trainable


def test_dead_relu_layer_is_named_when_xnnpack_refuses_the_int8_graph():
    """A conv whose ReLU never fires gets the converter's minimal output range; XNNPACK refuses the
    INT8 graph (requantization scale >= 256) and the report's diagnostic names that conv."""
    from converters.core import quantize
    from converters.core.tfenv import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="alive")(inputs)
    x = keras.layers.Conv2D(4, 1, activation="relu", name="dead",  # pre-activation always < 0
                            kernel_initializer=keras.initializers.Constant(0.01),
                            bias_initializer=keras.initializers.Constant(-1000.0))(x)
    x = keras.layers.Conv2D(8, 1, name="after", bias_initializer=keras.initializers.Constant(0.5))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(8, activation="softmax")(x))
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (32, 16, 16)).astype(np.uint8)
    tflite = quantize.to_tflite(model, quantize.representative_dataset(faces, 16, count=32), int8=True)

    runner = TFLiteRunner(tflite)
    assert not runner.xnnpack  # refused, and the built-in kernels run it instead
    found = runner.xnnpack_requant_violations()
    assert [v["output"].split("/")[-2] for v in found] == ["dead"], found
    assert found[0]["requant_scale"] >= 256 and found[0]["output_range"] < 1e-5
    assert runner.predict(faces[:2]).shape == (2, 8)
    healthy = TFLiteRunner(tflite, xnnpack=False)
    assert not healthy.xnnpack and healthy.predict(faces[:2]).shape == (2, 8)


def test_interleaved_latency_alternates_models_and_pools_rounds():
    """Every round times each model in turn, so a slow spell of the VM hits all of them."""
    from converters.emotion.evaluate import interleaved_latency

    calls = []

    class FakeRunner:
        def __init__(self, name, ms):
            self.name, self.ms = name, ms

        def invoke_times_ms(self, runs):
            calls.append((self.name, runs))
            return [self.ms] * runs

    out = interleaved_latency({"a": FakeRunner("a", 1.0), "b": FakeRunner("b", 0.5)}, rounds=3, runs=7, warmup=2)
    assert calls == [("a", 2), ("b", 2)] + [("a", 7), ("b", 7)] * 3
    assert out["a"]["runs"] == 21 and out["a"]["rounds"] == 3
    assert out["a"]["median_ms"] == 1.0 and out["b"]["median_ms"] == 0.5
