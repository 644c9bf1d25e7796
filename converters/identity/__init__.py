"""Face identity toolchain: LFW faces aligned like the runtime -> MobileNetV3 embedder (CosFace) ->
structured pruning -> INT8 -> .tflite + threshold -> report.

Run ``python -m converters.identity --help``; it reuses the emotion toolchain's model builder,
augmentation, wall-clock schedule, pruning and INT8 conversion.
"""
