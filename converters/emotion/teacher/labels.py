"""Read a teacher's ``teacher_labels.npz`` (names + probabilities) into training targets."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit.errors import InputError


def teacher_probabilities(path: Path, names: Sequence[str]) -> np.ndarray:
    """The teacher's ``[N, 8]`` probabilities for the faces ``names``, in that order.

    InputError when the file is missing or unreadable, or when it has no row for some of
    the faces (the teacher was made from another data set).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("does not exist", path, "make it with `python -m converters.emotion.teacher train` "
                         "(see reports/emotion_teacher/report.md)")
    try:
        with np.load(path) as z:
            row = {str(n): i for i, n in enumerate(z["names"])}
            probs = z["probs"].astype(np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"is not a teacher_labels.npz with 'names' and 'probs' ({exc})", path,
                         "pass the file written by `python -m converters.emotion.teacher train`") from None
    missing = [n for n in names if n not in row]
    if missing:
        raise InputError(f"has no teacher probabilities for {len(missing)} of {len(names)} training faces "
                         f"(first: {', '.join(missing[:3])})", path,
                         "make the teacher labels from the same training set")
    return probs[[row[n] for n in names]]


def mix_targets(targets: np.ndarray, teacher: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` x the teacher's probabilities + (1 - ``weight``) x the human targets."""
    return (weight * teacher + (1.0 - weight) * targets).astype(np.float32)
