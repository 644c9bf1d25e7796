"""The one options pattern (edgekit.options): frozen options dataclasses that validate every field,
one options-or-kwargs rule for every public constructor, CLI flags derived from the fields, and
the running-mode contract of Pipeline."""
from __future__ import annotations

import argparse
import dataclasses
import inspect

import numpy as np
import pytest

import edgekit
from edgekit import task_options
from edgekit.errors import ConfigError
from edgekit.options import Options, field_names, options_from
from edgekit.task_options import (ActionUnitReaderOptions, CaptionerOptions, EmotionClassifierOptions,
                                  FaceDetectorOptions, FaceIdentifierOptions, FaceMeshOptions, PipelineOptions,
                                  TrackerOptions)

OPTIONS_CLASSES = [getattr(task_options, n) for n in task_options.__all__
                   if isinstance(getattr(task_options, n), type) and issubclass(getattr(task_options, n), Options)]


class Bad:
    """A value no option accepts (not a bool, number, string, path, callable or None)."""

    def __repr__(self) -> str:
        return "<bad>"


def test_every_task_has_an_options_class():
    assert {k.__name__ for k in OPTIONS_CLASSES} == {
        "FaceDetectorOptions", "TrackerOptions", "EmotionClassifierOptions", "FaceEmbedderOptions",
        "FaceIdentifierOptions", "FaceMeshOptions", "ExplainerOptions", "PipelineOptions", "SamplingOptions",
        "CaptionerOptions", "ActionUnitReaderOptions"}


@pytest.mark.parametrize("kind", OPTIONS_CLASSES, ids=lambda k: k.__name__)
def test_options_are_frozen_and_every_field_is_checked(kind):
    opts = kind()
    for f in dataclasses.fields(kind):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(opts, f.name, f.default)
        assert f.metadata.get("check") is not None, f"{kind.__name__}.{f.name} has no check"
        with pytest.raises(ConfigError) as err:
            kind(**{f.name: Bad()})
        assert f"{f.name}=<bad>: must be " in str(err.value)


@pytest.mark.parametrize("kind, bad", [
    (FaceDetectorOptions, {"min_confidence": 1.5}), (FaceDetectorOptions, {"max_faces": 0}),
    (FaceDetectorOptions, {"num_threads": True}), (FaceDetectorOptions, {"model": "long_range"}),
    (TrackerOptions, {"max_missed_frames": float("nan")}), (TrackerOptions, {"iou_threshold": 0}),
    (EmotionClassifierOptions, {"flip_average": 1}), (FaceIdentifierOptions, {"threshold": 3.0}),
    (FaceIdentifierOptions, {"margin": -0.1}), (PipelineOptions, {"smoothing_ms": float("inf")}),
    (PipelineOptions, {"identity_refresh_ms": -1}), (PipelineOptions, {"num_threads": 65}),
    (CaptionerOptions, {"seed": -1}), (CaptionerOptions, {"no_repeat_ngram": 1}), (CaptionerOptions, {"top_p": 0}),
])
def test_bad_values_name_the_field_and_the_value(kind, bad):
    (name, value), = bad.items()
    with pytest.raises(ConfigError, match="must be") as err:
        kind(**bad)
    assert err.value.subject == f"{name}={value!r}"


def test_rules_between_fields():
    with pytest.raises(ConfigError, match="result_callback must be set in live_stream mode"):
        PipelineOptions(running_mode="live_stream")
    with pytest.raises(ConfigError, match="au_neutral needs action_units"):
        PipelineOptions(au_neutral="me.jpg")
    with pytest.raises(ConfigError, match="pass both model_path and tokenizer_path"):
        CaptionerOptions(model_path="m.tflite")


@pytest.mark.parametrize("kind", OPTIONS_CLASSES, ids=lambda k: k.__name__)
def test_options_and_kwargs_give_the_same_options(kind):
    changed = {"num_threads": 2} if "num_threads" in field_names(kind) else {"keypoint_gate": 0.5, "top_k": 3}
    changed = {k: v for k, v in changed.items() if k in field_names(kind)}
    assert options_from(kind, None, changed) == options_from(kind, kind(**changed)) == \
        options_from(kind, kind(), changed)
    assert options_from(kind, kind(**changed), {}) == kind(**changed) == kind.from_kwargs(**changed)
    with pytest.raises(ConfigError, match=f"unknown {kind.__name__[:-len('Options')]} option"):
        options_from(kind, None, {"num_thread": 2})
    with pytest.raises(ConfigError, match=f"options must be a {kind.__name__}|must be "):
        options_from(kind, Bad())  # neither options nor a value of the first positional field


def test_unknown_option_suggests_the_closest_name():
    with pytest.raises(ConfigError, match="did you mean min_confidence"):
        PipelineOptions.from_kwargs(min_confidance=0.4)


def test_model_in_place_of_options():
    assert options_from(EmotionClassifierOptions, "my.tflite", {"num_threads": 2}) == \
        EmotionClassifierOptions(model="my.tflite", num_threads=2)
    assert options_from(CaptionerOptions, "m.tflite", {"source": "model"}, ("t.json",)) == \
        CaptionerOptions(model_path="m.tflite", tokenizer_path="t.json", source="model")
    with pytest.raises(ConfigError, match="given twice"):
        options_from(EmotionClassifierOptions, "a.tflite", {"model": "b.tflite"})
    with pytest.raises(ConfigError, match="options must be a PipelineOptions"):
        options_from(PipelineOptions, "emotion")


def test_python_names_match_the_cli_and_old_names_still_work():
    assert PipelineOptions(detector="full_range") == PipelineOptions(detector_model="full_range")
    assert PipelineOptions.from_kwargs(detector_model="full_range").detector_model == "full_range"
    assert FaceIdentifierOptions(detector_model="full_range").detector == "full_range"
    with pytest.raises(ConfigError, match="old name of detector"):
        PipelineOptions(detector="full_range", detector_model="short_range")


def test_pipeline_options_compose_detector_and_tracker_options():
    opts = PipelineOptions(detector="full_range", min_confidence=0.6, max_faces=2, num_threads=2, smoothing_ms=100.0,
                           tracker_iou=0.4, max_missed_frames=3, running_mode="video")
    assert opts.detector_options == FaceDetectorOptions(model="full_range", min_confidence=0.6, max_faces=2,
                                                        num_threads=2, small_faces=False)
    assert PipelineOptions().detector_options.small_faces is True  # photos get the second look
    assert opts.tracker_options == TrackerOptions(iou_threshold=0.4, max_missed_frames=3, time_constant_ms=100.0)
    assert opts.emotion_options == EmotionClassifierOptions(num_threads=2, flip_average=False)  # a stream: one view
    assert PipelineOptions().emotion_options.flip_average is True  # photos: the crop and its mirror image
    assert PipelineOptions(running_mode="video", flip_average=True).emotion_options.flip_average is True
    assert PipelineOptions(flip_average=False).emotion_options.flip_average is False
    assert PipelineOptions(emotion_model=None).emotion_options is None
    shared = {"detector": (FaceDetectorOptions, "model"), "min_confidence": (FaceDetectorOptions, "min_confidence"),
              "max_faces": (FaceDetectorOptions, "max_faces"), "smoothing_ms": (TrackerOptions, "time_constant_ms"),
              "tracker_iou": (TrackerOptions, "iou_threshold"),
              "max_missed_frames": (TrackerOptions, "max_missed_frames")}
    for name, (part, field) in shared.items():  # one declaration: same default and check
        mine, theirs = PipelineOptions.__dataclass_fields__[name], part.__dataclass_fields__[field]
        assert (mine.default, mine.metadata["check"]) == (theirs.default, theirs.metadata["check"]), name


def test_detector_models_are_blazeface_configs():
    from edgekit.detection.blazeface import CONFIGS

    assert tuple(CONFIGS) == task_options.DETECTOR_MODELS


# ------------------------------------------------------------------------------ constructors

def _public_classes():
    from edgekit.aus import ActionUnitReader
    from edgekit.captioning import Captioner
    from edgekit.explaining import Explainer
    from edgekit.identity import FaceEmbedder, FaceIdentifier
    from edgekit.tracking import IouTracker

    return [edgekit.Pipeline, edgekit.FaceDetector, edgekit.EmotionClassifier, FaceEmbedder, FaceIdentifier,
            edgekit.FaceMesh, Captioner, IouTracker, Explainer, ActionUnitReader, edgekit.ExpressionTransfer]


@pytest.mark.parametrize("cls", _public_classes(), ids=lambda c: c.__name__)
def test_every_public_constructor_takes_options_or_kwargs(cls):
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert params[0].name == "options" and params[0].default is None
    assert params[-1].kind is inspect.Parameter.VAR_KEYWORD
    assert [p.kind for p in params[1:-1]] in ([], [inspect.Parameter.VAR_POSITIONAL])  # Captioner(model, tokenizer)
    assert issubclass(cls.OPTIONS, Options) and callable(cls.create_from_options)
    with pytest.raises(ConfigError, match=f"options must be a {cls.OPTIONS.__name__}"):
        cls.create_from_options({"num_threads": 1})


def test_constructors_give_the_same_object_from_options_and_kwargs():
    from edgekit.tracking import IouTracker

    assert IouTracker(TrackerOptions(max_missed_frames=2)).options == IouTracker(max_missed_frames=2).options
    assert IouTracker(max_missed_frames=2).max_missed_frames == 2
    opts = PipelineOptions(emotion_model=None, detector="full_range", max_faces=1)
    fields = dataclasses.asdict(opts)
    with edgekit.Pipeline(opts) as a, edgekit.Pipeline(emotion_model=None, detector="full_range", max_faces=1) as b, \
            edgekit.Pipeline.create_from_options(opts) as c, edgekit.Pipeline(PipelineOptions(), **fields) as d:
        assert a.options == b.options == c.options == d.options == opts
        assert a.detector.options == opts.detector_options
    with edgekit.FaceDetector("full_range") as det:
        assert det.options == FaceDetectorOptions(model="full_range")
    mesh = edgekit.FaceMeshOptions(num_threads=2, max_faces=1)
    assert edgekit.ExpressionTransfer.create_from_options(mesh).options == edgekit.ExpressionTransfer(
        num_threads=2, max_faces=1).options == mesh


def test_action_unit_reader_takes_options_kwargs_and_its_old_positional_arguments():
    from edgekit.aus import ActionUnitReader, StreamBaseline

    stream = StreamBaseline()
    opts = ActionUnitReaderOptions(num_threads=2, stream=stream, detector="full_range")
    with ActionUnitReader(opts) as a, ActionUnitReader(num_threads=2, stream=stream, detector="full_range") as b, \
            ActionUnitReader.create_from_options(opts) as c, ActionUnitReader(ActionUnitReaderOptions(), **{
                "num_threads": 2, "stream": stream, "detector": "full_range"}) as d, \
            ActionUnitReader(2, None, stream, detector_model="full_range") as e:  # the old signature
        assert a.options == b.options == c.options == d.options == e.options == opts
        assert a.mesh.options == FaceMeshOptions(detector="full_range", num_threads=2) and a.stream is stream
    assert ActionUnitReaderOptions(detector_model="full_range").detector == "full_range"
    assert options_from(ActionUnitReaderOptions, 3) == ActionUnitReaderOptions(num_threads=3)
    for bad, message in [({"neutral": 3}, "neutral=3: must be None (the population neutral) or a photo path or a BGR "
                                          "image array. pass the path"),
                         ({"stream": "median"}, "stream='median': must be None (no per-track neutral) or a "
                                                "StreamBaseline. pass edgekit.aus.StreamBaseline()"),
                         ({"min_presence": 2}, "min_presence=2: must be a number in [0, 1]")]:
        with pytest.raises(ConfigError) as err:
            ActionUnitReader(**bad)
        assert str(err.value).startswith(message)
    with pytest.raises(ConfigError, match="unknown ActionUnitReader option"):
        ActionUnitReader(threads=2)


# ------------------------------------------------------------------------------ the CLI

#: Option groups of the CLI and the options class their flags are fields of.
GROUPS = {"pipeline options": PipelineOptions, "identity options": PipelineOptions,
          "action-unit options": PipelineOptions, "captioner options": CaptionerOptions,
          "explainer options": edgekit.ExplainerOptions}


def _option_actions():
    from edgekit.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, parser in sub.choices.items():
        for group in parser._action_groups:
            for action in group._group_actions:
                yield command, group.title, action


def test_cli_flags_are_the_option_fields_with_their_defaults():
    seen = set()
    for command, title, action in _option_actions():
        kind = GROUPS.get(title)
        if kind is None:
            assert action.dest not in field_names(PipelineOptions), (command, action.dest)
            continue
        field = kind.__dataclass_fields__[action.dest]
        assert action.option_strings[0] == "--" + action.dest.replace("_", "-"), (command, action.option_strings)
        assert action.default == field.default, (command, action.dest)
        seen.add((kind.__name__, action.dest))
    assert {"detector", "min_confidence", "max_faces", "num_threads", "emotion_model", "smoothing_ms", "identify",
            "gallery_path", "identity_model", "action_units", "au_stream_neutral", "au_neutral"} <= \
        {name for kind, name in seen if kind == "PipelineOptions"}


def test_cli_values_become_the_same_options():
    from edgekit.cli._common import add_au_options, add_identity_options, add_pipeline_options, pipeline_options

    parser = argparse.ArgumentParser()
    add_pipeline_options(parser, video=True)
    add_identity_options(parser, flag=True)
    add_au_options(parser)
    assert pipeline_options(parser.parse_args([])) == PipelineOptions()
    args = parser.parse_args(["--detector", "full_range", "--min-confidence", "0.7", "--max-faces", "2",
                              "--threads", "2", "--model", "my.tflite", "--smoothing-ms", "0", "--identify",
                              "--gallery", "g.json", "--aus"])  # the older spellings of four flags
    assert pipeline_options(args) == PipelineOptions(
        detector="full_range", min_confidence=0.7, max_faces=2, num_threads=2, emotion_model="my.tflite",
        smoothing_ms=0.0, identify=True, gallery_path="g.json", action_units=True)
    with pytest.raises(ConfigError, match="min_confidence=3.0"):
        pipeline_options(parser.parse_args(["--min-confidence", "3"]))


# ------------------------------------------------------------------------------ running mode

FRAME = np.zeros((64, 64, 3), np.uint8)
CALLS = {
    "process": lambda p: p.process(FRAME, 0.0),
    "decode_and_process": lambda p: p.decode_and_process(FRAME, 1.0),  # after process at 0.0 (video mode)
    "process_async": lambda p: p.process_async(FRAME, 0.0),
    "stream_video": lambda p: p.stream_video("missing.mp4"),
    "process_video": lambda p: p.process_video("missing.mp4"),
}


@pytest.mark.parametrize("mode", task_options.RUNNING_MODES)
def test_each_method_checks_the_running_mode(mode):
    from edgekit.pipeline import METHOD_MODES

    assert set(METHOD_MODES) == set(CALLS)
    callback = (lambda *args: None) if mode == "live_stream" else None
    with edgekit.Pipeline(running_mode=mode, result_callback=callback, emotion_model=None) as pipe:
        for method, call in CALLS.items():
            if mode in METHOD_MODES[method]:
                call(pipe)  # served (a video path is opened only when iterated)
            else:
                with pytest.raises(ConfigError, match=rf"{method}\(\) is not available in {mode} mode") as err:
                    call(pipe)
                assert err.value.subject == f"running_mode={mode!r}"
