"""Build the ``edgekit`` wheel: the thin runtime only (no TensorFlow, no mediapipe).

Metadata and dependencies live here; ``pyproject.toml`` names the build requirements. Building
runs ``python -m converters.thirdparty`` first (when its output is missing or stale): it takes the
BlazeFace/face-mesh ``.tflite`` files out of the pinned ``mediapipe==0.10.21`` wheel archive and
builds the caption subset fonts, both sha256-checked, so the wheel carries them while the
repository never does. The toolchain in ``converters/`` is used from a source checkout with
``converters/requirements-train.txt`` (see the Makefile).
"""
import importlib.util
import sys
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
version: dict = {}
exec((HERE / "edgekit" / "_version.py").read_text(), version)

# LiteRT interpreter wheels: ai-edge-litert 2.x for Linux x86_64, macOS arm64 and Windows x86_64
# (Python 3.10-3.14); on Linux aarch64 only ai-edge-litert 1.4 exists (Python 3.9-3.12). Anywhere
# else edgekit.litert says at import which options there are (e.g. tflite-runtime).
LITERT = [
    "ai-edge-litert>=2.0,<3; platform_system != 'Linux' or platform_machine == 'x86_64'",
    "ai-edge-litert>=1.4,<2; platform_system == 'Linux' and platform_machine == 'aarch64' and python_version < '3.13'",
]
RUNTIME = [
    "numpy>=1.23,<3",
    "opencv-python-headless>=4.8,<5",  # one distribution owns cv2; headless: no GUI libraries
    *LITERT,
    "Pillow>=10",
    "tqdm>=4.60",
    "platformdirs>=3",  # the user data dir (caption feedback, identity gallery)
]
PLOT = ["matplotlib>=3.7"]  # edgekit timeline plots (imported lazily)
TEST = ["pytest>=7", "scikit-image>=0.21", "hypothesis>=6", "matplotlib>=3.7", "fonttools>=4.47",
        "httpx>=0.27", "kubernetes-validate>=1.28", "pyyaml>=6",  # server test client, deploy/k8s validation
        "ruff>=0.17,<0.18"]  # tests/support/test_lint.py; a minor release may add rules, so the pin is narrow
# `edgekit serve` (edgekit/server/ only; `import edgekit` never loads them) and the Ray Data batch path.
SERVER = ["fastapi>=0.110", "uvicorn[standard]>=0.29",
          "python-multipart>=0.0.9"]  # [standard]: httptools + uvloop, as measured
RAY = ["ray[data]>=2.9"]
TEACHER = ["dlib-bin==20.0.1.post1", "face_recognition_models==0.3.0"]  # identity teacher (toolchain only)


class BuildWithThirdParty(build_py):
    """build_py that first puts the pinned third-party model files and fonts in place."""

    def run(self):
        sys.path.insert(0, str(HERE))  # the build step uses edgekit's stdlib-only helpers
        spec = importlib.util.spec_from_file_location("_edgekit_thirdparty", HERE / "converters" / "thirdparty.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        module.ensure()
        super().run()


setup(
    name="edgekit",
    version=version["__version__"],
    description="On-device facial emotion -> meme SDK: MediaPipe face detection, INT8 emotion "
    "classifier, captioning and meme rendering on LiteRT, without TensorFlow at run time.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_namespace_packages(include=["edgekit", "edgekit.*"]),
    package_data={
        "edgekit.models": ["*.tflite", "*.json"],
        "edgekit.models.third_party": ["*.tflite", "*.txt"],
        "edgekit.assets": ["*.png", "*.npy", "*.md"],
        "edgekit.assets.captions": ["*.tsv", "*.txt"],
        "edgekit.assets.suggest": ["*.tsv"],
        "edgekit.assets.fonts": ["*.otf", "*.ttf", "*.json", "*.txt", "*.md"],
    },
    include_package_data=False,
    install_requires=RUNTIME,
    extras_require={"plot": PLOT, "test": TEST, "teacher": TEACHER, "server": SERVER, "ray": RAY},
    entry_points={"console_scripts": ["edgekit=edgekit.cli:main"]},
    cmdclass={"build_py": BuildWithThirdParty},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
        "Operating System :: MacOS",
        "Operating System :: Microsoft :: Windows",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
