"""One face-numbering convention (edgekit.faces): left to right from 0, default the largest."""
import pytest

from edgekit.errors import ConfigError, InputError
from edgekit.faces import left_to_right, pick_face
from edgekit.results import BoundingBox

BOXES = [BoundingBox(300, 0, 50, 50), BoundingBox(0, 0, 80, 80), BoundingBox(150, 0, 20, 20)]


def _box(b):
    return b


def test_left_to_right_then_pick():
    ordered = left_to_right(BOXES, _box)
    assert [b.x for b in ordered] == [0, 150, 300]
    assert pick_face(ordered, None, _box) == 0  # the largest
    assert pick_face(ordered, 2, _box) == 2
    assert pick_face([], None, _box) is None


@pytest.mark.parametrize("face, error, message", [(3, InputError, "no face 3: 3 face"),
                                                  (-1, ConfigError, "face number"),
                                                  (True, ConfigError, "face number"),
                                                  ("1", ConfigError, "face number")])
def test_bad_face_numbers(face, error, message):
    with pytest.raises(error, match=message):
        pick_face(left_to_right(BOXES, _box), face, _box, subject="photo.jpg")
