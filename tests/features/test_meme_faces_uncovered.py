"""A caption never covers a face (#25): every placement on photos with two and three faces, any
chosen face, short and long captions, in both languages."""
from __future__ import annotations

import itertools

import pytest
from PIL import Image

from edgekit.meme.compose import compose_around_faces, chain_for, overlaps

CAPTIONS = {"zh": ("这波快乐直接拉满！", "当你以为周末终于来了结果闹钟还是六点响起的那一刻我真的会谢"),
            "en": ("Me, thriving.",
                   "When you finally relax and the group chat explodes with plans for the entire weekend")}
# face boxes (x0, y0, x1, y1) on a 640x480 photo: side by side with room above, a tight row, and three faces
LAYOUTS = {
    "two, room above": [(90, 200, 250, 380), (390, 190, 550, 370)],
    "two, tight": [(40, 60, 300, 420), (330, 50, 600, 430)],
    "three": [(30, 150, 200, 330), (235, 120, 405, 300), (440, 160, 610, 340)],
    "three, stacked": [(60, 20, 220, 180), (380, 150, 540, 310), (120, 300, 280, 460)],
}


@pytest.mark.parametrize("layout,placement,lang",
                         list(itertools.product(LAYOUTS, ("auto", "top", "bottom", "bubble"), ("zh", "en"))))
def test_no_placement_covers_any_face(layout, placement, lang):
    photo = Image.new("RGB", (640, 480), (120, 130, 140))
    faces = LAYOUTS[layout]
    for text, chosen in itertools.product(CAPTIONS[lang], range(len(faces))):
        comp = compose_around_faces(photo, text, chain_for(text, lang), faces, chosen, placement)
        px, py = comp.photo_box[:2]  # a caption band shifts the photo on the canvas
        for face in faces:
            shifted = (face[0] + px, face[1] + py, face[2] + px, face[3] + py)
            assert not overlaps(comp.text_box, shifted), (layout, placement, text, chosen, comp.placement,
                                                          comp.text_box, face)


def test_overlaps():
    assert overlaps((0, 0, 10, 10), (5, 5, 15, 15)) and not overlaps((0, 0, 10, 10), (10, 0, 20, 10))
