"""The thread-safety story (SECURITY.md) holds: several threads on the same inputs get results
identical to a single-threaded run.

- ``analyze()`` and a shared ``Pipeline``: safe from any thread (calls are serialised by the
  pipeline's lock);
- one ``Pipeline`` / ``EmotionClassifier`` / ``Captioner`` per thread: parallel and identical;
- ``caption()`` / ``restyle()``: safe from any thread (module lock); the shared captioner never
  repeats a recent caption, so concurrent callers still get distinct, valid captions;
- one ``FaceIdentifier`` per thread on one gallery file, and a shared ``Pipeline(identify=True)``:
  identical embeddings and names.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np
import pytest

import edgekit
from edgekit.captioning import Captioner
from fuzz import seeds
from fuzz.checks import check_caption

THREADS = 4
ROUNDS = 3


def _frames() -> Dict[str, np.ndarray]:
    """Distinct inputs: the face at several sizes / mirrored / darker, the full demo photo, noise."""
    face = np.ascontiguousarray(seeds.face_rgb()[..., ::-1])
    photo = edgekit.load_image(__import__("edgekit.assets", fromlist=["demo_photo"]).demo_photo())
    return {
        "face": face,
        "face_small": cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA),
        "face_mirrored": np.ascontiguousarray(face[:, ::-1]),
        "face_dark": (face * 0.6).astype(np.uint8),
        "photo": photo,
        "noise": np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8),
    }


FRAMES = _frames()


def signature(faces) -> Tuple:
    """Everything a face result holds, at full precision."""
    return tuple((f.box.as_xyxy(), f.detection.keypoints, f.detection.score,
                  None if f.emotion is None else tuple(sorted(f.emotion.probs.items()))) for f in faces)


def run_threads(work: Callable[[int], List[Tuple[str, Tuple]]], threads: int = THREADS) -> List[Tuple[str, Tuple]]:
    """Run ``work(thread_index)`` in ``threads`` threads started together; all their results."""
    barrier = threading.Barrier(threads)

    def start(index: int) -> List[Tuple[str, Tuple]]:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(threads) as pool:
        return [item for part in pool.map(start, range(threads)) for item in part]


def _orders(index: int) -> List[str]:
    """Frame names in a different order for every thread and round."""
    names = sorted(FRAMES)
    rng = np.random.default_rng(index)
    return [name for _ in range(ROUNDS) for name in rng.permutation(names)]


@pytest.fixture(scope="module")
def expected() -> Dict[str, Tuple]:
    with edgekit.Pipeline() as pipe:
        results = {name: signature(pipe.process(frame).faces) for name, frame in FRAMES.items()}
    assert len(results["face"]) == 1 and len(results["photo"]) == 1 and results["noise"] == ()
    return results


def _assert_identical(results: Sequence[Tuple[str, Tuple]], expected: Dict[str, Tuple]) -> None:
    assert len(results) == THREADS * ROUNDS * len(FRAMES)
    for name, got in results:
        assert got == expected[name], f"{name}: result differs from the single-threaded run"


def test_analyze_from_many_threads(expected):
    _assert_identical(run_threads(lambda i: [(n, signature(edgekit.analyze(FRAMES[n]))) for n in _orders(i)]), expected)


def test_one_pipeline_shared_by_many_threads(expected):
    with edgekit.Pipeline() as pipe:
        _assert_identical(run_threads(lambda i: [(n, signature(pipe.process(FRAMES[n]).faces)) for n in _orders(i)]),
                          expected)


def test_one_pipeline_per_thread(expected):
    def work(index: int) -> List[Tuple[str, Tuple]]:
        with edgekit.Pipeline() as pipe:
            return [(n, signature(pipe.process(FRAMES[n]).faces)) for n in _orders(index)]

    _assert_identical(run_threads(work), expected)


def test_one_emotion_classifier_per_thread():
    crops = {n: f for n, f in FRAMES.items() if n.startswith("face")}
    single = edgekit.EmotionClassifier()
    reference = {n: single.predict(crop).probs for n, crop in crops.items()}

    def work(index: int) -> List[Tuple[str, Dict]]:
        clf = edgekit.EmotionClassifier()
        return [(n, clf.predict(crops[n]).probs) for _ in range(ROUNDS) for n in sorted(crops)]

    for name, probs in run_threads(work):
        assert probs == reference[name]


def test_one_captioner_per_thread_is_reproducible():
    def session(captioner: Captioner) -> List[str]:
        out = captioner.generate("happiness", style="anime", lang="zh", n=3)
        out += captioner.caption_styles({"sadness": 0.7, "neutral": 0.3}, lang="en")
        return [c.text for c in out]

    reference = {seed: session(Captioner(seed=seed)) for seed in range(THREADS)}
    results = run_threads(lambda i: [(i, session(Captioner(seed=i)))])
    assert {i: texts for i, texts in results} == reference


def test_module_level_caption_functions_from_many_threads():
    def work(index: int) -> List[Tuple[int, object]]:
        got = [(index, c) for c in edgekit.caption("surprise", lang="en", n=3)]
        got += [(index, c) for c in edgekit.caption_styles("anger", lang="zh")]
        # each thread restyles its own sentence: a style voice has 6-8 fragments per emotion, so one
        # sentence restyled by many threads would run out of distinct results by design
        got += [(index, c) for c in edgekit.restyle(f"Monday number {index + 1} again, send coffee", style="dramatic")]
        return got

    results = run_threads(work)
    assert len(results) == THREADS * 9
    for _, caption in results:
        check_caption(caption)
    texts = [c.text for _, c in results]
    assert len(set(texts)) == len(texts), "the shared captioner repeated a recent caption under concurrency"


def test_make_meme_from_many_threads():
    """Memes (detection, emotion and rendering through the shared cached pipeline) are identical
    to a single-threaded rendering; the caption is given so only the rendering path is compared."""
    import edgekit.meme as meme
    photo = np.ascontiguousarray(cv2.resize(FRAMES["face"], (192, 192)))
    texts = ["when the build is green", "monday again", "ship it"]
    reference = {t: np.asarray(meme.make_meme(photo, text=t, lang="en").image).tobytes() for t in texts}
    results = run_threads(lambda i: [(t, np.asarray(meme.make_meme(photo, text=t, lang="en").image).tobytes())
                                     for t in texts[i % 3:] + texts[:i % 3]])
    assert len(results) == THREADS * len(texts)
    assert all(image == reference[t] for t, image in results)


@pytest.fixture(scope="module")
def gallery_file(tmp_path_factory) -> str:
    """A gallery with two 'people' (the test face and its darker copy), written once, then read-only."""
    import edgekit.identity as identity
    path = str(tmp_path_factory.mktemp("gallery") / "gallery.json")
    with identity.FaceIdentifier(gallery_path=path) as ident:
        ident.enroll("face", FRAMES["face"])
        ident.enroll("photo", FRAMES["photo"])
    return path


def identity_signature(ident, name: str) -> Tuple:
    """Embedding bytes and identify() result of one input (faces only; noise has none)."""
    frame = FRAMES[name]
    if name == "noise":
        return ()
    embedding = ident.embed(frame)
    return embedding.tobytes(), ident.identify(frame)


def test_one_face_identifier_per_thread(gallery_file):
    import edgekit.identity as identity
    with identity.FaceIdentifier(gallery_path=gallery_file) as single:
        reference = {n: identity_signature(single, n) for n in FRAMES}
    assert reference["face"][1].name == "face" and reference["photo"][1].name == "photo"

    def work(index: int) -> List[Tuple[str, Tuple]]:
        with identity.FaceIdentifier(gallery_path=gallery_file) as ident:
            return [(n, identity_signature(ident, n)) for n in _orders(index)]

    _assert_identical(run_threads(work), reference)


def test_identifying_pipeline_shared_by_many_threads(gallery_file):
    def names(faces) -> Tuple:
        return signature(faces) + tuple(f.identity for f in faces)

    with edgekit.Pipeline(identify=True, gallery_path=gallery_file) as pipe:
        reference = {n: names(pipe.process(frame).faces) for n, frame in FRAMES.items()}
        assert reference["face"][-1].name == "face"
        _assert_identical(run_threads(lambda i: [(n, names(pipe.process(FRAMES[n]).faces)) for n in _orders(i)]),
                          reference)
