"""Emotion classifier toolchain: data -> MobileNetV3 -> structured pruning -> INT8 -> .tflite + metadata.

Run ``python -m converters.emotion --help``; the modules are importable on their own.
"""
