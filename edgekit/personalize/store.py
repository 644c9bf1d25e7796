"""``FeedbackStore``: caption feedback kept on this device, in ``<data dir>/feedback.json``.

The file is a versioned document (``{"kind": "feedback", "version": 1, "events": [...],
"folded": ...}``) written atomically while holding an advisory lock (``feedback.json.lock``), after
re-reading the file (:class:`edgekit.userdata.StoreFile`), so several processes can record at
once and :meth:`FeedbackStore.record` returns only once its event is on disk. The file is read
only when it is a regular file (never through a link) that no other user could have written, of
at most :data:`MAX_FILE_BYTES` and :data:`MAX_FILE_EVENTS` events; imports have the same caps.

The newest ``max_events`` events are kept verbatim; older ones are folded into decayed tallies
(:func:`~edgekit.personalize.preferences.fold`), which changes no preference. An unreadable file
is moved aside to ``feedback.json.corrupt-<time>``, every event that can still be parsed out of
it is recovered into a rebuilt store, and a :class:`FeedbackWarning` says so; a file written by a
newer edgekit raises :class:`~edgekit.errors.ConfigError` and is left alone.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ContextManager, Dict, List, Optional, Sequence, Tuple, Union

from ..errors import InputError
from ..userdata import Signature, StoreFile, atomic_write_json, data_dir, load_export
from ..validate import check, integer, number
from .events import ACTIONS, FeedbackEvent, make_event
from .preferences import DEFAULT_HALF_LIFE_DAYS, Preferences, Score, accumulate, fold

PathLike = Union[str, "os.PathLike[str]"]
FILE_NAME = "feedback.json"
KIND = "feedback"
VERSION = 1
#: Events kept verbatim; older ones are folded into tallies.
MAX_EVENTS = 2000
#: Largest feedback file read (the store or an import), in bytes.
MAX_FILE_BYTES = 16 * 2**20
#: Most events a feedback file may hold (the store or an import); also the largest ``max_events``.
MAX_FILE_EVENTS = 20_000
Folded = Optional[Tuple[float, Preferences]]
#: ``half_life_days``: days after which feedback weighs half as much.
HALF_LIFE = number(0, lo_open=True,
                   hint=f"feedback weighs half after this many days, e.g. half_life_days={DEFAULT_HALF_LIFE_DAYS:g}")
#: ``max_events``: events kept verbatim.
KEPT_EVENTS = integer(1, MAX_FILE_EVENTS, hint=f"e.g. max_events={MAX_EVENTS}; older events are folded into tallies")


class FeedbackWarning(UserWarning):
    """Something about the feedback store the user should know (e.g. a corrupt file was rebuilt)."""


@dataclass(frozen=True)
class StoreState:
    """What the file holds: verbatim events (oldest first) and folded tallies ``(at, tallies)``."""

    events: Tuple[FeedbackEvent, ...] = ()
    folded: Folded = None

    def to_document(self) -> Dict[str, Any]:
        folded = None if self.folded is None else {"at": self.folded[0], **self.folded[1].to_json()}
        return {"kind": KIND, "version": VERSION, "events": [e.to_dict() for e in self.events], "folded": folded}

    @classmethod
    def from_document(cls, doc: Dict[str, Any], source: Optional[Path] = None) -> "StoreState":
        """ValueError when the events or the folded tallies are malformed; InputError naming
        ``source`` when it holds more than :data:`MAX_FILE_EVENTS` events."""
        events = doc.get("events", [])
        if not isinstance(events, list):
            raise ValueError("'events' is not a list")
        if len(events) > MAX_FILE_EVENTS:
            raise InputError(f"holds {len(events):,} events; a feedback file holds at most {MAX_FILE_EVENTS:,}", source,
                             "edgekit never writes more: use a file written by `edgekit feedback --export`")
        return cls(tuple(FeedbackEvent.from_dict(e) for e in events), _folded(doc.get("folded")))

    def merged(self, events: Sequence[FeedbackEvent]) -> "StoreState":
        """This state plus the ``events`` it does not hold yet (by id), in time order."""
        by_id = {e.id: e for e in self.events}
        for event in events:
            by_id.setdefault(event.id, event)
        return StoreState(tuple(sorted(by_id.values(), key=lambda e: e.ts)), self.folded)


def _folded(data: Any) -> Folded:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("at"), (int, float)) or not math.isfinite(data["at"]):
        raise ValueError("'folded' is malformed")
    return float(data["at"]), Preferences.from_json(data)


def salvage(raw: bytes) -> StoreState:
    """Every valid event (and the folded tallies, when intact) found in a damaged store file."""
    text = raw.decode("utf-8", errors="replace")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        doc = None
    objects: List[Any] = []
    if isinstance(doc, dict):
        objects = list(doc.get("events") or []) if isinstance(doc.get("events"), list) else []
        objects.append(doc.get("folded"))
    else:  # truncated or garbled JSON: try every object that still parses on its own
        decoder = json.JSONDecoder()
        for match in re.finditer(r"\{", text):
            with contextlib.suppress(ValueError, RecursionError):
                objects.append(decoder.raw_decode(text, match.start())[0])
    events: List[FeedbackEvent] = []
    folded: Folded = None
    for obj in objects:
        with contextlib.suppress(ValueError, TypeError):
            if isinstance(obj, dict) and "at" in obj and "styles" in obj:
                folded = folded or _folded(obj)
            elif obj is not None:
                events.append(FeedbackEvent.from_dict(obj))
    return StoreState((), folded).merged(events)


@dataclass(frozen=True)
class RankedCaption:
    """A candidate with its personal score (see :mod:`edgekit.personalize.preferences`)."""

    caption: Any
    text: str
    style: Optional[str]
    score: Score


@dataclass(frozen=True)
class ResetResult:
    """What :meth:`FeedbackStore.reset` removed."""

    events: int
    folded_events: int
    files: List[Path] = field(default_factory=list)


class FeedbackStore:
    """Like / dislike / used feedback on captions, and the preferences learnt from it.

    Args:
        path: the store file (default: ``edgekit.userdata.data_dir() / "feedback.json"``). Nothing
            is created until the first :meth:`record`.
        half_life_days: feedback loses half its weight after this many days.
        max_events: events kept verbatim (older ones are folded into tallies), at most
            :data:`MAX_FILE_EVENTS`.

    Several store objects and processes may use one file: each call re-reads it when it changed.
    """

    def __init__(self, path: Optional[PathLike] = None, *, half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
                 max_events: int = MAX_EVENTS) -> None:
        check("half_life_days", half_life_days, HALF_LIFE)
        check("max_events", max_events, KEPT_EVENTS)
        self.path = Path(path) if path is not None else data_dir(create=False) / FILE_NAME
        self._file = StoreFile(self.path, KIND, VERSION, MAX_FILE_BYTES, "feedback file")
        self.half_life_s = float(half_life_days) * 86400.0
        self.max_events = max_events
        #: Warnings issued by this object (also sent through :mod:`warnings` as FeedbackWarning).
        self.warnings: List[str] = []
        self._state = StoreState()
        self._sig: Optional[Signature] = None

    # ------------------------------------------------------------------ file access
    def _locked(self) -> ContextManager[None]:
        """The store's lock (see :meth:`edgekit.userdata.StoreFile.locked`)."""
        return self._file.locked()

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, FeedbackWarning, stacklevel=4)

    def _read(self) -> StoreState:
        """The file's current state (cached until the file changes)."""
        sig = self._file.signature()
        if sig is not None and sig == self._sig:
            return self._state
        if sig is None:
            self._state, self._sig = StoreState(), None
            return self._state
        # ConfigError: newer version / other kind; InputError: a file edgekit must not read
        loaded = self._file.load(lambda doc: StoreState.from_document(doc, self.path))
        if loaded.backup is not None:
            return self._recover(loaded.backup, loaded.reason)
        self._state, self._sig = loaded.value or StoreState(), loaded.signature
        return self._state

    def _recover(self, backup: Path, reason: str) -> StoreState:
        """Rebuild the store from what can be parsed out of the moved-aside ``backup``."""
        found = salvage(backup.read_bytes())
        with self._locked():
            current = self._read()
            state = current.merged(found.events)
            if current.folded is None and found.folded is not None:
                state = StoreState(state.events, found.folded)
            self._write(state)
        folded = f" and {found.folded[1].n_events} older folded events" if found.folded else ""
        self._warn(f"{self.path}: feedback store was unreadable ({reason}); it was moved to {backup} and rebuilt "
                   f"with the {len(found.events)} events{folded} recovered from it")
        return self._state

    def _write(self, state: StoreState) -> None:
        self._state, self._sig = state, self._file.write(state.to_document())

    def _compact(self, state: StoreState) -> StoreState:
        extra = len(state.events) - self.max_events
        if extra <= 0:
            return state
        return StoreState(state.events[extra:], fold(list(state.events[:extra]), state.folded, self.half_life_s))

    # ------------------------------------------------------------------ recording
    def record(self, action: str, text: str, *, style: Optional[str] = None, scene: Optional[str] = None,
               emotion: Optional[str] = None, lang: Optional[str] = None, ts: Optional[float] = None) -> FeedbackEvent:
        """Record ``action`` (like, dislike, used) on caption ``text``; durable when this returns."""
        event = make_event(action, text, style=style, scene=scene, emotion=emotion, lang=lang, ts=ts)
        with self._locked():
            state = self._read()
            self._write(self._compact(state.merged([event])))
        return event

    def like(self, text: str, **tags: Any) -> FeedbackEvent:
        return self.record("like", text, **tags)

    def dislike(self, text: str, **tags: Any) -> FeedbackEvent:
        return self.record("dislike", text, **tags)

    def used(self, text: str, **tags: Any) -> FeedbackEvent:
        return self.record("used", text, **tags)

    # ------------------------------------------------------------------ reading
    def events(self) -> List[FeedbackEvent]:
        """The events kept verbatim, oldest first."""
        return list(self._read().events)

    def preferences(self, now: Optional[float] = None) -> Preferences:
        """Style / phrase / caption preferences at ``now`` (default: the current time)."""
        state = self._read()
        return accumulate(state.events, state.folded, time.time() if now is None else now, self.half_life_s)

    def rerank(self, candidates: Sequence[Any], now: Optional[float] = None) -> List[RankedCaption]:
        """Candidates (strings, or objects with ``.text`` and ``.style`` such as
        :class:`edgekit.Caption`) ordered by personal score, best first (ties keep their order)."""
        prefs = self.preferences(now)
        ranked = []
        for cand in candidates:
            text = cand if isinstance(cand, str) else cand.text
            style = None if isinstance(cand, str) else getattr(cand, "style", None)
            ranked.append(RankedCaption(cand, text, style, prefs.score(text, style)))
        return sorted(ranked, key=lambda r: -r.score.total)

    def backups(self) -> List[Path]:
        """Corrupt store files moved aside, oldest first."""
        return sorted(self.path.parent.glob(f"{self.path.name}.corrupt-*"))

    def summary(self, now: Optional[float] = None, top: int = 5) -> Dict[str, Any]:
        """What is stored and what was learnt, for ``edgekit feedback --show``."""
        state, prefs = self._read(), self.preferences(now)
        phrases = prefs.ranked_phrases()
        return {
            "path": str(self.path),
            "events": len(state.events),
            "folded_events": state.folded[1].n_events if state.folded else 0,
            "by_action": {a: sum(e.action == a for e in state.events) for a in ACTIONS},
            "styles": {k: round(v, 3) for k, v in prefs.ranked_styles()},
            "liked_phrases": [(k, round(v, 3)) for k, v in phrases[:top] if v > 0],
            "disliked_phrases": [(k, round(v, 3)) for k, v in reversed(phrases[-top:]) if v < 0],
            "backups": [str(p) for p in self.backups()],
        }

    # ------------------------------------------------------------------ export / import / reset
    def export(self, dest: PathLike) -> int:
        """Write everything stored to ``dest`` (same format as the store; owner-only); returns the
        number of verbatim events written."""
        state = self._read()
        atomic_write_json(Path(dest), state.to_document(), inputs=[self.path])  # never over the store itself
        return len(state.events)

    def import_file(self, src: PathLike) -> int:
        """Merge an exported file into the store (events already present are skipped); returns
        the number of events added. Folded tallies are adopted only by a store that has none."""
        src = Path(src)
        doc = load_export(src, KIND, VERSION, MAX_FILE_BYTES, "feedback export",
                          "pass a file written by `edgekit feedback --export`")
        try:
            incoming = StoreState.from_document(doc, src)
        except InputError:
            raise
        except (ValueError, TypeError) as exc:
            raise InputError(f"invalid feedback export ({exc})", subject=src) from None
        with self._locked():
            state = self._read()
            merged = state.merged(incoming.events)
            if incoming.folded is not None:
                if state.folded is None:
                    merged = StoreState(merged.events, incoming.folded)
                else:
                    self._warn(f"{src}: its {incoming.folded[1].n_events} folded (older) events were not merged: "
                               "this store already has folded events of its own")
            self._write(self._compact(merged))
        return len(merged.events) - len(state.events)

    def reset(self) -> ResetResult:
        """Delete everything stored: the store file and moved-aside corrupt copies of it."""
        with self._locked():
            state = self._read()
            files = [p for p in [self.path, *self.backups()] if os.path.lexists(p)]
            for p in files:
                p.unlink()
            self._state, self._sig = StoreState(), None
        return ResetResult(len(state.events), state.folded[1].n_events if state.folded else 0, files)
