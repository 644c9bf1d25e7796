"""``FaceIdentifier``: face embeddings, verification and a local gallery of enrolled people.

>>> ident = FaceIdentifier()
>>> ident.enroll("Mum", ["mum1.jpg", "mum2.jpg"])
>>> ident.identify("party.jpg", face=0)          # IdentityResult(name='Mum', similarity=0.71, known=True)
>>> ident.verify("a.jpg", "b.jpg")                # (True, 0.64)

Photos go through the same steps as in :class:`edgekit.Pipeline`: BlazeFace detection, a
similarity transform from the eye keypoints onto :data:`~edgekit.identity.template.IDENTITY_TEMPLATE`
(:class:`edgekit.FaceAligner`), the INT8 embedder. When a photo holds several faces the largest is
used (the SDK's rule, :mod:`edgekit.faces`); ``face=N`` picks another, counted from the left
(0 = leftmost), and :attr:`FaceIdentifier.last_faces` / ``IdentityResult.face`` say which was used.
"""
from __future__ import annotations

import os
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..alignment import AlignedFace, FaceAligner
from ..errors import InputError, NoFaceError, describe
from ..faces import left_to_right, pick_face
from ..imageio import ImageSource, load_image
from ..options import CreateFromOptions, options_from
from ..registry import InputSpec
from ..results import Detection, IdentityResult
from ..task_options import MARGIN, FaceIdentifierOptions
from ..validate import check
from .embedder import FaceEmbedder
from .gallery import Gallery, GalleryPerson
from .template import IDENTITY_TEMPLATE

#: What :meth:`FaceIdentifier.embed` accepts: a photo (path or BGR array), an aligned crop, or an embedding.
FaceInput = Union[ImageSource, AlignedFace, np.ndarray]


class FaceIdentifier(CreateFromOptions):
    """Embeds, verifies and identifies faces against a gallery of enrolled people.

    ``FaceIdentifier(options)``, ``FaceIdentifier(**fields)`` or ``FaceIdentifier("model name or
    path", **fields)``; the fields (``model``, ``num_threads``, ``threshold``, ``gallery_path``,
    ``margin``, ``detector``, ``min_confidence``) are :class:`FaceIdentifierOptions`'.

    Not thread-safe: use one identifier per thread. Any number of identifiers (threads, processes)
    may share one gallery file: enrolments are merged under its lock and each identifier sees the
    others' (see :class:`~edgekit.identity.gallery.Gallery`).
    """

    OPTIONS = FaceIdentifierOptions

    def __init__(self, options: Union[FaceIdentifierOptions, str, "os.PathLike[str]", None] = None,
                 **kwargs: Any) -> None:
        self.options = opts = options_from(FaceIdentifierOptions, options, kwargs)
        self.embedder = FaceEmbedder(opts.embedder_options)
        self.aligner = FaceAligner(self.embedder.input_spec, IDENTITY_TEMPLATE)
        self._detector = None
        self._gallery_path = opts.gallery_path
        self._gallery: Optional[Gallery] = None
        chosen = self.embedder.settings.get("margin", 0.0) if opts.margin is None else opts.margin
        self.margin = float(check("margin", chosen, MARGIN))  # the manifest's too
        #: Face numbers used by the last public call, one per input (None for crops and embeddings),
        #: and how many faces each photo had.
        self.last_faces: List[Optional[int]] = []
        self.last_face_counts: List[Optional[int]] = []

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
        """L2-normalised embedding of an :class:`AlignedFace`, or of a face in a photo: the largest
        one, or face number ``face`` (left to right from 0); :attr:`last_faces` says which.

        Raises:
            NoFaceError: the photo holds no face.
            InputError: the photo has no face number ``face``.
        """
        embedding, *choice = self._embedding(face_or_photo, face)
        self._record([choice])
        return embedding

    def embed_detection(self, image: ImageSource, detection: Detection) -> np.ndarray:
        """Embedding of one detected face of ``image``."""
        return self._embed_checked(load_image(image), detection)

    def _embed_checked(self, bgr: np.ndarray, detection: Detection) -> np.ndarray:
        """:meth:`embed_detection` on a frame :func:`~edgekit.imageio.load_image` already returned
        (what :class:`edgekit.Pipeline` calls)."""
        return self.embedder.embed_aligned(self.aligner._align_checked(bgr, detection).image)

    def verify(self, a: FaceInput, b: FaceInput, face_a: Optional[int] = None,
               face_b: Optional[int] = None) -> Tuple[bool, float]:
        """``(same person, cosine similarity)`` of two faces (photos: the largest face of each, or
        face number ``face_a`` / ``face_b`` from the left; :attr:`last_faces` says which; aligned
        crops; or embeddings), ``same`` meaning similarity >= :attr:`threshold`. A background face
        is never an error; asking for a face the photo does not have is (InputError)."""
        (ea, *ca), (eb, *cb) = self._embedding(a, face_a), self._embedding(b, face_b)
        self._record([ca, cb])
        similarity = float(np.dot(ea, eb))
        return similarity >= self.threshold, similarity

    # ----------------------------------------------------------------------------- gallery

    def enroll(self, name: str, images: Union[FaceInput, Sequence[FaceInput]], face: Optional[int] = None) -> int:
        """Add a face of every photo in ``images`` to ``name`` (one photo or a list): the largest,
        or the ``face``-th from the left; returns the person's sample count. All photos are checked
        before the gallery changes, so a bad photo leaves it as it was."""
        from .gallery import check_name

        name = check_name(name)
        items = [images] if isinstance(images, (str, os.PathLike, AlignedFace, np.ndarray)) else list(images)
        if not items:
            raise InputError("no photos given", f"enroll({name!r})", "pass at least one photo of the person")
        done = [self._embedding(item, face) for item in items]
        self._record([choice for _, *choice in done])
        return self.gallery.add(name, np.stack([e for e, *_ in done]))

    def identify(self, face_or_photo: FaceInput, face: Optional[int] = None) -> IdentityResult:
        """Closest enrolled person, or ``"unknown"`` (see :meth:`identify_embedding`); for a photo,
        ``result.face`` says which face was used (the largest unless ``face=N``)."""
        embedding, used, count = self._embedding(face_or_photo, face)
        self._record([(used, count)])
        return self.identify_embedding(embedding, used)

    def identify_faces(self, photo: ImageSource, face: Optional[int] = None) -> List[Tuple[Detection, IdentityResult]]:
        """``(detection, identity)`` of every face of ``photo`` from left to right (only the
        ``face``-th when given); ``[]`` when there is no face."""
        bgr = load_image(photo)
        faces = self._faces(bgr)
        numbers = [pick_face(faces, face, lambda d: d.box, _subject(photo))] if face is not None else range(len(faces))
        return [(faces[k], self.identify_embedding(self.embed_detection(bgr, faces[k]), k)) for k in numbers]

    def identify_embedding(self, embedding: np.ndarray, face: Optional[int] = None) -> IdentityResult:
        """The closest enrolled person when their similarity reaches :attr:`threshold` and beats
        the runner-up by at least :attr:`margin`; otherwise ``"unknown"``."""
        ranked = self.gallery.ranked(np.asarray(embedding, np.float64).reshape(-1))
        if not ranked:
            return IdentityResult(IdentityResult.UNKNOWN, -1.0, False, nearest=None, face=face)
        name, similarity = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else None
        known = similarity >= self.threshold and (runner_up is None or similarity - runner_up >= self.margin)
        return IdentityResult(name if known else IdentityResult.UNKNOWN, similarity, known, nearest=name,
                              face=face, runner_up=runner_up)

    def remove(self, name: str) -> None:
        self.gallery.remove(name)

    def list(self) -> List[GalleryPerson]:
        return self.gallery.list()

    def export(self, path: Union[str, "os.PathLike[str]"]):
        return self.gallery.export(path)

    def import_(self, path: Union[str, "os.PathLike[str]"]) -> List[str]:
        return self.gallery.import_(path)

    # ----------------------------------------------------------------------------- internals

    def _embedding(self, item: FaceInput,
                   face: Optional[int] = None) -> Tuple[np.ndarray, Optional[int], Optional[int]]:
        """``(unit embedding, face number used, faces in the photo)``; both None for crops and embeddings."""
        if isinstance(item, np.ndarray) and item.ndim == 1:
            if item.shape[0] != self.embedder.dim or not np.isfinite(item).all():
                raise InputError(f"embedding must be {self.embedder.dim} finite values", describe(item),
                                 "pass a photo, an AlignedFace or a vector from embed()")
            return item / max(float(np.linalg.norm(item)), 1e-12), None, None
        if isinstance(item, AlignedFace):
            return self.embedder.embed_aligned(item.image), None, None
        bgr = load_image(item)
        faces = self._faces(bgr)
        subject = _subject(item)
        if not faces:
            raise NoFaceError("no face found", subject, "use a photo in which the face is visible and roughly frontal")
        k = pick_face(faces, face, lambda d: d.box, subject)
        return self._embed_checked(bgr, faces[k]), k, len(faces)

    def _record(self, choices: Sequence[Sequence[Optional[int]]]) -> None:
        """Remember which face each input of the last call used, and how many faces it had."""
        self.last_faces = [used for used, _ in choices]
        self.last_face_counts = [count for _, count in choices]

    def _faces(self, bgr: np.ndarray) -> List[Detection]:
        """Detected faces, left to right (the SDK's face numbering, :mod:`edgekit.faces`)."""
        if self._detector is None:
            from ..detection import FaceDetector

            self._detector = FaceDetector(self.options.detector_options)
        return left_to_right(self._detector._detect_checked(bgr), lambda d: d.box)

    def close(self) -> None:
        """Release the models (detector, embedder); later calls raise ConfigError."""
        if self._detector is not None:
            self._detector.close()
        self.embedder.close()

    def __enter__(self) -> "FaceIdentifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _subject(source: object) -> str:
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else describe(source)


__all__ = ["FaceIdentifier", "FaceIdentifierOptions", "FaceInput"]
