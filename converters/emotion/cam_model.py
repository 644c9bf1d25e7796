"""The shipped emotion model with its last feature map as a second output, for edgekit's CAM (#22).

``edgekit.explain``'s CAM decomposes the class logit over the cells of the model's last feature
map (the input of the global average pooling). Read from the single-output shipped model, that map
is an intermediate tensor, which only LiteRT's built-in kernels can keep (XNNPACK fuses it away).
This module converts the same checkpoint, with the same squeeze-excite folding and the same
calibration faces, into a model whose outputs are ``[probabilities, feature map, hidden layer]``
(the hidden layer after its ReLU: its zeros are the CAM's mask), so that XNNPACK runs the whole
graph and the CAM reads the map as an output.

It ships as a *companion* of the ``emotion`` manifest entry (``"cam"``), not as a replacement:
``edgekit.EmotionClassifier``, the Android demo and MediaPipe's ImageClassifier all take a model
with exactly one output (a second output would be read as a second classification head), so the
one-output file users run stays byte for byte what it was. :func:`compare` proves the companion's
probabilities (and pre-softmax logits) are the shipped model's on FER2013Valid.

    python -m converters.emotion.cam_model --run runs/emotion128 --out runs/emotion128_cam \\
        --data ../shared/data/ferplus --shipped edgekit/models/emotion_mnv3s128_int8.tflite --ship

``--ship`` copies the companion into ``edgekit/models/`` and records it as the ``emotion`` entry's
``cam`` file through :func:`edgekit.registry.register_companion` (refused unless it was built from
the registered model); shipping a new ``emotion`` model drops the old companion, so this runs again
after every re-ship.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from converters.core import quantize
from converters.core.keras_io import load_model
from converters.core.paths import ROOT
from converters.core.report import replace_marked_section
from converters.core.tfenv import keras

log = logging.getLogger(__name__)

#: Output tensor names of the companion model (the probabilities keep index 0).
PROBS_NAME, FEATURE_NAME = "probabilities", "feature_map"
#: The manifest entry the companion belongs to and its sub-entry key (``edgekit.explaining.CamHead`` reads it).
MODEL_NAME, COMPANION_KEY = "emotion", "cam"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def feature_map_tensor(model: Any) -> Any:
    """The last 4-D tensor before global average pooling (the CAM's feature map)."""
    pools = [layer for layer in model.layers if type(layer).__name__ == "GlobalAveragePooling2D"]
    if not pools:
        raise ValueError("the model has no GlobalAveragePooling2D layer: no CAM feature map")
    return pools[-1].input


def hidden_tensor(model: Any) -> Any:
    """The input of the last dense layer (the hidden layer after its ReLU, the head's only nonlinearity)."""
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    if not dense:
        raise ValueError("the model has no dense layer")
    return dense[-1].input


def with_feature_output(model: Any, hidden: bool = True) -> Any:
    """``model`` (Keras) with outputs ``[probabilities, feature map]`` (and with ``hidden`` the
    hidden layer after its ReLU, whose zeros are the CAM's mask: the runtime then needs no matrix
    product to find them), the probabilities first."""
    # the converter orders a Keras model's outputs by name: these keep the probabilities at index 0
    # (identity activations: no op in the graph)
    outputs = [keras.layers.Activation("linear", name="output_0_probabilities")(model.output),
               keras.layers.Activation("linear", name="output_1_feature_map")(feature_map_tensor(model))]
    if hidden:
        outputs.append(keras.layers.Activation("linear", name="output_2_hidden")(hidden_tensor(model)))
    return keras.Model(model.inputs, outputs, name=f"{model.name}_cam")


def _load_pipeline(run: Path, data: Optional[Path]) -> Any:
    from converters.emotion.config import PipelineConfig

    path = run / "pipeline_config.json"
    cfg = PipelineConfig.from_dict(json.loads(path.read_text()), str(path))
    cfg.out = str(run)
    if data is not None:
        cfg.train.data = str(data)
    return cfg


def convert(run: Path, data: Optional[Path] = None, stage: str = "pruned") -> Tuple[Dict[str, bytes], Any, Any]:
    """(``{"single": INT8 bytes as the pipeline converts it, "cam": two-output INT8 bytes}``,
    pipeline config, validation FaceSet): both from ``run/<stage>/model.h5`` with the run's folded
    gates and its calibration faces."""
    from converters.emotion import pipeline

    cfg = _load_pipeline(run, data)
    faces = pipeline.load_data(cfg)
    rep = quantize.representative_dataset(faces[0].images, cfg.train.input_size, cfg.calibration_count,
                                          cfg.train.seed)
    model = pipeline.fold_constant_gates(cfg, faces, load_model(run / stage / "model.h5"), stage)
    out = {"single": quantize.to_tflite(model, rep, int8=True, io_dtype=cfg.io_dtype)}
    out["cam"] = quantize.to_tflite(with_feature_output(model), rep, int8=True, io_dtype=cfg.io_dtype)
    return out, cfg, faces[1]


def _interpreter(content: bytes, xnnpack: bool, preserve: bool = False) -> Any:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw: Dict[str, Any] = {}
    if not xnnpack:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    if preserve:
        kw["experimental_preserve_all_tensors"] = True
    it = Interpreter(model_content=content, num_threads=1, **kw)
    it.allocate_tensors()
    return it


def _deq(it: Any, index: int) -> np.ndarray:
    d = next(t for t in it.get_tensor_details() if t["index"] == index)
    scale, zero = d["quantization"]
    x = it.get_tensor(index).astype(np.float64)
    return (x - zero) * scale if scale else x


def _prob_output(it: Any) -> Dict[str, Any]:
    """The output that is ``[1, classes]`` (found by shape, not index: the narrowest 2-D output)."""
    return min((o for o in it.get_output_details() if len(o["shape"]) == 2), key=lambda o: int(o["shape"][1]))


def _logit_tensor(it: Any) -> int:
    """Index of the last FULLY_CONNECTED's output (the pre-softmax logits)."""
    ops = [o for o in it._get_ops_details() if o["op_name"] == "FULLY_CONNECTED"]
    return int(ops[-1]["outputs"][0])


def compare(shipped: bytes, cam: bytes, pixels: np.ndarray, labels: np.ndarray) -> Dict[str, Any]:
    """The two models over ``pixels`` (``[N, S, S, 3]`` uint8): outputs through XNNPACK, pre-softmax
    logits through the built-in kernels (kept tensors), accuracy and macro-F1 of both."""
    from converters.emotion.evaluate import classification_metrics

    runs = {"shipped": shipped, "cam": cam}
    xnn = {k: _interpreter(v, True) for k, v in runs.items()}
    keep = {k: _interpreter(v, False, preserve=True) for k, v in runs.items()}
    probs = {k: np.zeros((len(pixels), 8)) for k in runs}
    logits = {k: np.zeros((len(pixels), 8)) for k in runs}
    fmap_shape = None
    kernels_diff = {k: 0.0 for k in runs}  # XNNPACK against the built-in kernels, per model
    for i, x in enumerate(pixels):
        for k in runs:
            for it, kept in ((xnn[k], False), (keep[k], True)):
                inp = it.get_input_details()[0]
                it.set_tensor(inp["index"], x[None].astype(inp["dtype"]))
                it.invoke()
                out = _prob_output(it)
                if kept:
                    logits[k][i] = _deq(it, _logit_tensor(it)).reshape(-1)
                    kernels_diff[k] = max(kernels_diff[k],
                                          float(np.abs(_deq(it, out["index"]).reshape(-1) - probs[k][i]).max()))
                else:
                    probs[k][i] = _deq(it, out["index"]).reshape(-1)
                    if k == "cam" and fmap_shape is None:
                        fmap_shape = [int(v) for v in
                                      next(o for o in it.get_output_details() if len(o["shape"]) == 4)["shape"]]
    metrics = {k: classification_metrics(labels, probs[k]) for k in runs}
    return {
        "faces": int(len(pixels)),
        "max_abs_prob_diff": float(np.abs(probs["cam"] - probs["shipped"]).max()),
        "max_abs_logit_diff": float(np.abs(logits["cam"] - logits["shipped"]).max()),
        "top1_agreement": float(np.mean(probs["cam"].argmax(1) == probs["shipped"].argmax(1))),
        "identical_outputs": bool(np.array_equal(probs["cam"], probs["shipped"])),
        "accuracy": {k: float(metrics[k]["accuracy"]) for k in runs},
        "macro_f1": {k: float(metrics[k]["macro_f1"]) for k in runs},
        "feature_map_shape": fmap_shape,
        "max_abs_prob_diff_xnnpack_vs_builtin": kernels_diff,
    }


def describe(content: bytes) -> Dict[str, Any]:
    """Outputs (order, names, shapes, quantization), signature keys and XNNPACK partitions of a ``.tflite``."""
    from converters.emotion.evaluate import TFLiteRunner

    it = _interpreter(content, True)
    outs = [{"index": i, "name": o["name"], "shape": [int(v) for v in o["shape"]], "dtype": np.dtype(o["dtype"]).name,
             "quantization": [float(o["quantization"][0]), int(o["quantization"][1])]}
            for i, o in enumerate(it.get_output_details())]
    signature = {k: sorted(v.get("outputs", {})) for k, v in it.get_signature_list().items()}
    runner = TFLiteRunner(content, num_threads=1)
    return {"outputs": outs, "signature_outputs": signature, "bytes": len(content), "sha256": _sha(content),
            "xnnpack": runner.xnnpack, "xnnpack_partitions": runner.delegate_partitions()}


def same_tensors(a: bytes, b: bytes) -> Dict[str, Any]:
    """Whether two ``.tflite`` files hold the same tensors (names, shapes, quantization, constant
    values): bytes can differ in metadata and serialization while the graph is the same."""
    def tensors(content: bytes) -> list:
        it = _interpreter(content, False, preserve=True)
        inp = it.get_input_details()[0]
        it.set_tensor(inp["index"], np.full(inp["shape"], 128, inp["dtype"]))
        it.invoke()  # every tensor then holds a defined value (constants, and activations of one input)
        out = []
        for d in it.get_tensor_details():
            if not d["name"]:
                continue  # the kernels' unnamed scratch buffers (contents undefined)
            try:
                value = it.get_tensor(d["index"]).tobytes()
            except ValueError:
                value = None
            out.append((d["name"], tuple(int(v) for v in d["shape"]), tuple(d["quantization"]), value))
        return out

    ta, tb = tensors(a), tensors(b)
    return {"tensors": [len(ta), len(tb)], "equal": ta == tb,
            "differing": [x[0] for x, y in zip(ta, tb) if x != y][:10]}




def markdown(report: Dict[str, Any], shipped_as: str) -> str:
    """The report README's section on the CAM companion model."""
    cam, fer, same = report["cam_model"], report["fer2013valid"], report["single_output_same_tensors_as_shipped"]
    classes = min(o["shape"][1] for o in cam["outputs"] if len(o["shape"]) == 2)

    def role(shape: list) -> str:
        return "feature map" if len(shape) == 4 else "probabilities" if shape[1] == classes else "hidden layer"

    outs = ", ".join(f"{o['index']}: {role(o['shape'])} {o['shape']}" for o in cam["outputs"])
    return "\n".join([
        "## CAM companion model (feature map and hidden layer as extra outputs, #22)", "",
        f"`{shipped_as}` (sha256 `{cam['sha256']}`, {cam['bytes']:,} B), written by `{report['command']}` from "
        f"`{report['checkpoint']}` with the run's folded gates and its calibration faces. Outputs {outs} "
        "(the hidden layer after its ReLU: its zeros are the CAM's mask, read instead of recomputed); "
        f"XNNPACK runs the whole graph ({cam['xnnpack_partitions']} partition). `edgekit.explain`'s CAM reads it "
        "(manifest: the `emotion` entry's `cam` file); everything else keeps the one-output model, because "
        "`EmotionClassifier`, the Android demo and MediaPipe's ImageClassifier take exactly one output.", "",
        f"Same predictions as the shipped model on the {fer['faces']:,} FER2013Valid majority faces (evaluation "
        "inputs, 1 thread):", "",
        "| | shipped `emotion` | CAM companion |", "|---|---|---|",
        f"| accuracy | {fer['accuracy']['shipped']:.2%} | {fer['accuracy']['cam']:.2%} |",
        f"| macro-F1 | {fer['macro_f1']['shipped']:.4f} | {fer['macro_f1']['cam']:.4f} |",
        f"| max abs difference of the dequantized probabilities (XNNPACK) | | {fer['max_abs_prob_diff']:g} |",
        f"| max abs difference of the dequantized pre-softmax logits (built-in kernels, kept tensors) | | "
        f"{fer['max_abs_logit_diff']:g} |",
        f"| top-1 agreement | | {fer['top1_agreement']:.2%} |", "",
        "The INT8 calibration gives the logits the same quantization (the calibration faces and the graph up to "
        "the logits are the same). Re-converting the one-output model the same way gives "
        f"{'the same' if same['equal'] else 'different'} tensors as the shipped file ({same['tensors'][0]} tensors: "
        "names, shapes, quantization, values); "
        + (report["reproduces_shipped"].get("note", "") or "the file bytes are "
           + ("equal" if report["reproduces_shipped"]["equal"] else "not equal")) + ". How coarse: the map is "
        f"{' x '.join(str(v) for v in fer['feature_map_shape'][1:3])} cells of "
        f"{report.get('input_size', 128) // fer['feature_map_shape'][1]} px with {fer['feature_map_shape'][3]} "
        "channels.",
    ])




def companion_description(report: Dict[str, Any], shipped_file: str) -> str:
    """The manifest description of the companion, from its report (outputs and the FER2013Valid comparison)."""
    cam, fer = report["cam_model"], report["fer2013valid"]
    classes = min(o["shape"][1] for o in cam["outputs"] if len(o["shape"]) == 2)
    roles = []
    for o in cam["outputs"]:
        shape = o["shape"]
        role = "feature map" if len(shape) == 4 else "probabilities" if shape[1] == classes else "hidden"
        roles.append(f"{role} {shape}" + (f" at index {o['index']}" if role == "probabilities" else ""))
    hidden = any(r.startswith("hidden") for r in roles)
    return ("the same INT8 model with its last feature map"
            + (" and its hidden layer (after the ReLU)" if hidden else "")
            + f" as extra outputs ({', '.join(roles)}; found by shape), so XNNPACK runs edgekit.explain's CAM; "
            f"probabilities equal to {shipped_file}'s on all {fer['faces']:,} FER2013Valid faces "
            f"(max abs difference {fer['max_abs_prob_diff']:g}). Used only by the CAM: EmotionClassifier, the "
            "Android demo and MediaPipe take the one-output file")


def ship_command(command: str) -> str:
    """The conversion command of a report as it reproduces the shipped companion: with ``--ship``."""
    return command if "--ship" in command.split() else f"{command} --ship"


def ship(report: Dict[str, Any], cam_file: Path, shipped: Path, ship_as: Path,
         model_name: str = MODEL_NAME) -> Dict[str, Any]:
    """Copy ``cam_file`` (the two-output model ``report`` describes) to ``ship_as`` in
    ``edgekit/models/`` and record it as the ``cam`` companion of ``model_name`` through
    :func:`edgekit.registry.register_companion` (file, sha256, ``produced_by``: the report's
    conversion command with ``--ship``). Returns the manifest sub-entry.

    Refuses (ValueError) a companion that does not belong to the registered model: ``shipped``
    must be the manifest entry's file, the report must have been made against it, ``cam_file``
    must be the file the report describes and its probabilities must equal the model's on every
    face compared (``edgekit.explaining.CamHead`` refuses any other)."""
    from edgekit import registry

    ship_as = ship_as if ship_as.is_absolute() else ROOT / ship_as
    manifest = ship_as.parent / "manifest.json"
    info = registry.model_info(model_name, manifest)
    content = cam_file.read_bytes()
    problems = []
    if registry.sha256_file(shipped) != info.sha256:
        problems.append(f"--shipped {shipped} is not the registered {model_name!r} model ({info.file})")
    if report["reproduces_shipped"]["shipped_sha256"] != info.sha256:
        problems.append(f"the report was made against another model than the registered {model_name!r}")
    if _sha(content) != report["cam_model"]["sha256"]:
        problems.append(f"{cam_file} is not the companion the report describes (sha256 differs)")
    if not report["fer2013valid"]["identical_outputs"]:
        problems.append("its probabilities differ from the shipped model's on FER2013Valid")
    if problems:
        raise ValueError("not shipping the CAM companion: " + "; ".join(problems))
    if not (ship_as.is_file() and ship_as.read_bytes() == content):
        ship_as.write_bytes(content)
    return registry.register_companion(model_name, COMPANION_KEY, ship_as, manifest_path=manifest,
                                       produced_by=ship_command(report["command"]),
                                       description=companion_description(report, info.file))


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/emotion128"))
    parser.add_argument("--out", type=Path, default=Path("runs/emotion128_cam"))
    parser.add_argument("--data", type=Path, default=None, help="FER+ root (default: the run's)")
    parser.add_argument("--stage", default="pruned")
    parser.add_argument("--shipped", type=Path, required=True, help="the shipped one-output .tflite")
    parser.add_argument("--report-dir", type=Path, default=None,
                        help="copy cam_model.json there and write its section into README.md")
    parser.add_argument("--ship-as", default="edgekit/models/emotion_mnv3s128_cam_int8.tflite",
                        help="the path the companion ships at (named in the report section)")
    parser.add_argument("--ship", action="store_true",
                        help="copy the companion to --ship-as and record it as the manifest's 'cam' file of "
                             "--model-name (refused unless it matches the registered model)")
    parser.add_argument("--model-name", default=MODEL_NAME, help="the manifest entry the companion belongs to")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="no conversion: write the report section (and with --ship ship <out>/<stage>"
                             "_int8_ptq_cam.tflite) from an earlier run's cam_model.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    if args.from_json is not None:
        return _write_report(json.loads(args.from_json.read_text()), args)
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    models, cfg, val = convert(args.run, args.data, args.stage)
    shipped = args.shipped.read_bytes()
    reference = (args.run / "tflite" / f"{args.stage}_int8_ptq.tflite").read_bytes()
    from converters.emotion.export import add_metadata

    reproduced, _ = add_metadata(models["single"])
    for name, content in models.items():
        (args.out / f"{args.stage}_int8_ptq_{name}.tflite").write_bytes(content)
    from converters.emotion.evaluate import runtime_inputs

    labels = val.majority()
    keep = labels >= 0
    pixels = runtime_inputs(val.images[keep], cfg.train.input_size)
    differing = [i for i, (a, b) in enumerate(zip(reproduced, shipped)) if a != b]
    note = (f"the one-output conversion with metadata differs from the shipped file in {len(differing)} bytes "
            f"(offsets {differing[:8]})" + (", the DOS time/date of labels.txt in the metadata's zip"
                                            if len(reproduced) == len(shipped) and len(differing) <= 4 else ""))
    report = {
        "command": "python -m converters.emotion.cam_model " + " ".join(argv if argv is not None else sys.argv[1:]),
        "checkpoint": str(args.run / args.stage / "model.h5"),
        "reproduces_shipped": {"single_output_with_metadata_sha256": _sha(reproduced),
                               "run_tflite_sha256": _sha(reference), "shipped_sha256": _sha(shipped),
                               "equal": _sha(reproduced) == _sha(shipped),
                               "bytes_differing_from_shipped": len(differing), "note": note},
        "single_output_without_metadata_sha256": _sha(models["single"]),
        "single_output_same_tensors_as_shipped": same_tensors(reproduced, shipped),
        "cam_model": describe(models["cam"]),
        "shipped_model": describe(shipped),
        "fer2013valid": compare(shipped, models["cam"], pixels, labels[keep]),
        "seconds": round(time.time() - t0, 1),
    }
    report["input_size"] = cfg.train.input_size
    (args.out / "cam_model.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return _write_report(report, args)


def _write_report(report: Dict[str, Any], args: argparse.Namespace) -> int:
    if args.ship:
        entry = ship(report, args.out / f"{args.stage}_int8_ptq_cam.tflite", args.shipped, Path(args.ship_as),
                     args.model_name)
        log.info("shipped %s as the %r companion of %r (sha256 %s)", entry["file"], COMPANION_KEY,
                 args.model_name, entry["sha256"])
    if args.report_dir is not None:
        args.report_dir.mkdir(parents=True, exist_ok=True)
        (args.report_dir / "cam_model.json").write_text(json.dumps(report, indent=1) + "\n")
        replace_marked_section(args.report_dir / "README.md", "cam_model", markdown(report, args.ship_as))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
