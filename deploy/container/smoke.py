"""Run a built edgekit-server image with buildah and check it; write benchmarks/results/container.*.

Called by ``deploy/container/build.sh`` (standard library only, the host's ``python3``). It starts
the image's own ENTRYPOINT + CMD (``edgekit serve --host 0.0.0.0 --port 8080``, a random token in
``EDGEKIT_SERVER_TOKEN``) in a ``buildah run --network host`` container, polls ``/readyz``, posts the
image's bundled demo photo to ``/v1/analyze`` without and with the token, reads the server
process's uid from ``/proc``, re-runs ``edgekit models`` in the image, then stops the server with
SIGTERM and records how it exited.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
PORT = 8080  # the Dockerfile's EXPOSE and --port
READY_TIMEOUT_S = 180.0
DEMO = "import sys; from edgekit.assets import demo_photo; sys.stdout.buffer.write(demo_photo().read_bytes())"


def buildah(*args: str, binary: bool = False) -> str | bytes:
    out = subprocess.run(["buildah", *args], check=True, capture_output=True)
    return out.stdout if binary else out.stdout.decode().strip()


def image_facts(image: str) -> dict:
    facts = json.loads(str(buildah("inspect", "--type", "image", image)))
    layers = json.loads(facts["Manifest"])["layers"]
    config = facts["Docker"]["config"]
    return {"image": image, "id": facts["FromImageID"], "digest": facts["FromImageDigest"],
            "size_buildah": str(buildah("images", "--format", "{{.Size}}", image)),
            "layers_bytes": sum(layer["size"] for layer in layers), "layers": len(layers),
            "entrypoint": config["Entrypoint"], "cmd": config["Cmd"], "user": config["User"],
            "healthcheck": (config.get("Healthcheck") or {}).get("Test")}


def models(container: str) -> List[Dict[str, str]]:
    """``edgekit models`` in the image (exit 1 unless every sha256 matches): name, sha256, status."""
    lines = str(buildah("run", "--isolation", "chroot", container, "--", "edgekit", "models")).splitlines()[1:]
    found = [re.match(r"(\S+) .* ([0-9a-f]{64})\s+(\S+)", line) for line in lines if line.strip()]
    return [{"name": m[1], "sha256": m[2], "status": m[3]} if m else {"name": "?", "sha256": "?", "status": "unparsed"}
            for m in found]


def ca_sha256(container: str) -> str:
    return str(buildah("run", "--isolation", "chroot", container, "--", "sha256sum",
                       "/etc/ssl/certs/ca-certificates.crt")).split()[0]


def http(path: str, body: Optional[bytes] = None, token: Optional[str] = None) -> Tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=body, method="POST" if body else "GET")
    if body:
        request.add_header("Content-Type", "image/png")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:  # no HTTP answer: the status is 0, the body names the error
        return 0, repr(error).encode()


def listener_pid() -> int:
    """The pid listening on PORT (``ss``), 0 if none."""
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{PORT}"], capture_output=True, text=True).stdout
    return int(out.split("pid=")[1].split(",")[0]) if "pid=" in out else 0


def descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        status = Path(f"/proc/{pid}/status").read_text()
        pid = int(status.split("PPid:")[1].split()[0])
    return False


def proc_status(pid: int, key: str) -> str:
    return Path(f"/proc/{pid}/status").read_text().split(f"{key}:")[1].splitlines()[0].split()[0]


def serve_and_check(image: str, facts: dict, photo: bytes) -> dict:
    """Start the image's ENTRYPOINT + CMD, wait for ready, analyse the demo photo, stop it."""
    if listener_pid():
        raise SystemExit(f"smoke.py: port {PORT} is in use on this machine; free it first")
    token = secrets.token_urlsafe(32)
    container = str(buildah("from", image))
    command = ["buildah", "run", "--isolation", "chroot", "--network", "host",
               "--env", f"EDGEKIT_SERVER_TOKEN={token}", container, "--", *facts["entrypoint"], *facts["cmd"]]
    log = open(Path(os.environ.get("EDGEKIT_CONTAINER_WORK", "/var/tmp")) / "serve.log", "wb")
    start = time.perf_counter()
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    out: dict = {"command": " ".join(command).replace(token, "<token>")}
    try:
        status, body = 0, b""
        while time.perf_counter() - start < READY_TIMEOUT_S and server.poll() is None:
            status, body = http("/readyz")
            if status == 200:
                break
            time.sleep(0.2)
        if status != 200:
            raise SystemExit(f"smoke.py: /readyz never turned 200 ({status}); see {log.name}")
        out["ready_s"] = round(time.perf_counter() - start, 2)
        out["readyz"] = json.loads(body)
        pid = listener_pid()
        if not descends_from(pid, server.pid):
            raise SystemExit(f"smoke.py: port {PORT} is held by pid {pid}, not by the server started here")
        out["server_uid"] = int(proc_status(pid, "Uid"))
        out["server_rss_mb_after_ready"] = round(int(proc_status(pid, "VmRSS")) / 1024, 1)
        # a small body: auth is checked first, and a server that answers 401 before reading a large
        # upload may close while the client is still sending it
        out["analyze_without_token"] = http("/v1/analyze", photo[:64])[0]
        status, body = http("/v1/analyze?name=demo_photo", photo, token)
        answer = json.loads(body) if status == 200 else {}
        out["analyze"] = {"status": status, "faces": len(answer.get("faces", [])),
                          "emotions": [f["emotion"]["label"] for f in answer.get("faces", [])],
                          "total_ms": answer.get("total_ms")}
        stop = time.perf_counter()
        os.kill(pid, signal.SIGTERM)
        out["exit_code"] = server.wait(timeout=60)  # buildah's: 1 when uvicorn re-raises SIGTERM after its shutdown
        out["stop_s"] = round(time.perf_counter() - stop, 2)
        out["shutdown_logged"] = "Finished server process" in Path(log.name).read_text(errors="replace")
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)
        buildah("rm", container)
        log.close()
    return out


def write(results: dict) -> None:
    (RESULTS / "container.json").write_text(json.dumps(results, indent=2) + "\n")
    image, run = results["image"], results["run"]
    ready, got = run["readyz"], run["analyze"]
    rows = "\n".join(f"| {m['name']} | `{m['sha256']}` | {m['status']} |" for m in results["models"])
    checks = "\n".join(f"| {name} | {'yes' if ok else '**no**'} |" for name, ok in results["checks"].items())
    base_line = (f"{results['base_build_s']} s (debootstrap + import)" if results["base_build_s"]
                 else "already present, not rebuilt")
    text = f"""# edgekit-server container image: built and run with buildah

Command: `{results['command']}` (as root; `deploy/container/base-image.sh` makes the base when it is
missing, or always with `EDGEKIT_REBUILD_BASE=1`). Built {results['built_at']} from commit
`{results['commit'][:12]}` ({results['context']}), on {results['machine']}, buildah {results['buildah']},
storage driver `{results['storage_driver']}`.

Base: `{results['base']}` (digest `{results['base_digest']}`), Debian bookworm minbase with
Debian's Python {results['python']} in a venv at `/opt/python` first on PATH: a local stand-in for
`python:3.11-slim`, which no registry here can serve (`Dockerfile` `ARG BASE`, default
`python:3.11-slim`). Base image: {base_line}.

| what | value |
|---|---|
| image | `{image['image']}`, id `{image['id'][:12]}`, digest `{image['digest']}` |
| user; HEALTHCHECK (`--format docker`) | `{image['user']}`; `{' '.join(image['healthcheck'] or ['none'])[:50]}…` |
| size | {image['size_buildah']} (`buildah images`); {image['layers_bytes']:,} bytes, {image['layers']} layers |
| build time (both stages, no layer cache, `nice -n 10`) | {results['build_s']} s |
| time to ready (`buildah run` → `/readyz` 200) | {run['ready_s']} s (`warmup_s` {ready.get('warmup_s')} s) |
| server process uid | {run['server_uid']} |
| RSS after ready | {run['server_rss_mb_after_ready']} MB (`/readyz`: {ready.get('rss_mb_at_ready')} MB) |
| `POST /v1/analyze` demo photo, no token | {run['analyze_without_token']} |
| `POST /v1/analyze` demo photo, token | {got['status']}, {got['faces']} face {got['emotions']}, {got['total_ms']} ms |
| SIGTERM → exit | {run['stop_s']} s, `buildah run` exit code {run['exit_code']} (uvicorn re-raises SIGTERM) |

Run: `{run['command']}` (the image's ENTRYPOINT + CMD, 127.0.0.1:{PORT} on the host network).

| check | passed |
|---|---|
{checks}

`edgekit models` in the built image (the Dockerfile runs it at build time too; exit 1 unless every
sha256 matches the manifest):

| model | sha256 | status |
|---|---|---|
{rows}
"""
    (RESULTS / "container.md").write_text(text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command", default="deploy/container/build.sh", help="what to name in the results")
    parser.add_argument("--image", required=True)
    parser.add_argument("--base", required=True)
    parser.add_argument("--build-s", type=float, required=True)
    parser.add_argument("--base-s", type=float, default=0.0)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--context", required=True)
    args = parser.parse_args(argv)
    facts = image_facts(args.image)
    container = str(buildah("from", args.image))
    try:
        photo = bytes(buildah("run", "--isolation", "chroot", container, "--", "python", "-c", DEMO, binary=True))
        python = str(buildah("run", "--isolation", "chroot", container, "--", "python", "-c",
                             "import platform; print(platform.python_version())"))
        verified = models(container)
        ca_bundle = {"image": ca_sha256(container)}
    finally:
        buildah("rm", container)
    base = str(buildah("from", args.base))
    try:
        ca_bundle["base"] = ca_sha256(base)
    finally:
        buildah("rm", base)
    run = serve_and_check(args.image, facts, photo)
    checks = {"every model's sha256 ok": all(m["status"] == "ok" for m in verified),
              "the image's CA bundle is the base's (the build's CA mount left nothing)":
                  ca_bundle["image"] == ca_bundle["base"],
              "ready within the timeout": "ready_s" in run,
              "server runs as uid 10001 (not root)": run["server_uid"] == 10001,
              "0.0.0.0 bind refuses a request without the token (401)": run["analyze_without_token"] == 401,
              "demo photo: 200 with exactly one face": run["analyze"] == {**run["analyze"], "status": 200, "faces": 1},
              "SIGTERM: graceful shutdown (uvicorn's 'Finished server process')": run["shutdown_logged"]}
    results = {"command": args.command, "built_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "commit": args.commit, "context": args.context,
               "machine": f"{os.uname().machine}, {os.cpu_count()} CPUs",
               "buildah": str(buildah("--version")).split()[2],
               "storage_driver": str(buildah("info", "--format", "{{.store.GraphDriverName}}")),
               "base": args.base, "base_digest": image_facts(args.base)["digest"], "python": python,
               "base_build_s": args.base_s, "build_s": args.build_s, "image": facts, "models": verified, "run": run,
               "ca_bundle_sha256": ca_bundle,
               "checks": checks}
    write(results)
    failed = [name for name, ok in checks.items() if not ok]
    print(f"smoke.py: {len(checks) - len(failed)}/{len(checks)} checks passed"
          + (f"; failed: {failed}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
