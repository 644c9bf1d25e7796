"""The one FER+ label.csv reader and votes -> majority rule (converters.core.fercrops) on tiny
generated FER+ trees: rows in file order, blank lines skipped, bad files named, the two tie rules."""
from __future__ import annotations

import numpy as np
import pytest

from converters.aus.common import majority
from converters.core.fercrops import ferplus_rows, majority_labels
from converters.emotion import synthetic
from edgekit.errors import InputError


@pytest.fixture
def split(tmp_path):
    return synthetic.write_ferplus(tmp_path / "ferplus", per_class=2, splits=("FER2013Valid",)) / "FER2013Valid"


def test_rows_in_file_order_with_the_votes_the_generator_wrote(split):
    rows = ferplus_rows(split)
    assert [path.name for path, _ in rows] == [f"fer{i:07d}.png" for i in range(16)]
    assert all(path.parent == split and path.is_file() for path, _ in rows)
    votes = np.stack([v for _, v in rows])
    assert votes.shape == (16, 10) and votes.dtype == np.float32
    assert (votes.sum(axis=1) == 10).all() and (votes[:, 8] == 1).all()  # synthetic: 7 + 2 emotion votes, 1 unknown
    # the generator writes two faces per class, classes in order; both tie rules read them so
    expected = np.repeat(np.arange(8), 2).tolist()
    assert majority_labels(votes).tolist() == expected
    assert majority_labels(votes, emotion_wins_ties=False).tolist() == expected


def test_blank_lines_are_skipped_and_names_stripped(split):
    label = split / "label.csv"
    lines = label.read_text().splitlines()
    label.write_text("\n".join([lines[0], "", " " + lines[1], ",,,,,,,,,,,", *lines[2:]]) + "\n")
    rows = ferplus_rows(split)
    assert len(rows) == 16 and rows[1][0].name == "fer0000001.png"


@pytest.mark.parametrize("text, message", [
    ("fer0000000.png,1,2,3\n", "line 1 has 4 columns"),
    ('fer0000000.png,"(0, 0, 48, 48)",7,0,0,0,0,0,x,0,1,0\n', "line 1 has a non-numeric vote count"),
    ("\n", "has no rows"),
])
def test_bad_label_csv_raises_naming_the_file(split, text, message):
    (split / "label.csv").write_text(text)
    with pytest.raises(InputError, match=message) as err:
        ferplus_rows(split)
    assert "label.csv" in str(err.value)


def test_missing_label_csv(tmp_path):
    with pytest.raises(InputError, match="no label.csv"):
        ferplus_rows(tmp_path)


def test_an_emotion_tied_with_unknown_or_not_a_face_is_the_one_difference_of_the_two_rules():
    votes = np.array([
        [6, 2, 0, 0, 0, 0, 0, 0, 2, 0],  # neutral under both
        [0, 0, 0, 0, 0, 0, 0, 5, 5, 0],  # contempt tied with unknown
        [0, 0, 4, 0, 0, 0, 0, 0, 0, 4],  # surprise tied with not-a-face
        [4, 4, 0, 0, 0, 0, 0, 0, 2, 0],  # emotions tied: none under both
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # no votes
    ], np.float32)
    assert majority_labels(votes).tolist() == [0, 7, 2, -1, -1]
    assert majority_labels(votes, emotion_wins_ties=False).tolist() == [0, -1, -1, -1, -1]
    assert [majority(v) for v in votes] == [0, -1, -1, -1, -1]  # the AU toolchain's rule
