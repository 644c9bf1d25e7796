"""One face-numbering convention (edgekit.faces): left to right from 0, default the largest."""
import numpy as np
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
                                                  (-1, ConfigError, "face=-1: must be an integer >= 0"),
                                                  (True, ConfigError, "face=True: must be an integer >= 0"),
                                                  ("1", ConfigError, "face='1': must be an integer >= 0")])
def test_bad_face_numbers(face, error, message):
    with pytest.raises(error, match=message):
        pick_face(left_to_right(BOXES, _box), face, _box, subject="photo.jpg")


def test_a_bad_face_number_names_the_value_and_the_numbering():
    """The check of edgekit.validate: the parameter and its value, what is valid, what to do."""
    with pytest.raises(ConfigError) as err:
        pick_face(left_to_right(BOXES, _box), -1, _box)
    assert str(err.value) == ("face=-1: must be an integer >= 0. faces are numbered left to right from 0; "
                              "leave it out to use the largest face")
    assert pick_face(left_to_right(BOXES, _box), np.int64(1), _box) == 1  # numpy integers are face numbers too
