"""``FaceIdentifier``: face embeddings, verification and a local gallery of enrolled people.

>>> ident = FaceIdentifier()
>>> ident.enroll("Mum", ["mum1.jpg", "mum2.jpg"])
>>> ident.identify("party.jpg", face=0)          # IdentityResult(name='Mum', similarity=0.71, known=True)
>>> ident.verify("a.jpg", "b.jpg")                # (True, 0.64)

Photos go through the same steps as in :class:`edgekit.Pipeline`: BlazeFace detection, a
similarity transform from the eye keypoints onto :data:`~edgekit.identity.template.IDENTITY_TEMPLATE`
(:class:`edgekit.FaceAligner`), the INT8 embedder. When a photo holds several faces, ``face=N``
picks one, counted from the left (0 = leftmost).
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ..alignment import AlignedFace, FaceAligner
from ..errors import InputError, NoFaceError, describe
from ..faces import left_to_right
from ..imageio import ImageSource, load_image
from ..registry import InputSpec
from ..results import Detection, IdentityResult
from .embedder import DEFAULT_MODEL, FaceEmbedder
from .gallery import Gallery, GalleryPerson
from .template import IDENTITY_TEMPLATE

#: What :meth:`FaceIdentifier.embed` accepts: a photo (path or BGR array), an aligned crop, or an embedding.
FaceInput = Union[ImageSource, AlignedFace, np.ndarray]


class FaceIdentifier:
    """Embeds, verifies and identifies faces against a gallery of enrolled people.

    Args:
        model: identity model (manifest name, default ``"identity"``, or ``.tflite`` path).
        gallery_path: gallery file (default: ``identity_gallery.json`` in :func:`edgekit.userdata.data_dir`).
        num_threads: LiteRT CPU threads of each model.
        threshold: same-person cosine similarity (default: the one shipped with the model).
        detector_model / min_confidence: BlazeFace settings used for photos.

    Not thread-safe: use one identifier per thread.
    """

    def __init__(self, model: Union[str, "os.PathLike[str]"] = DEFAULT_MODEL, *,
                 gallery_path: Optional[Union[str, "os.PathLike[str]"]] = None, num_threads: int = 1,
                 threshold: Optional[float] = None, detector_model: str = "short_range", min_confidence: float = 0.5) -> None:
        self.embedder = FaceEmbedder(model, num_threads, threshold)
        self.aligner = FaceAligner(self.embedder.input_spec, IDENTITY_TEMPLATE)
        self._detector_args = dict(model=detector_model, min_confidence=min_confidence, num_threads=num_threads)
        self._detector = None
        self._gallery_path = gallery_path
        self._gallery: Optional[Gallery] = None

    # ----------------------------------------------------------------------------- properties

    @property
    def threshold(self) -> float:
        return self.embedder.threshold

    @property
    def input_spec(self) -> InputSpec:
        return self.embedder.input_spec

    @property
    def gallery(self) -> Gallery:
        """The gallery (loaded on first use; see :class:`~edgekit.identity.gallery.Gallery`)."""
        if self._gallery is None:
            self._gallery = Gallery(self.embedder.sha256, self.embedder.dim, self._gallery_path)
        return self._gallery

    # ----------------------------------------------------------------------------- embeddings

    def embed(self, face_or_photo: FaceInput, face: Optional[int] = None) -> np.ndarray:
        """L2-normalised embedding of an :class:`AlignedFace`, or of the face in a photo.

        Raises:
            NoFaceError: the photo holds no face.
            InputError: several faces and no ``face`` index, or ``face`` out of range.
        """
        if isinstance(face_or_photo, AlignedFace):
            return self.embedder.embed_aligned(face_or_photo.image)
        bgr = load_image(face_or_photo)
        return self.embed_detection(bgr, self._pick_face(bgr, face, face_or_photo))

    def embed_detection(self, image: ImageSource, detection: Detection) -> np.ndarray:
        """Embedding of one detected face of ``image`` (what :class:`edgekit.Pipeline` calls)."""
        return self.embedder.embed_aligned(self.aligner.align(image, detection).image)

    def verify(self, a: FaceInput, b: FaceInput) -> Tuple[bool, float]:
        """``(same person, cosine similarity)`` of two faces (photos with one face, aligned
        crops, or embeddings), ``same`` meaning similarity >= :attr:`threshold`."""
        similarity = float(np.dot(self._as_embedding(a), self._as_embedding(b)))
        return similarity >= self.threshold, similarity

    # ----------------------------------------------------------------------------- gallery

    def enroll(self, name: str, images: Union[FaceInput, Sequence[FaceInput]], face: Optional[int] = None) -> int:
        """Add the face of every photo in ``images`` to ``name`` (one photo or a list); returns the
        person's sample count. All photos are checked before the gallery changes, so a bad photo
        leaves it as it was. ``face=N`` picks the N-th face from the left in every photo."""
        from .gallery import check_name

        name = check_name(name)
        items = [images] if isinstance(images, (str, os.PathLike, AlignedFace, np.ndarray)) else list(images)
        if not items:
            raise InputError("no photos given", f"enroll({name!r})", "pass at least one photo of the person")
        vectors = [self._as_embedding(item, face) for item in items]
        return self.gallery.add(name, np.stack(vectors))

    def identify(self, face_or_photo: FaceInput, face: Optional[int] = None) -> IdentityResult:
        """Closest enrolled person, or ``"unknown"`` when no one reaches :attr:`threshold`."""
        return self.identify_embedding(self._as_embedding(face_or_photo, face))

    def identify_faces(self, photo: ImageSource, face: Optional[int] = None) -> List[Tuple[Detection, IdentityResult]]:
        """``(detection, identity)`` of every face of ``photo`` from left to right (only the
        ``face``-th when given); ``[]`` when there is no face."""
        bgr = load_image(photo)
        faces = [self._pick_face(bgr, face, photo)] if face is not None else self._faces(bgr)
        return [(det, self.identify_embedding(self.embed_detection(bgr, det))) for det in faces]

    def identify_embedding(self, embedding: np.ndarray) -> IdentityResult:
        name, similarity = self.gallery.best_match(np.asarray(embedding, np.float64).reshape(-1))
        known = name is not None and similarity >= self.threshold
        return IdentityResult(name if known else IdentityResult.UNKNOWN, max(similarity, -1.0), known,
                              nearest=name)

    def remove(self, name: str) -> None:
        self.gallery.remove(name)

    def list(self) -> List[GalleryPerson]:
        return self.gallery.list()

    def export(self, path: Union[str, "os.PathLike[str]"]):
        return self.gallery.export(path)

    def import_(self, path: Union[str, "os.PathLike[str]"]) -> List[str]:
        return self.gallery.import_(path)

    # ----------------------------------------------------------------------------- internals

    def _as_embedding(self, item: FaceInput, face: Optional[int] = None) -> np.ndarray:
        if isinstance(item, np.ndarray) and item.ndim == 1:
            if item.shape[0] != self.embedder.dim or not np.isfinite(item).all():
                raise InputError(f"embedding must be {self.embedder.dim} finite values", describe(item),
                                 "pass a photo, an AlignedFace or a vector from embed()")
            return item / max(float(np.linalg.norm(item)), 1e-12)
        return self.embed(item, face)

    def _faces(self, bgr: np.ndarray) -> List[Detection]:
        """Detected faces, left to right (the SDK's face numbering, :mod:`edgekit.faces`)."""
        if self._detector is None:
            from ..detection import FaceDetector

            self._detector = FaceDetector(**self._detector_args)
        return left_to_right(self._detector.detect(bgr), lambda d: d.box)

    def _pick_face(self, bgr: np.ndarray, face: Optional[int], source: object) -> Detection:
        """Face number ``face`` (left to right from 0, as everywhere); without one, the only face.
        Unlike memes (largest face by default), several faces without ``face`` is an error: enrolling
        or naming the wrong person silently would be worse than asking."""
        faces = self._faces(bgr)
        subject = os.fspath(source) if isinstance(source, (str, os.PathLike)) else describe(source)
        if not faces:
            raise NoFaceError("no face found", subject, "use a photo in which the face is visible and roughly frontal")
        if face is None:
            if len(faces) > 1:
                raise InputError(f"{len(faces)} faces found", subject,
                                 f"pick one with face=N / --face N (0 = leftmost, up to {len(faces) - 1})")
            return faces[0]
        if isinstance(face, bool) or not isinstance(face, (int, np.integer)) or not 0 <= face < len(faces):
            raise InputError(f"face index {face!r} is out of range: {len(faces)} face(s) found", subject,
                             f"use 0 (leftmost) to {len(faces) - 1}")
        return faces[int(face)]

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()

    def __enter__(self) -> "FaceIdentifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["FaceIdentifier", "FaceInput"]
