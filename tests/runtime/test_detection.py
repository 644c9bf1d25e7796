"""FaceDetector: MediaPipe's graph options, anchors, decoding, NMS, and agreement with MediaPipe."""
from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np
import pytest

from edgekit.detection import FaceDetector, FaceDetectorOptions, Letterbox
from edgekit.detection.anchors import generate_anchors
from edgekit.detection.blazeface import CONFIGS
from edgekit.detection.decoding import DecodeOptions, RawDetections, decode, hard_nms, weighted_nms
from edgekit.errors import ConfigError, ImageReadError
from edgekit.results import BoundingBox, Detection

MODELS = ("short_range", "full_range")
GRAPHS = {"short_range": "face_detection_short_range_cpu.binarypb",
          "full_range": "face_detection_full_range_cpu.binarypb"}


@pytest.fixture(scope="module")
def detectors():
    """MediaPipe's pipeline: no close-up pass (``close_up=False``), so keypoints compare with its own."""
    return {m: FaceDetector(model=m, close_up=False) for m in MODELS}


@pytest.fixture(scope="module")
def mediapipe_matched():
    """Detectors with MediaPipe's graph thresholds (0.5 short range, 0.6 full range): mediapipe
    0.10.21's Python solution ignores its min_detection_confidence and always uses those."""
    return {m: FaceDetector(model=m, min_confidence=CONFIGS[m].default_min_score, close_up=False) for m in MODELS}


# --------------------------------------------------------------- MediaPipe's graph, as shipped


def _expanded_graph(model: str):
    """The detection graph of the installed mediapipe with its subgraphs expanded by MediaPipe."""
    mp = pytest.importorskip("mediapipe")
    from google.protobuf import text_format
    from mediapipe.calculators.tensor import image_to_tensor_calculator_pb2  # noqa: F401 (registers options)
    from mediapipe.calculators.tensor import tensors_to_detections_calculator_pb2  # noqa: F401
    from mediapipe.calculators.tflite import ssd_anchors_calculator_pb2  # noqa: F401
    from mediapipe.calculators.util import non_max_suppression_calculator_pb2  # noqa: F401
    from mediapipe.framework import calculator_pb2
    from mediapipe.python._framework_bindings import calculator_graph

    path = Path(mp.__file__).parent / "modules" / "face_detection" / GRAPHS[model]
    config = calculator_pb2.CalculatorGraphConfig()
    text_format.Parse(calculator_graph.CalculatorGraph(binary_graph_path=str(path)).text_config, config)
    return config


def _node_options(config, calculator: str):
    """The packed (``google.protobuf.Any``) options of the graph node running ``calculator``."""
    return next(n for n in config.node if n.calculator == calculator).node_options[0]


@pytest.mark.parametrize("model", MODELS)
def test_constants_match_mediapipe_graph(model):
    from mediapipe.calculators.tensor import image_to_tensor_calculator_pb2 as itt
    from mediapipe.calculators.tensor import inference_calculator_pb2 as inf
    from mediapipe.calculators.tensor import tensors_to_detections_calculator_pb2 as ttd
    from mediapipe.calculators.tflite import ssd_anchors_calculator_pb2 as ssd
    from mediapipe.calculators.util import non_max_suppression_calculator_pb2 as nms

    config, cfg = _expanded_graph(model), CONFIGS[model]

    def unpack(calculator, cls):
        msg = cls()
        assert _node_options(config, calculator).Unpack(msg)
        return msg

    tensor = unpack("ImageToTensorCalculator", itt.ImageToTensorCalculatorOptions)
    assert (tensor.output_tensor_width, tensor.output_tensor_height) == (cfg.input_width, cfg.input_height)
    assert tensor.keep_aspect_ratio and tensor.border_mode == itt.ImageToTensorCalculatorOptions.BORDER_ZERO
    assert (tensor.output_tensor_float_range.min, tensor.output_tensor_float_range.max) == cfg.float_range

    anchors = unpack("SsdAnchorsCalculator", ssd.SsdAnchorsCalculatorOptions)
    a = cfg.anchors
    assert (anchors.input_size_width, anchors.input_size_height, anchors.num_layers) == (a.input_size_width,
                                                                                         a.input_size_height,
                                                                                         a.num_layers)
    assert tuple(anchors.strides) == a.strides and tuple(anchors.aspect_ratios) == a.aspect_ratios
    assert np.allclose([anchors.min_scale, anchors.max_scale, anchors.anchor_offset_x, anchors.anchor_offset_y,
                        anchors.interpolated_scale_aspect_ratio],
                       [a.min_scale, a.max_scale, a.anchor_offset_x, a.anchor_offset_y,
                        a.interpolated_scale_aspect_ratio])
    assert anchors.fixed_anchor_size == a.fixed_anchor_size
    assert anchors.reduce_boxes_in_lowest_layer == a.reduce_boxes_in_lowest_layer

    dec = unpack("TensorsToDetectionsCalculator", ttd.TensorsToDetectionsCalculatorOptions)
    d = cfg.decode
    for field in DecodeOptions.__dataclass_fields__:
        assert getattr(dec, field) == pytest.approx(getattr(d, field)), field
    assert dec.num_classes == 1 and dec.min_score_thresh == pytest.approx(cfg.default_min_score)

    node = next(n for n in config.node if n.calculator == "NonMaxSuppressionCalculator")
    suppression = node.options.Extensions[nms.NonMaxSuppressionCalculatorOptions.ext]
    assert suppression.min_suppression_threshold == pytest.approx(cfg.nms_iou)
    assert suppression.algorithm == nms.NonMaxSuppressionCalculatorOptions.WEIGHTED
    assert suppression.overlap_type == nms.NonMaxSuppressionCalculatorOptions.INTERSECTION_OVER_UNION

    inference = next(n for n in config.node if n.calculator.startswith("InferenceCalculator"))
    opts = inf.InferenceCalculatorOptions()
    inference.node_options[0].Unpack(opts)
    from edgekit.registry import load_manifest

    assert opts.model_path == load_manifest()["external"][cfg.model_key]["path"]


# ------------------------------------------------------------------------- units of the port


def test_anchor_counts_and_layout():
    short = generate_anchors(CONFIGS["short_range"].anchors)
    assert short.shape == (896, 4)
    np.testing.assert_allclose(short[0], [0.5 / 16, 0.5 / 16, 1, 1])
    np.testing.assert_allclose(short[:2, :2], [[1 / 32, 1 / 32]] * 2)  # 2 anchors per 16x16 cell
    np.testing.assert_allclose(short[512:518, :2], [[1 / 16, 1 / 16]] * 6)  # 3 merged stride-16 layers x 2
    np.testing.assert_allclose(short[-1, :2], [15 / 16, 15 / 16])
    full = generate_anchors(CONFIGS["full_range"].anchors)
    assert full.shape == (2304, 4)
    np.testing.assert_allclose(full[1, :2], [1.5 / 48, 0.5 / 48])


def test_decode_inverts_the_box_encoding():
    opts = CONFIGS["short_range"].decode
    anchors = generate_anchors(CONFIGS["short_range"].anchors)
    raw = np.zeros((896, 16), np.float32)
    scores = np.full(896, -20.0, np.float32)
    i = 700
    ax, ay = anchors[i, :2]
    raw[i, :4] = [0.05 * 128, -0.02 * 128, 0.3 * 128, 0.4 * 128]  # x, y, w, h (reverse_output_order)
    raw[i, 4:] = np.tile([0.01 * 128, 0.02 * 128], 6)
    scores[i] = 2.0
    dets = decode(raw, scores, anchors, opts, min_score=0.5)
    assert len(dets) == 1
    cx, cy = ax + 0.05, ay - 0.02
    np.testing.assert_allclose(dets.boxes[0], [cx - 0.15, cy - 0.2, cx + 0.15, cy + 0.2], atol=1e-6)
    np.testing.assert_allclose(dets.keypoints[0], [[ax + 0.01, ay + 0.02]] * 6, atol=1e-6)
    assert dets.scores[0] == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert len(decode(raw, scores, anchors, opts, min_score=0.9)) == 0


def _raw(boxes, scores) -> RawDetections:
    boxes = np.asarray(boxes, np.float32)
    kps = np.repeat(((boxes[:, :2] + boxes[:, 2:]) / 2)[:, None, :], 6, axis=1)
    return RawDetections(boxes, kps, np.asarray(scores, np.float32))


def test_weighted_nms_averages_overlapping_boxes():
    dets = _raw([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8]], [0.6, 0.9, 0.7])
    out = weighted_nms(dets, 0.3)
    assert len(out) == 2
    np.testing.assert_allclose(out.scores, [0.9, 0.7])
    np.testing.assert_allclose(out.boxes[0], (0.6 * dets.boxes[0] + 0.9 * dets.boxes[1]) / 1.5, atol=1e-6)
    np.testing.assert_allclose(out.boxes[1], dets.boxes[2])
    hard = hard_nms(dets, 0.3)
    np.testing.assert_allclose(hard.boxes, dets.boxes[[1, 2]])


def test_letterbox_geometry():
    box = Letterbox.fit(640, 480, 128, 128)
    assert (box.x0, box.y0, box.width, box.height) == (0, -80, 640, 640)
    m = box.matrix(128, 128)
    np.testing.assert_allclose(m @ [0, -80, 1], [0, 0, 1], atol=1e-9)
    np.testing.assert_allclose(m @ [640, 560, 1], [128, 128, 1], atol=1e-9)
    tall = Letterbox.fit(300, 600, 192, 192)
    assert (tall.x0, tall.y0, tall.width, tall.height) == (-150, 0, 600, 600)


# ------------------------------------------------------------------------------ real images


def test_astronaut_one_face(detectors, astronaut):
    for model, det in detectors.items():
        faces = det.detect(astronaut)
        assert len(faces) == 1, model
        face = faces[0]
        assert isinstance(face, Detection) and face.score > 0.85
        b = face.box
        assert 150 < b.x < 200 and 60 < b.y < 100 and 85 < b.width < 115, (model, b)
        (rx, ry), (lx, ly) = face.keypoint("right_eye"), face.keypoint("left_eye")
        assert b.x < rx < lx < b.x + b.width and abs(ry - ly) < 12  # subject's right eye is on the image's left
        for x, y in face.keypoints[:4]:
            assert b.x <= x <= b.x + b.width and b.y <= y <= b.y + b.height


def test_detect_accepts_paths_and_gray(detectors, astronaut_path, astronaut):
    det = detectors["short_range"]
    assert det.detect(astronaut_path)[0].box == det.detect(astronaut)[0].box
    assert len(det.detect(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))) == 1


def test_no_face_in_flat_or_tiny_images(detectors):
    det = detectors["short_range"]
    assert det.detect(np.full((480, 640, 3), 127, np.uint8)) == []
    assert det.detect(np.zeros((1, 1, 3), np.uint8)) == []


def test_bad_image_raises_typed_error(detectors):
    with pytest.raises(ImageReadError):
        detectors["short_range"].detect(np.zeros((0, 5, 3), np.uint8))


def test_max_faces_and_score_order(astronaut):
    crop = astronaut[20:280, 100:360]
    pair = np.hstack([crop, crop[:, ::-1]])  # the face and its mirror image
    faces = FaceDetector(model="short_range").detect(pair)
    assert len(faces) == 2
    assert faces[0].score >= faces[1].score
    one = FaceDetector(FaceDetectorOptions(max_faces=1)).detect(pair)
    assert len(one) == 1 and one[0] == faces[0]
    assert FaceDetector.create_from_options(FaceDetectorOptions(min_confidence=0.999)).detect(pair) == []


def test_context_manager_closes(astronaut):
    from edgekit.errors import ConfigError

    with FaceDetector() as det:
        assert len(det.detect(astronaut)) == 1 and det.load_seconds > 0
    with pytest.raises(ConfigError, match="FaceDetector was closed"):
        det.detect(astronaut)


def test_hard_nms_variant_finds_the_face(astronaut):
    faces = FaceDetector(nms="hard").detect(astronaut)
    assert len(faces) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model": "long_range"}, "model='long_range': must be one of short_range, full_range"),
        ({"min_confidence": 1.5}, r"min_confidence=1.5: must be a number in \[0, 1\]"),
        ({"min_confidence": "high"}, "min_confidence='high': must be a number"),
        ({"nms_iou": 0.0}, r"nms_iou=0.0: must be a number in \(0, 1\]"),
        ({"max_faces": 0}, r"max_faces=0: must be None \(all\) or an integer >= 1"),
        ({"num_threads": 0}, "num_threads=0: must be an integer"),
        ({"nms": "soft"}, "nms='soft': must be one of weighted, hard"),
        ({"bogus": 1}, "unknown FaceDetector option"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        FaceDetector(**kwargs)


# ------------------------------------------------------------- agreement with MediaPipe itself


@pytest.fixture(scope="module")
def mediapipe_reference():
    """Callable running mediapipe's own face detection (model, BGR image) -> [(box xywh px, kps px, score)]."""
    mp = pytest.importorskip("mediapipe")
    detection = mp.solutions.face_detection
    solutions = {m: detection.FaceDetection(model_selection=i, min_detection_confidence=0.5)
                 for i, m in enumerate(MODELS)}

    def run(model: str, bgr: np.ndarray) -> List[Tuple[np.ndarray, np.ndarray, float]]:
        h, w = bgr.shape[:2]
        res = solutions[model].process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        out = []
        for d in res.detections or []:
            b = d.location_data.relative_bounding_box
            kps = np.array([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints])
            out.append((np.array([b.xmin * w, b.ymin * h, b.width * w, b.height * h]), kps, d.score[0]))
        return out

    yield run
    for s in solutions.values():
        s.close()


def _agreement_images(astronaut, lfw: Path = None, fer: Path = None):
    images = {
        "astronaut": astronaut,
        "astronaut_wide": astronaut[40:300],
        "astronaut_tall": astronaut[:, 120:330],
        "astronaut_640x480": cv2.resize(astronaut, (640, 480)),
    }
    if lfw is not None:
        with (lfw / "pairsDevTrain.txt").open() as fh:
            rows = [line.split("\t") for line in fh.read().splitlines()[1:13]]
        for name, i, _ in rows:
            images[f"lfw_{name}_{i}"] = cv2.imread(str(lfw / "images" / name / f"{name}_{int(i):04d}.jpg"))
    if fer is not None:
        from converters.core.fercrops import ferplus_rows

        for path, _ in ferplus_rows(fer / "FER2013Valid")[:8]:
            gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            big = cv2.copyMakeBorder(cv2.resize(gray, None, fx=4, fy=4), 48, 48, 48, 48, cv2.BORDER_CONSTANT,
                                     value=128)
            images[f"fer_{path.name}"] = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
    return images


def _assert_agree(ours: List[Detection], theirs, label: str) -> None:
    assert len(ours) == len(theirs), f"{label}: {len(ours)} faces vs mediapipe {len(theirs)}"
    for box, kps, score in theirs:
        ref = BoundingBox(*box)
        match = max(ours, key=lambda d: d.box.iou(ref))
        assert match.box.iou(ref) > 0.99, label
        err = np.abs(np.asarray(match.keypoints) - kps).max()
        assert err < 0.01 * ref.width, f"{label}: keypoint error {err:.3f} px"
        assert abs(match.score - score) < 1e-4, label


@pytest.mark.parametrize("model", MODELS)
def test_agrees_with_mediapipe_on_astronaut(mediapipe_matched, mediapipe_reference, astronaut, model):
    for label, img in _agreement_images(astronaut).items():
        _assert_agree(mediapipe_matched[model].detect(img), mediapipe_reference(model, img), f"{model}/{label}")


@pytest.mark.parametrize("model", MODELS)
def test_agrees_with_mediapipe_on_lfw_and_ferplus(mediapipe_matched, mediapipe_reference, astronaut, lfw_dir,
                                                  ferplus_dir, model):
    images = _agreement_images(astronaut, lfw_dir, ferplus_dir)
    found = 0
    for label, img in images.items():
        ours = mediapipe_matched[model].detect(img)
        found += bool(ours)
        _assert_agree(ours, mediapipe_reference(model, img), f"{model}/{label}")
    assert found >= len(images) * 0.6
