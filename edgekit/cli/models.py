"""List the models edgekit loads, with sizes, sha256 and an integrity check.

Bundled models come from edgekit/models/manifest.json; the MediaPipe face models are packaged in
edgekit/models/third_party/ from the pinned mediapipe wheel archive. Every file's sha256 is checked
against the manifest; the exit code is 1 when a file is missing or differs.
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Callable, Dict, List


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("models", help="list bundled models with sizes and sha256",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = model_rows()
    if args.json:
        print(json.dumps({"models": rows}, indent=2))
    elif not rows:
        from ..registry import MANIFEST_PATH

        print(f"no models registered in {MANIFEST_PATH}")
    else:
        _print_table(rows)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def model_rows() -> List[Dict[str, Any]]:
    """One dict per model: name, kind, file, bytes, sha256, status ("ok" or what is wrong)."""
    from .. import registry

    rows = []
    for info in registry.list_models():
        row = {"name": info.name, "kind": "bundled", "task": info.task, "file": str(info.path),
               "bytes": info.bytes, "sha256": info.sha256}
        rows.append(_checked(row, lambda name=info.name: registry.model_path(name)))
        for key, entry in registry.companion_files(info.name).items():
            row = {"name": f"{info.name}/{key}", "kind": "bundled", "task": info.task,
                   "file": str(info.path.parent / entry["file"]),
                   "bytes": entry.get("bytes"), "sha256": entry["sha256"]}
            rows.append(_checked(row, lambda name=info.name, key=key: registry.load_companion(name, key)[0]))
    for key, entry in sorted(registry.load_manifest()["external"].items()):
        row = {"name": key, "kind": f"third-party ({entry.get('package', 'mediapipe')})", "task": "face",
               "file": str(registry.MODELS_DIR / entry["file"]), "bytes": entry.get("bytes"),
               "sha256": entry.get("sha256", "")}
        rows.append(_checked(row, lambda key=key: registry.third_party_model_path(key)))
    return rows


def _checked(row: Dict[str, Any], locate: Callable[[], Any]) -> Dict[str, Any]:
    """``row`` with the sha256-verified path, real size and status filled in."""
    from ..errors import EdgekitError

    try:
        path = locate()
    except EdgekitError as exc:
        row["status"] = exc.reason
        return row
    row.update(file=str(path), bytes=path.stat().st_size, status="ok")
    return row


def _print_table(rows: List[Dict[str, Any]]) -> None:
    header = ("NAME", "KIND", "SIZE", "SHA256", "STATUS", "FILE")
    table = [header] + [
        (r["name"], r["kind"], "?" if r["bytes"] is None else f"{r['bytes'] / 1024:.1f} KiB", r["sha256"],
         r["status"], r["file"])
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header) - 1)]
    for line in table:
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths)) + "  " + str(line[-1]))
