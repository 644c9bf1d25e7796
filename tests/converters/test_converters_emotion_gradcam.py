"""Grad-CAM (#22 item 4, toolchain): on a constructed model the map is highest where the input
feature that drives the class is; per-class averaging and the report section."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the toolchain needs the [train] extra")

from converters.core.tfenv import keras  # noqa: E402
from converters.emotion import gradcam  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    """8x8x2 input -> 1x1 conv (identity) -> ReLU -> pooling -> dense + ReLU (identity) -> logits -> softmax:
    class k's logit is the mean of input channel k, so channel k's bright spot is what drives class k."""
    inp = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(2, 1, use_bias=False, name="features")(inp)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(2, activation="relu", name="hidden")(x)
    x = keras.layers.Dense(2, name="logits")(x)
    model = keras.Model(inp, keras.layers.Softmax(name="probs")(x))
    eye = np.eye(2, dtype=np.float32)
    model.get_layer("features").set_weights([eye.reshape(1, 1, 2, 2)])
    model.get_layer("hidden").set_weights([eye, np.zeros(2, np.float32)])
    model.get_layer("logits").set_weights([eye, np.zeros(2, np.float32)])
    return model


def _image(spots):
    x = np.full((8, 8, 2), 0.1, np.float32)
    for channel, (y, xx) in spots.items():
        x[y:y + 2, xx:xx + 2, channel] = 5.0
    return x


def test_gradcam_peaks_where_the_driving_feature_is(tiny):
    # channel 0 (drives class 0) bright at rows 5-6, cols 1-2; channel 1 (class 1) at rows 0-1, cols 5-6
    x = np.stack([_image({0: (5, 1), 1: (0, 5)})] * 2)
    maps, logits = gradcam.grad_cam(gradcam.gradcam_model(tiny), x, [0, 1])
    assert maps.shape == (2, 8, 8) and logits.shape == (2, 2)
    np.testing.assert_allclose(logits[0], x[0].mean(axis=(0, 1)), rtol=1e-5)  # pre-softmax logits, not probabilities
    for k, (y, xx) in enumerate(((5, 1), (0, 5))):
        peak = np.unravel_index(np.argmax(maps[k]), maps[k].shape)
        assert y <= peak[0] < y + 2 and xx <= peak[1] < xx + 2
        assert maps[k][y:y + 2, xx:xx + 2].min() > 10 * maps[k][3, 3] > 0  # background far below the spot
    # the other class's spot does not light up the map
    assert maps[0][0:2, 5:7].max() < 0.05 * maps[0].max()


def test_gradcam_is_per_face_in_a_batch(tiny):
    x = np.stack([_image({0: (2, 2)}), _image({0: (6, 6)})])
    maps, _ = gradcam.grad_cam(gradcam.gradcam_model(tiny), x, [0, 0], batch_size=2)
    assert np.unravel_index(np.argmax(maps[0]), (8, 8))[0] in (2, 3)
    assert np.unravel_index(np.argmax(maps[1]), (8, 8))[0] in (6, 7)


def test_class_means_normalise_each_face():
    maps = np.zeros((3, 2, 2))
    maps[0, 0, 0], maps[1, 0, 0], maps[1, 1, 1] = 10.0, 1.0, 1.0
    means = gradcam.class_means(maps, np.array([0, 0, 1]), classes=3)
    np.testing.assert_allclose(means[0], [[1.0, 0.0], [0.0, 0.5]])
    assert (means[1] == 0).all() and np.isnan(means[2]).all()


def test_gradcam_model_needs_pooling():
    inp = keras.Input((4, 4, 1))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(inp)))
    with pytest.raises(ValueError, match="GlobalAveragePooling2D"):
        gradcam.gradcam_model(model)


def test_readme_section_is_replaced_not_repeated(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Report\n\ntext\n")
    from converters.core.report import replace_marked_section

    replace_marked_section(readme, "gradcam", "## Grad-CAM\none")
    replace_marked_section(readme, "gradcam", "## Grad-CAM\ntwo")
    text = readme.read_text()
    assert text.count("<!-- gradcam:begin -->") == 1 and text.count("<!-- gradcam:end -->") == 1
    assert "two" in text and "one" not in text and text.startswith("# Report\n\ntext\n")


def test_rewriting_the_readme_keeps_the_other_scripts_sections(tmp_path):
    """The emotion report rewrites README.md whole (converters.emotion.report) but keeps the
    cam_model and gradcam sections that cam_model.py and gradcam.py wrote into it."""
    from converters.core.report import marked_sections, replace_marked_section, write_keeping_marked_sections

    readme = tmp_path / "README.md"
    readme.write_text("# Report\n\nold numbers\n")
    replace_marked_section(readme, "cam_model", "## CAM companion\ncam text")
    replace_marked_section(readme, "gradcam", "## Grad-CAM\n<!-- not a marker -->\nmaps")
    old = marked_sections(readme.read_text())
    assert list(old) == ["cam_model", "gradcam"]
    kept = write_keeping_marked_sections(readme, "# Report\n\nnew numbers\n")
    text = readme.read_text()
    assert kept == ["cam_model", "gradcam"] and text.startswith("# Report\n\nnew numbers\n\n")
    assert "old numbers" not in text and marked_sections(text) == old
    assert text.index("cam text") < text.index("maps") and text.endswith("<!-- gradcam:end -->\n")
    # a rewrite that writes a section itself keeps its own version; a second rewrite repeats nothing
    kept = write_keeping_marked_sections(readme, "# R\n\n<!-- gradcam:begin -->\nnew maps\n<!-- gradcam:end -->\n")
    text = readme.read_text()
    assert kept == ["cam_model"] and "new maps" in text and "\nmaps" not in text and text.count("cam text") == 1
    write_keeping_marked_sections(readme, "# R\n")
    assert readme.read_text().count(":begin -->") == 2 and readme.read_text().count("cam text") == 1
    replace_marked_section(readme, "gradcam", "## Grad-CAM\nthird")  # still replaced in place afterwards
    assert readme.read_text().count("gradcam:begin") == 1 and "third" in readme.read_text()
    missing = tmp_path / "new" / "README.md"
    missing.parent.mkdir()
    assert write_keeping_marked_sections(missing, "# Fresh\n") == [] and missing.read_text() == "# Fresh\n"


def test_no_import_fallbacks_left():
    """cam_model and gradcam import the toolchain from converters.core directly (no fallbacks that
    hide the real ImportError, no TensorFlow imported around converters.core.tfenv)."""
    import inspect

    from converters.emotion import cam_model

    for module in (cam_model, gradcam):
        source = inspect.getsource(module)
        assert "importlib" not in source and "_first(" not in source and "import tensorflow" not in source
