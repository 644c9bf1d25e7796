"""Expression transfer: geometry on real faces, identity, exaggeration, bad input, CLI."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgekit.cli import main
from edgekit.errors import ConfigError, InputError, NoFaceError
from edgekit.facemesh import LIPS_INNER, LIPS_OUTER
from edgekit.transfer import ExpressionTransfer
from edgekit.transfer.api import inner_mouth_area
from edgekit.transfer.warp import delaunay, piecewise_affine
from edgekit.transfer.geometry import expression_offsets, expression_weights, fit_similarity, load_neutral_mesh

LIPS = list(LIPS_OUTER + LIPS_INNER)


@pytest.fixture(scope="module")
def engine():
    with ExpressionTransfer() as e:
        yield e


def lip_offsets(points: np.ndarray) -> np.ndarray:
    """Expression offsets of the lips (pose and scale removed, anchored at the upper-lip centre)."""
    return expression_offsets(points, load_neutral_mesh()).offsets[LIPS, :2]  # a 2-D warp cannot change depth


def remesh(engine: ExpressionTransfer, image: np.ndarray) -> np.ndarray:
    faces = engine.mesh.process(image)
    assert faces, "the edited photo must still show a face"
    return faces[0].points


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=1).mean())


def test_reference_mesh_and_weights_are_sane():
    reference, weights = load_neutral_mesh(), expression_weights()
    assert reference.shape == (468, 3) and np.isfinite(reference).all()
    assert weights[LIPS].min() == 1.0  # expressive regions move fully
    assert weights[[10, 151, 168, 6, 4]].max() == 0.0  # forehead and nose bridge keep the target's shape
    assert 0.0 <= weights.min() and weights.max() <= 1.0


def _posed(ref_frame: np.ndarray, yaw: float, pitch: float, roll: float, scale: float = 55.0) -> np.ndarray:
    """A reference-frame mesh placed in an image: rotated (degrees), scaled, moved."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return scale * ref_frame @ (rz @ rx @ ry).T + np.array([300.0, 260.0, 10.0])


def _smile(ref_frame: np.ndarray, amount: float) -> np.ndarray:
    """Lip corners (AU12's landmarks) moved up and out by ``amount`` reference units."""
    from edgekit.aus import LIP_CORNER

    out = ref_frame.copy()
    for side, outward in zip(LIP_CORNER, (-1.0, 1.0)):  # subject's right is the image left
        out[list(side)] += amount * np.array([0.6 * outward, -0.8, 0.0])
    return out


@pytest.mark.parametrize("yaw,pitch,roll", [(0, 0, 0), (28, 0, 0), (-20, 15, 8), (5, -18, -12)])
def test_a_smile_delta_raises_au12_on_the_moved_landmarks_whatever_the_pose_and_shape(yaw, pitch, roll):
    """Geometry only (#22): a neutral target of another shape and any pose, given a smiling source's
    offsets, reads AU12 higher by the smile's corner move; a target that already smiles more than the
    source reads lower (the transfer sets the mouth's shape, it does not add to it)."""
    from edgekit.aus import AU_NAMES, action_units
    from edgekit.transfer.geometry import jaw_follow_weights, retarget

    reference = load_neutral_mesh()
    rng = np.random.default_rng(3)
    shape = reference + rng.normal(0.0, 0.01, reference.shape) * expression_weights()[:, None]  # another person
    source = _posed(_smile(reference, 0.12), -10, 5, 0, scale=80.0)
    wanted = expression_offsets(source, reference).offsets
    k = AU_NAMES.index("AU12")

    def au12(points: np.ndarray) -> float:
        return float(np.mean(action_units(points).raw[2 * k:2 * k + 2]))

    for own_smile, rises in ((0.0, True), (0.2, False)):
        target = _posed(_smile(shape, own_smile), yaw, pitch, roll)
        moved = retarget(target, expression_offsets(target, reference), wanted, expression_weights(),
                         jaw_follow_weights())
        change = au12(moved) - au12(target)
        assert (change > 0) == rises, (own_smile, change)
        assert change == pytest.approx(0.12 - own_smile, abs=0.03)  # the corners' move, in reference units


def test_piecewise_affine_maps_every_vertex_onto_its_target():
    """Bright 1-pixel markers at the source vertices land exactly on the moved vertices."""
    rng = np.random.default_rng(0)
    src = np.vstack([[[5, 5], [94, 5], [94, 94], [5, 94]], rng.uniform(20, 80, (12, 2)).round()])
    dst = src.copy()
    dst[4:] += rng.uniform(-4, 4, (12, 2)).round()
    triangles = delaunay(src)
    assert len(triangles) >= 2 * len(src) - 6  # a full triangulation of the points
    image = np.zeros((100, 100, 3), np.uint8)
    for k, (x, y) in enumerate(src[4:].astype(int)):
        image[y, x] = 100 + 10 * k
    warped, covered = piecewise_affine(image, src, dst, triangles, (100, 100))
    assert covered[10:90, 10:90].all()
    for k, (x, y) in enumerate(dst[4:].astype(int)):
        assert warped[y, x, 0] == 100 + 10 * k


@pytest.mark.parametrize("how", ["transfer", "exaggerate"])
def test_identity_transfer_leaves_the_photo_unchanged(engine, astronaut, how):
    result = engine.transfer(astronaut, astronaut) if how == "transfer" else engine.exaggerate(astronaut, 1.0)
    assert result.image.shape == astronaut.shape and result.image.dtype == np.uint8
    assert np.allclose(result.landmarks, result.target.points)
    diff = np.abs(result.image.astype(np.int16) - astronaut.astype(np.int16))
    assert diff.mean() < 0.3 and diff.max() <= 6
    assert not diff[400:].any()  # far below the face nothing is touched


def test_exaggerate_amplifies_and_flattens_the_expression(engine, astronaut):
    original = lip_offsets(engine.mesh.process(astronaut)[0].points)
    for factor in (2.0, 0.0):
        result = engine.exaggerate(astronaut, factor)
        realised = remesh(engine, result.image)
        # the warp puts the face where the landmarks were moved: re-meshing finds them there
        # (the landmark model only partly follows a warp: it has a strong prior on face shapes)
        error = distance(realised[LIPS, :2], result.landmarks[LIPS, :2])
        assert error < 0.8 * distance(result.target.points[LIPS, :2], result.landmarks[LIPS, :2])
        size = np.linalg.norm(lip_offsets(realised), axis=1).mean()
        if factor > 1:
            assert size > 1.2 * np.linalg.norm(original, axis=1).mean()
        else:
            assert size < 0.8 * np.linalg.norm(original, axis=1).mean()


def _assert_mouth_moves_toward_source(engine, source: np.ndarray, target: np.ndarray):
    result = engine.transfer(source, target)
    src, before, after = (lip_offsets(p) for p in (result.source.points, result.target.points,
                                                   remesh(engine, result.image)))
    assert distance(after, src) < 0.75 * distance(before, src)
    return result


def test_transfer_moves_the_mouth_toward_the_source_astronaut(engine, astronaut):
    flattened = engine.exaggerate(astronaut, 0.0).image  # the same face with a neutral mouth
    _assert_mouth_moves_toward_source(engine, astronaut, flattened)


def _yaw_degrees(points: np.ndarray) -> float:
    return float(np.degrees(np.arcsin(np.clip(fit_similarity(points, load_neutral_mesh()).rotation[2, 0], -1, 1))))


def _ferplus_faces(ferplus_dir: Path, column: int, min_votes: int, count: int):
    """Upscaled (x4, gray border) FER2013Valid crops with >= min_votes for one emotion column."""
    from converters.core.fercrops import ferplus_rows, upscaled_crop

    rows = ferplus_rows(ferplus_dir / "FER2013Valid")
    for path in sorted(path for path, votes in rows if votes[column] >= min_votes)[:count]:
        yield upscaled_crop(path)


def _first(images, engine, accept):
    for image in images:
        faces = engine.mesh.process(image)
        if faces and accept(faces[0]):
            return image
    pytest.skip("no suitable face among the candidates")


def test_transfer_between_real_faces_ferplus_and_lfw(engine, ferplus_dir, lfw_dir):
    """A surprised FER+ face (open mouth) onto a frontal neutral FER+ face and an LFW photo."""
    surprised = _first(_ferplus_faces(ferplus_dir, 2, 9, 30), engine, lambda f: inner_mouth_area(f) > 0.05)
    frontal = lambda f: abs(_yaw_degrees(f.points)) < 12  # noqa: E731
    neutral = _first(_ferplus_faces(ferplus_dir, 0, 10, 30), engine, frontal)
    lfw = _first((cv2.imread(str(p)) for p in sorted((lfw_dir / "images").glob("*/*.jpg"))[:30]), engine, frontal)
    for target in (neutral, lfw):
        result = _assert_mouth_moves_toward_source(engine, surprised, target)
        assert result.mouth_from_source  # the open mouth is filled from the source
        assert inner_mouth_area(engine.mesh.process(result.image)[0]) > inner_mouth_area(result.target) + 0.02


def test_faceless_source_or_target_raise_no_face_error(engine, astronaut, tmp_path):
    blank = np.full((240, 240, 3), 128, np.uint8)
    with pytest.raises(NoFaceError, match="no face found in the source image"):
        engine.transfer(blank, astronaut)
    path = tmp_path / "wall.png"
    cv2.imwrite(str(path), blank)
    with pytest.raises(NoFaceError) as info:
        engine.transfer(astronaut, path)
    assert str(path) in str(info.value) and "target" in str(info.value)
    with pytest.raises(NoFaceError):
        engine.exaggerate(blank, 2.0)


def test_bad_options_raise_config_error(engine, astronaut):
    with pytest.raises(InputError, match="no face 3: 1 face"):
        engine.transfer(astronaut, astronaut, target_face=3)
    with pytest.raises(ConfigError, match="must be an integer >= 0. faces are numbered left to right from 0"):
        engine.transfer(astronaut, astronaut, target_face=-1)
    for bad in (-0.5, 3.5, float("nan"), "2"):
        with pytest.raises(ConfigError, match="strength"):
            engine.transfer(astronaut, astronaut, strength=bad)
    with pytest.raises(ConfigError, match="factor"):
        engine.exaggerate(astronaut, 10)


def test_cli_transfer_writes_the_photo_and_reports_errors_on_one_line(astronaut_path, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["transfer", "--target", str(astronaut_path), "--exaggerate", "1.5", "-o", str(out)]) == 0
    written = cv2.imread(str(out))
    assert written is not None and written.shape == cv2.imread(str(astronaut_path)).shape
    assert capsys.readouterr().out.strip() == str(out)

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 200, np.uint8))
    assert main(["transfer", "--source", str(blank), "--target", str(astronaut_path), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgekit: error: ") and str(blank) in err[0] and "no face" in err[0]

    with pytest.raises(SystemExit) as info:
        main(["transfer", "--target", str(astronaut_path), "-o", str(out)])
    assert info.value.code == 2
