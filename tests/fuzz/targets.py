"""The fuzz targets: one :class:`~fuzz.harness.FuzzTarget` per public input surface, in
:data:`TARGETS` (adding a target is one entry). Every target runs: a module that fails to import
fails its target, it is never skipped."""
from __future__ import annotations

from typing import Dict, Tuple

from .cli import check_cli_argv, cli_argvs
from .features import (alert_rules, check_alert_rule, check_feedback_file, check_feedback_record,
                       check_identity_gallery,
                       check_meme, check_store_import, check_suggestion, check_tool_output, feedback_files,
                       feedback_records,
                       gallery_files, memes, store_imports, suggestions, tool_outputs)
from .harness import FuzzTarget, KnownBug, run_target  # noqa: F401 (KnownBug re-exported)
from .images import (check_heavy_image_file, check_image_array, check_image_file, heavy_image_files, image_arrays,
                     mutated_image_files)
from .runtime import (caption_requests, check_caption_request, check_pipeline_options, check_restyle_request,
                      check_stored_document, check_timestamps, pipeline_options, restyle_requests, stored_documents,
                      timestamps)
from .special_files import check_special_file, special_files

TARGETS: Tuple[FuzzTarget, ...] = (
    FuzzTarget("image_file", "load_image(path), analyze(path)", mutated_image_files, check_image_file, examples=60),
    FuzzTarget("heavy_image_file", "load_image(path) on 16/32-bit, float and 4-byte-pixel files at MAX_DECODED_BYTES/"
               "MAX_PIXELS", heavy_image_files, check_heavy_image_file, examples=20),
    FuzzTarget("image_array", "load_image(array), Pipeline.process, EmotionClassifier.predict", image_arrays,
               check_image_array, examples=60),
    FuzzTarget("caption", "caption(emotion, style, scene, lang, n, seed)", caption_requests, check_caption_request),
    FuzzTarget("restyle", "restyle(text, style, lang)", restyle_requests, check_restyle_request, examples=25),
    FuzzTarget("pipeline_options", "Pipeline(**options), analyze(image, **options)", pipeline_options,
               check_pipeline_options, examples=30),
    FuzzTarget("video_timestamps", "Pipeline(running_mode='video').process(frame, timestamp_ms)", timestamps,
               check_timestamps, examples=30),
    FuzzTarget("stored_document", "userdata.load_document", stored_documents, check_stored_document),
    FuzzTarget("special_file", "VideoReader, process_video, emotion_timeline, load_image, analyze, CLI analyze/"
               "timeline/meme on FIFOs, /dev/zero links, folders, dangling links", special_files, check_special_file,
               examples=40),
    FuzzTarget("cli", "edgekit.cli.main(argv) for every command in COMMANDS", cli_argvs, check_cli_argv, examples=30),
    FuzzTarget("feedback_file", "FeedbackStore(path) on any file content", feedback_files, check_feedback_file,
               examples=30),
    FuzzTarget("feedback_record", "FeedbackStore.record(action, text, style, scene, emotion, lang, ts)",
               feedback_records,
               check_feedback_record, examples=30),
    FuzzTarget("meme", "make_meme(photo, text, style, scene, lang, face, placement, seed)", memes, check_meme,
               examples=15),
    FuzzTarget("suggest", "suggest(chat, n, lang, scene, seed)", suggestions, check_suggestion,
               examples=15),
    FuzzTarget("alert_rule", "timeline AlertRule.parse(text)", alert_rules, check_alert_rule),
    FuzzTarget("identity_gallery", "identity Gallery(path) on any file content", gallery_files, check_identity_gallery,
               examples=30),
    FuzzTarget("store_import",
               "Gallery.import_(path), FeedbackStore.import_file(path) on any file (FIFO, /dev/zero link)",
               store_imports, check_store_import, examples=30),
    FuzzTarget("tool_output", "benchmarks.parsers.* on recorded tool outputs, mutated", tool_outputs,
               check_tool_output),
)

BY_NAME: Dict[str, FuzzTarget] = {t.name: t for t in TARGETS}



__all__ = ["BY_NAME", "TARGETS", "FuzzTarget", "KnownBug", "run_target"]
