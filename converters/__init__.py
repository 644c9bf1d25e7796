"""edgekit toolchain: training, pruning, quantization and export of the on-device models.

Needs the ``[train]`` extra (TensorFlow, tf_keras, tensorflow-model-optimization). Import
TensorFlow only through :mod:`converters.core.tfenv`, which selects the legacy Keras (tf_keras)
that tensorflow-model-optimization requires.
"""
