"""The shipped identity model on real LFW faces (skipped when ../shared/data/lfw or the trained
model is absent). Assertions are aggregate (many pairs), so they test the model as shipped, not
one lucky photo."""
from __future__ import annotations

import numpy as np
import pytest

from edgekit import registry


@pytest.fixture(scope="module")
def shipped():
    from edgekit import FaceIdentifier

    assert registry.load_manifest()["models"]["identity"]["task"] == "identity"
    return FaceIdentifier()


def _photo(lfw_dir, name, number):
    return lfw_dir / "images" / name / f"{name}_{number:04d}.jpg"


def _embed(ident, path):
    """Embedding of the labelled LFW face (the detection nearest the image centre, as in training;
    LFW photos often show other people too)."""
    from converters.identity.data import centre_face
    from edgekit import FaceDetector, load_image

    image = load_image(path)
    det = centre_face(FaceDetector().detect(image), image.shape[1], image.shape[0])
    return ident.embed_detection(image, det)


def test_verification_on_pairs_dev_train(lfw_dir, shipped):
    """40 matched + 40 mismatched pairsDevTrain pairs through the whole runtime path; the shipped
    model must be clearly better than chance (its people overlap training: fit, not generalisation)."""
    from converters.identity.data import read_pairs

    pairs = read_pairs(lfw_dir / "pairsDevTrain.txt")
    chosen = pairs[:1100:27][:40] + pairs[1100::27][:40]
    results = [(shipped.verify(_embed(shipped, _photo(lfw_dir, a, i)), _embed(shipped, _photo(lfw_dir, b, j))), same)
               for a, i, b, j, same in chosen]
    accuracy = np.mean([decided == same for (decided, _), same in results])
    matched = np.mean([s for (_, s), same in results if same])
    mismatched = np.mean([s for (_, s), same in results if not same])
    assert matched > mismatched + 0.1
    assert accuracy >= 0.7, accuracy


def test_identify_enrolled_people(lfw_dir, shipped, tmp_path, monkeypatch):
    """Enrol four people with 3 photos each; 4 further photos of each are mostly identified right."""
    from edgekit import FaceIdentifier

    monkeypatch.setenv("EDGEKIT_DATA_DIR", str(tmp_path))
    ident = FaceIdentifier()
    people = ["Colin_Powell", "George_W_Bush", "Tony_Blair", "Donald_Rumsfeld"]
    people = [p for p in people if _photo(lfw_dir, p, 7).is_file()]
    if len(people) < 3:
        pytest.skip("the LFW copy lacks the prolific people this test uses")
    for person in people:
        ident.enroll(person, [_embed(ident, _photo(lfw_dir, person, k)) for k in (1, 2, 3)])
    hits = [ident.identify(_embed(ident, _photo(lfw_dir, person, k))).name == person for person in people for k in (4,
                                                                                                                    5,
                                                                                                                    6,
                                                                                                                    7)]
    assert np.mean(hits) >= 0.6, hits
    stranger = ident.identify(_embed(ident, _photo(lfw_dir, "Aaron_Peirsol", 1)))
    assert stranger.nearest in people and stranger.similarity < 1.0
