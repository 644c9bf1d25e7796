"""Build the ``edgekit`` wheel: the thin runtime only (no TensorFlow).

The training/conversion toolchain in ``converters/`` is used from a source checkout and needs
the ``[train]`` extra; ``[test]`` adds what the test suite needs.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
version: dict = {}
exec((HERE / "edgekit" / "_version.py").read_text(), version)

RUNTIME = [
    "numpy>=1.23,<2",  # mediapipe 0.10.21 needs numpy<2
    # mediapipe depends on opencv-contrib-python; depending on the same distribution keeps a
    # single package owning ``cv2`` (opencv-python beside it would fight over the module).
    "opencv-contrib-python>=4.8,<5",
    "mediapipe==0.10.21",  # newest release whose wheel ships the BlazeFace/face-mesh .tflite files
    "ai-edge-litert>=2.0,<3",
    "Pillow>=10",
    "tqdm>=4.60",
    "platformdirs>=3",  # the user data dir (caption feedback, identity gallery)
]
TRAIN = [
    "tensorflow==2.19.*",  # newest TF that fits beside mediapipe's protobuf<5
    "tf-keras==2.19.*",
    "tensorflow-model-optimization==0.8.0",
    "matplotlib>=3.7",
]
PLOT = ["matplotlib>=3.7"]  # edgekit timeline plots (imported lazily)
TEST = ["pytest>=7", "scikit-image>=0.21", "hypothesis>=6", "matplotlib>=3.7"]

setup(
    name="edgekit",
    version=version["__version__"],
    description="On-device facial emotion -> meme SDK: MediaPipe face detection, INT8 emotion "
    "classifier, captioning and meme rendering on LiteRT, without TensorFlow at run time.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9,<3.13",
    packages=find_packages(include=["edgekit", "edgekit.*"]),
    package_data={"edgekit": ["models/*.tflite", "models/*.json", "models/*.txt", "assets/*", "assets/captions/*", "assets/suggest/*"]},
    include_package_data=True,
    install_requires=RUNTIME,
    extras_require={"train": TRAIN, "test": TEST, "plot": PLOT, "all": TRAIN + TEST},
    entry_points={"console_scripts": ["edgekit=edgekit.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
