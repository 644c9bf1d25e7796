"""End to end through the public API with the bundled models: photo -> emotion -> captions."""
from __future__ import annotations

import edgekit


def test_photo_emotion_feeds_captions(astronaut_path):
    faces = edgekit.analyze(astronaut_path)
    assert len(faces) == 1
    emotion = faces[0].emotion
    assert emotion.label in emotion.probs and abs(sum(emotion.probs.values()) - 1.0) < 0.02
    # The classifier's quantized probabilities are accepted as they are, as result or dict.
    batch = edgekit.caption_styles(emotion, lang="en", seed=0)
    assert len({c.text for c in batch}) == 5 and len({c.style for c in batch}) == 5
    assert all(c.emotion == emotion.label for c in batch)
    assert edgekit.caption(emotion.probs, lang="zh", seed=0)[0].text
