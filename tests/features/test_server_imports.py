"""The server stays optional and local: ``import edgekit`` (and every module outside the app
factory) never loads FastAPI, uvicorn or Ray; ``edgekit serve`` without the extra prints one line;
a running server opens no socket except the one it was told to listen on."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from server_support import astronaut_bgr, free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
SERVER_MODULES = ("fastapi", "starlette", "uvicorn", "pydantic", "python_multipart", "ray", "httpx")


def run_python(code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_runtime_and_server_modules_import_without_the_server_stack():
    proc = run_python(textwrap.dedent("""
        import importlib, json, pkgutil, sys
        import edgekit, edgekit.cli, edgekit.batch
        edgekit.cli.build_parser()  # registers `serve`
        for m in pkgutil.walk_packages(edgekit.__path__, 'edgekit.'):
            if m.name != 'edgekit.__main__':
                importlib.import_module(m.name)   # edgekit.server.* included: FastAPI only inside create_app
        print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
    """))
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert loaded.isdisjoint(SERVER_MODULES), loaded & set(SERVER_MODULES)


def test_serve_without_the_extra_prints_one_line():
    blocker = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('fastapi', 'uvicorn', 'python_multipart'):
                    raise ModuleNotFoundError(f"No module named {name!r}")
        sys.meta_path.insert(0, Block())
        from edgekit.cli import main
        sys.exit(main(['serve']))
    """)
    proc = run_python(blocker, timeout=60)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "pip install 'edgekit[server]'" in lines[0] and lines[0].startswith("edgekit: error: ")


def test_refuses_a_public_bind_without_a_token(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "edgekit", "serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and "needs an API token" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_server_opens_no_socket_but_its_own(tmp_path):
    """Under an audit hook installed before edgekit is imported: every socket the server binds is
    the loopback address and port it was given, it connects nowhere and resolves no host name.
    (Batch pool processes only run the library, whose own no-network test is
    test_reliability_privacy.py.)"""
    pytest.importorskip("fastapi", reason="needs the 'server' extra (make test installs it)")
    import cv2

    port, log = free_port(), tmp_path / "events.json"
    probe = textwrap.dedent(f"""
        import json, os, sys
        fd = os.open({str(log)!r}, os.O_WRONLY | os.O_CREAT | os.O_APPEND)   # opened before the hook
        def hook(event, args):
            if event.startswith('socket.'):
                os.write(fd, (json.dumps([event, repr(args)[:300]]) + '\\n').encode())
        sys.addaudithook(hook)
        from edgekit.cli import main
        sys.exit(main(['serve', '--host', '127.0.0.1', '--port', '{port}', '--data-dir', {str(tmp_path / 'data')!r},
                       '--log-level', 'warning']))
    """)
    proc = subprocess.Popen([sys.executable, "-c", probe], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        wait_ready(port, proc)
        ok, png = cv2.imencode(".png", astronaut_bgr())
        for path in ("/v1/analyze", "/v1/meme?text=hi"):
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=png.tobytes(), method="POST",
                                         headers={"Content-Type": "image/png"})
            with urllib.request.urlopen(req, timeout=60) as r:
                assert r.status == 200
    finally:
        proc.terminate()  # SIGTERM: graceful shutdown (uvicorn then re-raises the signal)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode in (0, -15), out
    events = [json.loads(line) for line in log.read_text().splitlines()]
    binds = [args for name, args in events if name == "socket.bind"]
    assert binds and all(f"('127.0.0.1', {port})" in args for args in binds), binds
    assert [e for e in events if e[0] in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                                          "socket.sendto")] == []
