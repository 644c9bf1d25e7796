"""The caption evaluation (converters/caption/evaluate.py) counts unasked scenes with the runtime's check."""
from __future__ import annotations

from types import SimpleNamespace

from converters.caption.evaluate import integrity


class _Fixed:
    """A captioner stand-in that answers every request with its language's fixed text."""

    def __init__(self, texts):
        self.texts = texts

    def generate(self, emotion, style=None, scene=None, lang="zh", seed=None):
        return [SimpleNamespace(text=self.texts[lang])]


def test_integrity_counts_situations_as_unasked_scenes():
    situations = integrity(_Fixed({"zh": "深夜的我：还好", "en": "Just sitting on this morning. Can't."}), 12, 0)
    assert situations["no_scene_requests"] == 4 and situations["unasked_scene"] == 4
    assert set(situations["unasked_examples"]) == {"深夜的我：还好", "Just sitting on this morning. Can't."}
    clean = integrity(_Fixed({"zh": "这一刻，什么都刚刚好", "en": "Just sitting on this feeling. Can't."}), 12, 0)
    assert clean["unasked_scene"] == 0 and clean["damaged_doubles"] == 0
