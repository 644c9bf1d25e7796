"""An offline teacher for knowledge distillation, trained in PyTorch on a GPU machine.

The lent GPU machines carry PyTorch but no TensorFlow, and TensorFlow's wheels are far over
what travels to them, so the teacher is a PyTorch model: :mod:`.pack` packs the training and
validation faces into one file (here, with the toolchain's own loader), :mod:`.train_torch`
trains K ResNet-18 teachers on K folds (there) and writes every training face's out-of-fold
probabilities, and :mod:`.labels` reads them back into the TensorFlow trainer's targets.
Run ``python -m converters.emotion.teacher --help``.

Weights. ``train`` keeps each fold's final weights (``<--work>/folds/fold_<k>.pt``, under the
git-ignored ``runs/``) and describes them in ``teacher_weights.json`` (bytes and sha256 of each
file, network and arguments, input size and colour, label order, command, commit), which the
report step copies into ``--out`` for committing; :mod:`.ensemble` loads them, refusing a file
whose sha256 differs, and labels new faces with the mean of the folds (each averaged with its
mirror, gray 48 px faces as in training). The shipped teacher (``reports/emotion_teacher``)
predates this and kept **no** weights: labelling new photos needs a retrain first, with the
command its report names (a new teacher: training stops on a wall-clock budget)::

    python -m converters.emotion.teacher pack --data ../shared/data/ferplus --out .carry/ferplus_faces.npz
    python -m converters.emotion.teacher train --pack .carry/ferplus_faces.npz --out /tmp/teacher --budget-minutes 7
    python -m converters.emotion.teacher crops --lfw ../shared/data/lfw --out .carry/lfw_crops.npz
    python -m converters.emotion.teacher label --weights runs/emotion_teacher/folds --images .carry/lfw_crops.npz \\
        --out /tmp/teacher/lfw_labels.npz

``crops`` needs edgekit's detector runtime (here, not on the GPU machine); ``label --lfw
../shared/data/lfw`` does both steps where PyTorch and that runtime are both installed. The
labels file holds ``names`` + ``probs`` (what :func:`.labels.teacher_probabilities` reads) and the
descriptor's sha256. On a lent machine the weights cannot come back (a ResNet-18 fold is about
45 MB; files back are at most 16 MiB each), so ``train`` and ``label`` run in the same call.
"""
