"""explain (#22 item 4): occlusion heat maps peak where hiding the face changes the score most;
regions, JSON, CLI, bad input."""
from __future__ import annotations

import io
import json
import re
import zipfile

import cv2
import numpy as np
import pytest

from edgekit.errors import ConfigError, InputError, NoFaceError
from edgekit.explaining import OUTSIDE, REGIONS, landmark_regions, occluder_positions, occlusion_map, rank_regions


def test_occluder_positions_cover_every_pixel():
    for size, patch, stride in ((96, 16, 12), (48, 8, 6), (10, 10, 3), (17, 5, 4)):
        starts = occluder_positions(size, patch, stride)
        covered = np.zeros(size, bool)
        for s in starts:
            covered[s:s + patch] = True
        assert covered.all() and starts[-1] == size - patch


def test_heat_map_peaks_where_an_occluder_changes_the_score_most():
    """A constructed model whose score is the brightness of one 12x12 patch, plus a weak
    dependence on another: the map's maximum lies inside the strong patch, the weak patch
    comes second, and the empty background reads zero."""
    crop = np.zeros((96, 96, 3), np.uint8)
    crop[60:72, 30:42] = 250  # strong evidence
    crop[10:22, 70:82] = 250  # weak evidence

    def score(x):
        return float(x[60:72, 30:42].mean()) + 0.2 * float(x[10:22, 70:82].mean())

    heat, n = occlusion_map(crop, score, patch=16, stride=12, fill=(0, 0, 0))
    assert n == 1 + len(occluder_positions(96, 16, 12)) ** 2
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    slack = 16 - 12  # the map resolves positions to the occluder's overlap
    assert 60 - slack <= y < 72 + slack and 30 - slack <= x < 42 + slack
    assert heat[60:72, 30:42].mean() > 3 * heat[10:22, 70:82].mean() > 0
    assert heat[0:8, 0:8].max() == 0.0 and heat[88:, :20].max() == 0.0
    # the default fill is the crop's mean colour, and bad arguments are refused
    default, _ = occlusion_map(crop, score, patch=16, stride=12)
    assert np.argmax(default) == np.argmax(heat)
    with pytest.raises(ConfigError):
        occlusion_map(crop, score, patch=0, stride=4)
    with pytest.raises(InputError):
        occlusion_map(crop.astype(np.float32), score, patch=8, stride=4)


def test_every_landmark_has_a_region_and_ranking_is_by_mean_heat():
    labels = landmark_regions()
    assert labels.shape == (468,) and set(labels) == set(range(len(REGIONS)))
    regions = np.zeros((4, 4), np.int32)
    regions[:, 2:] = len(REGIONS)  # outside the face
    heat = np.zeros((4, 4), np.float32)
    heat[:, :2] = 1.0
    ranked = rank_regions(heat, regions)
    assert ranked[0]["region"] == REGIONS[0] and ranked[0]["share"] == 1.0
    assert ranked[1]["region"] == OUTSIDE and ranked[1]["mean_heat"] == 0.0


@pytest.fixture(scope="module")
def explainer():
    from edgekit.explaining import Explainer

    with Explainer() as e:
        yield e


def test_explain_the_astronaut_smile_points_at_the_mouth(explainer, astronaut_path):
    result = explainer.explain(astronaut_path)
    assert result.predicted == result.emotion == "happiness"
    assert result.top_regions[0]["region"] == "mouth"
    assert result.heatmap.shape == result.crop.shape[:2] and result.evaluations == 65
    assert result.aus is not None and result.aus.activations["AU12"] > 0.5 and result.cues()
    assert result.overlay.shape == cv2.imread(str(astronaut_path)).shape
    chosen = explainer.explain(astronaut_path, emotion="neutral")
    assert chosen.emotion == "neutral" and chosen.predicted == "happiness"


def test_explain_json_schema_and_files(explainer, astronaut_path, tmp_path):
    result = explainer.explain(astronaut_path)
    written = result.save(tmp_path / "out", "astro")
    data = json.loads(written["json"].read_text())
    assert set(data) >= {"source", "face", "box", "emotion", "predicted", "probs", "method", "patch_px", "stride_px",
                         "crop_size", "evaluations", "flip_average", "top_regions", "regions", "aus", "cues",
                         "timings_ms", "overlay", "max_heat", "heat_units", "landmarks_from"}
    assert data["method"] == "occlusion" and data["overlay"] == "astro_explain.png"
    assert len(data["top_regions"]) == 3 and {r["region"] for r in data["regions"]} <= {*REGIONS, OUTSIDE}
    assert abs(sum(r["share"] for r in data["regions"]) - 1.0) < 1e-3
    png = cv2.imread(str(written["overlay"]))
    assert png is not None and png.shape == result.overlay.shape


def test_cam_decomposes_the_logit_within_int8_rounding(explainer, astronaut_path):
    """The cells' contributions plus the constant part give the model's own class logits within 0.15 logit."""
    from edgekit.explaining import CamHead
    from edgekit.registry import load_model

    head = CamHead(load_model("emotion"))
    assert head.relu  # the shipped head: dense + ReLU, read from the graph
    crop = explainer.aligner.align(cv2.imread(str(astronaut_path)), explainer.detector.detect(
        cv2.imread(str(astronaut_path)))[0]).image
    for k in range(len(explainer.classifier.labels)):
        cells, rest = head.contributions(crop, k)
        side = explainer.classifier.input_spec.height // 32  # MobileNetV3's last feature map: stride 32
        assert cells.shape == (side, side)
        assert cells.mean() + rest == pytest.approx(head.logits()[k], abs=0.15)  # int8 rounding of the hidden layer
    # the class the model picks has the largest logit
    happy = explainer.classifier.labels.index("happiness")
    assert int(np.argmax(head.logits())) == happy


def test_cam_companion_runs_on_xnnpack_and_matches_the_built_in_path(explainer, astronaut_path):
    """The manifest's "cam" companion of emotion: XNNPACK runs it, its probabilities are the shipped
    model's, and its cell contributions are those of the built-in-kernel path up to the two kernels'
    INT8 rounding; emotion-fast has no companion and keeps the built-in path."""
    from edgekit import EmotionClassifier
    from edgekit.explaining import CamHead

    fast, slow = CamHead.for_model("emotion"), CamHead.for_model("emotion", companion=False)
    assert fast.xnnpack and fast.probs_exact and fast.relu and not slow.xnnpack
    image = cv2.imread(str(astronaut_path))
    crop = explainer.aligner.align(image, explainer.detector.detect(image)[0]).image
    single = EmotionClassifier("emotion", flip_average=False)
    run = fast.run(crop)
    assert np.array_equal(run.probs, single.predict_probs(crop))  # bit for bit the shipped model's output
    logits = fast.logits()
    softmax = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert np.abs(softmax - run.probs).max() <= 3 / 256  # the INT8 head's logits, as the output's rounding allows
    for k in range(len(explainer.classifier.labels)):
        a, rest_a = fast.cells(run, k)
        b, rest_b = slow.contributions(crop, k)
        assert a.shape == b.shape == (4, 4)
        assert a.mean() + rest_a == pytest.approx(logits[k], abs=0.15)
        assert abs(a.mean() - b.mean()) < 0.25 and np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9
    assert not CamHead.for_model("emotion-fast").xnnpack


def test_cam_probabilities_are_the_pipelines(explainer, astronaut_path):
    cam = explainer.explain(astronaut_path, method="cam")
    occlusion = explainer.explain(astronaut_path)
    assert cam.probs == occlusion.probs  # the companion's two invokes give the flip-averaged probabilities


def test_explain_with_cam(explainer, astronaut_path):
    result = explainer.explain(astronaut_path, method="cam")
    assert result.method == "cam" and result.patch_px == 32 and result.evaluations == 2
    heat = result.heatmap
    size = explainer.classifier.input_spec.height
    assert heat.shape == (size, size) and len(np.unique(heat)) <= (size // 32) ** 2  # one value per feature-map cell
    assert (heat[:32, :32] == heat[0, 0]).all()
    data = result.to_dict()
    assert data["heat_units"].startswith("contribution") and data["timings_ms"]["cam"] > 0


def test_explain_bad_input(explainer, astronaut_path):
    with pytest.raises(NoFaceError):
        explainer.explain(np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(ConfigError, match="unknown explanation method"):
        explainer.explain(astronaut_path, method="gradcam")
    with pytest.raises(ConfigError, match="unknown emotion"):
        explainer.explain(astronaut_path, emotion="joy")
    with pytest.raises(InputError, match="no face 2"):
        explainer.explain(astronaut_path, face=2)


def test_cli_explain(astronaut_path, tmp_path, capsys):
    from edgekit.cli import main

    assert main(["explain", str(astronaut_path), "-o", str(tmp_path)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["predicted"] == "happiness" and line["top_regions"][0] == "mouth"
    assert (tmp_path / "astronaut_explain.png").is_file() and (tmp_path / "astronaut_explain.json").is_file()
    assert main(["explain", str(astronaut_path), "-o", str(tmp_path / "cam"), "--method", "cam"]) == 0
    assert json.loads((tmp_path / "cam" / "astronaut_explain.json").read_text())["method"] == "cam"
    capsys.readouterr()
    assert main(["explain", str(astronaut_path), "-o", str(tmp_path), "--method", "gradcam"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgekit: error: ") and "unknown explanation method" in err[0]
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 200, np.uint8))
    assert main(["explain", str(blank), "-o", str(tmp_path)]) == 1
    assert "no face" in capsys.readouterr().err


# ------------------------------------------------------------- CamHead.for_model and the "cam" companion


@pytest.fixture
def cam_manifest(tmp_path, monkeypatch):
    """A temp models folder: ``emo`` = the shipped 128-px emotion model with the shipped CAM companion
    (registered through the registry helpers), and the 96-px emotion-fast file beside it."""
    import shutil

    from edgekit import explaining, registry

    monkeypatch.setattr(explaining, "_COMPANION_WARNED", set())
    models = tmp_path / "models"
    models.mkdir()
    shipped = registry.load_manifest()["models"]
    for name in ("emotion", "emotion-fast"):
        shutil.copyfile(registry.MODELS_DIR / shipped[name]["file"], models / shipped[name]["file"])
    shutil.copyfile(registry.MODELS_DIR / shipped["emotion"]["cam"]["file"], models / "cam.tflite")
    manifest = models / "manifest.json"
    registry.register_model("emo", models / shipped["emotion"]["file"], manifest_path=manifest, task="emotion")
    registry.register_companion("emo", "cam", models / "cam.tflite", manifest_path=manifest)
    return models, manifest, shipped


def _cam_head(manifest, **kw):
    import warnings

    from edgekit.explaining import CamCompanionWarning, CamHead

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        head = CamHead.for_model("emo", manifest_path=manifest, **kw)
    return head, [str(w.message) for w in caught if issubclass(w.category, CamCompanionWarning)]


def test_cam_companion_that_fits_runs_on_xnnpack(cam_manifest):
    _, manifest, _ = cam_manifest
    head, warned = _cam_head(manifest)
    assert head.xnnpack and head.probs_exact and not warned
    head, warned = _cam_head(manifest, companion=False)
    assert not head.xnnpack and not warned


def test_reshipping_the_model_drops_the_stale_cam_companion(cam_manifest):
    """The #22 bug: re-shipping ``emo`` kept the old ``cam`` entry. Now the new model has none, and
    the CAM runs on the built-in kernels of the new model, without a warning."""
    from edgekit import registry

    models, manifest, shipped = cam_manifest
    registry.register_model("emo", models / shipped["emotion-fast"]["file"], manifest_path=manifest, task="emotion")
    assert "cam" not in registry.companion_files("emo", manifest)
    head, warned = _cam_head(manifest)
    assert not head.xnnpack and (head.height, head.width) == (96, 96) and not warned


@pytest.mark.parametrize("case, reason", [
    ("input shape", "its input is \\[1, 128, 128, 3\\] uint8, the model's \\[1, 96, 96, 3\\]"),
    ("labels", "its labels \\['contempt', 'fear'.* are not the model's \\['neutral'"),
    ("model sha256", "built for the model with sha256"),
    ("probs not exact", "probs_exact is False"),
])
def test_cam_companion_that_does_not_fit_is_refused_once(cam_manifest, monkeypatch, case, reason):
    """A companion left over from another model (hand-edited manifest, other input size or labels,
    probabilities that differ) is refused: the built-in-kernel path with one CamCompanionWarning,
    never a raw LiteRT error and never another model's map with this model's probabilities."""
    from edgekit import registry
    from edgekit.explaining import CamHead

    models, manifest, shipped = cam_manifest
    if case == "labels":  # a companion whose metadata lists the classes in another order
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("labels.txt", "\n".join(registry.model_info("emo", manifest).labels[::-1]) + "\n")
        (models / "cam.tflite").write_bytes((models / "cam.tflite").read_bytes() + archive.getvalue())
        registry.register_companion("emo", "cam", models / "cam.tflite", manifest_path=manifest)
    data = registry.load_manifest(manifest)
    entry = data["models"]["emo"]
    if case == "input shape":  # the old entry edited by hand to the 96-px model, the 128-px companion kept
        fast = registry.register_model("fast", models / shipped["emotion-fast"]["file"], manifest_path=manifest)
        entry.update(file=fast.file, sha256=fast.sha256, bytes=fast.bytes, input=fast.input.to_dict())
        entry["cam"]["model_sha256"] = fast.sha256
    elif case == "model sha256":
        entry["cam"]["model_sha256"] = "0" * 64
    else:
        monkeypatch.setattr(CamHead, "_probe_probs", lambda self, model: False)
    registry.write_manifest(data, manifest)
    head, warned = _cam_head(manifest)
    assert not head.xnnpack and not head.probs_exact
    assert len(warned) == 1 and "does not fit" in warned[0] and "built-in kernels" in warned[0]
    assert re.search(reason, warned[0])
    crop = np.random.default_rng(0).integers(0, 256, (head.height, head.width, 3), dtype=np.uint8)
    cells, _ = head.contributions(crop, 0)
    assert cells.shape == (head.height // 32, head.width // 32)
    head, warned = _cam_head(manifest)  # logged once per companion and model
    assert not head.xnnpack and warned == []
