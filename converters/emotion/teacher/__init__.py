"""An offline teacher for knowledge distillation, trained in PyTorch on a GPU machine.

The lent GPU machines carry PyTorch but no TensorFlow, and TensorFlow's wheels are far over
what travels to them, so the teacher is a PyTorch model: :mod:`.pack` packs the training and
validation faces into one file (here, with the toolchain's own loader), :mod:`.train_torch`
trains K ResNet-18 teachers on K folds (there) and writes every training face's out-of-fold
probabilities, and :mod:`.labels` reads them back into the TensorFlow trainer's targets.
Run ``python -m converters.emotion.teacher --help``.
"""
