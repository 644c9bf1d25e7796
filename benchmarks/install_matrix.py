"""Which platforms and Pythons the edgekit wheel installs on: resolved by pip, for real where possible.

``python -m benchmarks.install_matrix --wheel dist/edgekit-*.whl`` writes
``benchmarks/results/install_matrix.{json,md}``:

- **resolved**: for each (OS, machine, Python) target and each numpy major, the wheel's
  ``Requires-Dist`` markers are evaluated for that target (pip would evaluate them for the
  machine it runs on), then ``pip install --dry-run --only-binary=:all: --platform … --python-version …``
  resolves the result against PyPI. A row passes when pip finds wheels for everything.
- **installed** (``--install``): the wheel is installed into an empty venv on this machine and
  imported; the venv's size is compared with what the pre-0.2 requirements (mediapipe,
  opencv-contrib-python) pulled, and the heavy packages that must not come along are checked.

Linux aarch64 is also installed and run for real under emulation by ``jetson/check_arm64.sh``.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
#: Packages an installed edgekit must never pull in.
FORBIDDEN = ("mediapipe", "jax", "jaxlib", "tensorflow", "matplotlib", "opencv-contrib-python", "sounddevice")
#: What the 0.1 wheel required (for the installed-size comparison).
OLD_REQUIREMENTS = ["numpy>=1.23,<2", "opencv-contrib-python>=4.8,<5", "mediapipe==0.10.21", "ai-edge-litert>=2.0,<3",
                    "Pillow>=10", "tqdm>=4.60", "platformdirs>=3"]


def _manylinux(machine: str) -> List[str]:
    return [f"manylinux_2_{v}_{machine}" for v in range(17, 40)] + [f"manylinux2014_{machine}", f"linux_{machine}"]


#: name -> (marker environment, pip --platform tags)
TARGETS: Dict[str, tuple] = {
    "Linux x86_64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
                      "os_name": "posix"}, _manylinux("x86_64")),
    "Linux aarch64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64",
                       "os_name": "posix"}, _manylinux("aarch64")),
    "macOS arm64": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64",
                     "os_name": "posix"},
                    [f"macosx_{v}_0_{a}" for v in range(11, 16) for a in ("arm64", "universal2")]),
    "Windows x86_64": ({"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64",
                        "os_name": "nt"}, ["win_amd64"]),
}


def wheel_requirements(wheel: Path) -> List[str]:
    """``Requires-Dist`` lines of the wheel (extras' requirements left out)."""
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    reqs = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    return [r for r in reqs if "extra ==" not in r]


def requirements_for(reqs: Sequence[str], env: Dict[str, str], python: str) -> List[str]:
    """The requirements whose markers hold on the target (markers dropped)."""
    from packaging.requirements import Requirement

    full = {**env, "python_version": python, "python_full_version": f"{python}.0",
            "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    out = []
    for text in reqs:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(full):
            req.marker = None
            out.append(str(req))
    return out


def resolve(reqs: Sequence[str], tags: Sequence[str], python: str, extra: Sequence[str] = ()) -> dict:
    """pip's dry-run resolution for a foreign target: {ok, packages | error}."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        args = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
                "--target", str(Path(tmp) / "t"), "--report", str(report), "--disable-pip-version-check"]
        for tag in tags:
            args += ["--platform", tag]
        result = subprocess.run(args + list(reqs) + list(extra), capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            lines = [l for l in (result.stderr or result.stdout).splitlines() if l.startswith("ERROR")]
            return {"ok": False, "error": (lines[0] if lines else "pip failed")[:300]}
        data = json.loads(report.read_text())
        return {"ok": True,
                "packages": {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in data["install"]}}


def venv_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def install_for_real(wheel: Path) -> dict:
    """Install the wheel (and, for comparison, the old requirements) into empty venvs here."""
    out = {"machine": f"{platform.system()} {platform.machine()}", "python": platform.python_version()}
    for label, reqs in (("edgekit", [str(wheel)]), ("edgekit 0.1 requirements", OLD_REQUIREMENTS)):
        with tempfile.TemporaryDirectory() as tmp:
            venv = Path(tmp) / "venv"
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            py = venv / "bin" / "python"
            t0 = time.monotonic()
            r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs],
                               capture_output=True, text=True)
            row = {"requirements": reqs if label != "edgekit" else [wheel.name], "ok": r.returncode == 0,
                   "seconds": round(time.monotonic() - t0, 1)}
            if r.returncode == 0:
                listed = subprocess.run([str(py), "-m", "pip", "list", "--format=json"], capture_output=True, text=True)
                packages = {p["name"].lower(): p["version"] for p in json.loads(listed.stdout)}
                row.update(packages=packages, size_mb=round(venv_size(venv) / 1e6, 1),
                           forbidden_present=[p for p in FORBIDDEN if p in packages])
                if label == "edgekit":
                    check = subprocess.run([str(venv / "bin" / "edgekit"), "models"], capture_output=True, text=True)
                    row["edgekit_models_exit"] = check.returncode
                    row["numpy"] = packages.get("numpy")
            else:
                row["error"] = r.stderr.strip().splitlines()[-1:]
            out[label] = row
    return out


def markdown(data: dict) -> str:
    lines = ["# Install matrix", "", f"Wheel: `{data['wheel']}`; made by `{data['command']}` on {data['date']}.", "",
             "Each cell: pip's resolution for that target with only binary wheels, once with numpy 1.x and once with",
             "numpy 2.x (`--platform/--python-version` dry run; the wheel's markers evaluated for the target).",
             "✓ = every dependency has a wheel; the LiteRT version picked is shown.", "",
             "| target | " + " | ".join(f"Python {p}" for p in PYTHONS) + " |", "|---|" + "---|" * len(PYTHONS)]
    for target in TARGETS:
        cells = []
        for py in PYTHONS:
            row = data["resolved"][target][py]
            parts = []
            for major in ("numpy1", "numpy2"):
                r = row[major]
                if r.get("skipped"):
                    parts.append(f"{major}: n/a")
                elif r["ok"]:
                    pk = r["packages"]
                    lite = pk.get("ai-edge-litert") or pk.get("tflite-runtime")
                    runtime = f"(LiteRT {lite})" if lite else "(no LiteRT wheel exists)"
                    parts.append(f"{major} ✓ {pk.get('numpy')} " + runtime)
                elif major == "numpy1" and py >= "3.13":
                    parts.append("numpy1 — (numpy 1.x has no wheels for this Python)")
                else:
                    parts.append(f"{major} ✗")
            cells.append("<br>".join(parts))
        lines.append(f"| {target} | " + " | ".join(cells) + " |")
    lines += ["", "Rows with ✗ and their pip errors are in `install_matrix.json`. Where no LiteRT wheel exists",
              "(Linux aarch64 on Python 3.13+), edgekit installs but `import edgekit.litert` names the options.", ""]
    real = data.get("installed")
    if real:
        new, old = real["edgekit"], real["edgekit 0.1 requirements"]
        lines += ["## Installed here", "", f"{real['machine']}, Python {real['python']}, empty venvs:", "",
                  "| requirements | ok | venv size | packages | mediapipe/jax/TF/matplotlib present |",
                  "|---|---|---|---|---|"]
        for label, row in (("edgekit wheel", new), ("edgekit 0.1 requirements", old)):
            lines.append(f"| {label} | {'✓' if row['ok'] else '✗'} | {row.get('size_mb', '—')} MB | "
                         f"{len(row.get('packages', {}))} | {', '.join(row.get('forbidden_present', [])) or 'none'} |")
        lines += ["", f"`edgekit models` in the new venv exited {new.get('edgekit_models_exit')} "
                      f"(0 = every model present "
                      f"and sha256-checked); numpy there: {new.get('numpy')}.", ""]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.install_matrix", description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", required=True, type=Path, help="the built edgekit wheel")
    parser.add_argument("--install", action="store_true", help="also install into empty venvs here (slower)")
    parser.add_argument("--out", type=Path, default=RESULTS / "install_matrix")
    args = parser.parse_args(argv)
    reqs = wheel_requirements(args.wheel)
    data = {"wheel": args.wheel.name, "requires": reqs, "date": time.strftime("%Y-%m-%d"),
            "command": ("python -m benchmarks.install_matrix --wheel dist/" + args.wheel.name
                        + (" --install" if args.install else "")),
            "resolved": {}}
    for target, (env, tags) in TARGETS.items():
        data["resolved"][target] = {}
        for py in PYTHONS:
            needed = requirements_for(reqs, env, py)
            cell = {"requirements": needed}
            for major, pin in (("numpy1", "numpy<2"), ("numpy2", "numpy>=2")):
                cell[major] = resolve(needed, tags, py, [pin])
                print(f"{target} py{py} {major}: {'ok' if cell[major]['ok'] else cell[major]['error']}", flush=True)
            data["resolved"][target][py] = cell
    if args.install:
        data["installed"] = install_for_real(args.wheel)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(data))
    print(f"wrote {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
