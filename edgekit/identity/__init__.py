"""Face identity on device: embeddings, verification and a local gallery of enrolled people.

``FaceIdentifier`` (photos -> L2-normalised embeddings -> verify / enroll / identify) runs the
INT8 identity model on LiteRT; the gallery keeps embeddings only, never face images. Names are
imported on first use, so ``import edgekit.identity`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict

_LAZY: Dict[str, str] = {
    "FaceIdentifier": "identifier",
    "FaceEmbedder": "embedder",
    "FaceIdentifierOptions": "identifier",
    "FaceEmbedderOptions": "embedder",
    "Gallery": "gallery",
    "GalleryPerson": "gallery",
    "IDENTITY_TEMPLATE": "template",
}

__all__ = list(_LAZY)

if TYPE_CHECKING:
    from .embedder import FaceEmbedder  # noqa: F401
    from .gallery import Gallery, GalleryPerson  # noqa: F401
    from .identifier import FaceIdentifier  # noqa: F401
    from .template import IDENTITY_TEMPLATE  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgekit.identity' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
