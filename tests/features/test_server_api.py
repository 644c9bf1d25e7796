"""API contract of ``edgekit serve`` (FastAPI's test client, no socket): endpoints, errors as
one-line 4xx JSON, limits, caching, auth, roots, batch jobs against the CLI's manifest."""
from __future__ import annotations

import io
import json
import os
import time

import pytest

pytest.importorskip("fastapi", reason="the server tests need the 'server' extra (make test installs it)")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx (make test installs it)")

from fastapi.testclient import TestClient  # noqa: E402

from edgekit.errors import ConfigError  # noqa: E402
from edgekit.server import ServerConfig, is_loopback  # noqa: E402
from edgekit.server.app import create_app  # noqa: E402
from server_support import make_photos  # noqa: E402

TOKEN = "t" * 24


def png_bytes(arr) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", arr)
    assert ok
    return buf.tobytes()


def wait_until_ready(client: TestClient) -> None:
    for _ in range(600):
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(client.get("/readyz").json())


def wait_job(client: TestClient, job_id: str, timeout: float = 180.0) -> dict:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        job = client.get(f"/v1/batches/{job_id}").json()
        if job["state"] in ("done", "cancelled") and not job["counts"]["running"]:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job not finished: {job}")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("server")
    photos = base / "root" / "photos"
    make_photos(photos, 4)
    (photos / "broken.jpg").write_bytes(b"this is not a jpeg")
    outside = base / "outside"
    make_photos(outside, 1)
    (base / "root" / "escape").symlink_to(outside, target_is_directory=True)
    mixed = base / "root" / "mixed"
    make_photos(mixed, 1)
    (mixed / "linked.png").symlink_to(outside / "photo_0000.png")
    return base


@pytest.fixture(scope="module")
def client(roots):
    config = ServerConfig(data_dir=roots / "data", roots=(roots / "root",), max_body_bytes=3_000_000,
                          max_pixels=2_000_000, max_batch_images=50, max_active_jobs=3,
                          instance="edgekit-pod-a").check()
    with TestClient(create_app(config), raise_server_exceptions=False) as c:
        wait_until_ready(c)
        yield c


@pytest.fixture(scope="module")
def photo() -> bytes:
    from server_support import astronaut_bgr

    return png_bytes(astronaut_bgr())


def assert_error(response, status: int, kind: str = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    message = body["error"]["message"]
    assert "\n" not in message and "Traceback" not in message and 'File "' not in message
    if kind:
        assert body["error"]["type"] == kind, body
    return message


# ---------------------------------------------------------------------------------- probes

def test_health_ready_metrics_and_openapi(client):
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["warmup_s"] > 0
    spec = client.get("/openapi.json").json()
    for path in ("/v1/analyze", "/v1/meme", "/v1/captions", "/v1/suggest", "/v1/batches",
                 "/v1/batches/{job_id}/manifest"):
        assert path in spec["paths"], path
    client.get("/v1/batches/" + "0" * 32)
    text = client.get("/metrics").text
    assert 'edgekit_http_requests_total{route="/v1/batches/{job_id}",method="GET",status="404"}' in text
    assert "edgekit_http_request_duration_seconds_bucket{" in text and 'le="+Inf"' in text
    assert "# TYPE edgekit_batch_queue_depth gauge" in text and "edgekit_ready 1" in text


# ---------------------------------------------------------------------------------- analyze

def test_analyze_raw_and_multipart_agree_with_the_library(client, photo):
    import edgekit
    from server_support import astronaut_bgr

    raw = client.post("/v1/analyze", content=photo, headers={"Content-Type": "image/png"})
    assert raw.status_code == 200, raw.text
    form = client.post("/v1/analyze", files={"image": ("me.png", photo, "image/png")}, data={"max_faces": "1"})
    assert form.status_code == 200, form.text
    local = edgekit.analyze(astronaut_bgr())
    for response in (raw, form):
        faces = response.json()["faces"]
        assert len(faces) == len(local) == 1
        assert faces[0]["emotion"]["label"] == local[0].emotion.label
        assert faces[0]["emotion"]["probs"] == pytest.approx(local[0].emotion.probs)
    assert raw.json()["image_size"] == [512, 512]


def test_analyze_action_units_are_opt_in(client, photo):
    import edgekit
    from server_support import astronaut_bgr

    plain = client.post("/v1/analyze", content=photo).json()["faces"][0]
    assert "aus" not in plain
    local = edgekit.analyze(astronaut_bgr(), action_units=True)[0].aus.to_dict()
    raw = client.post("/v1/analyze?aus=true", content=photo)
    form = client.post("/v1/analyze", files={"image": ("me.png", photo, "image/png")}, data={"aus": "1"})
    for r in (raw, form):
        assert r.status_code == 200, r.text
        aus = r.json()["faces"][0]["aus"]
        assert set(aus) == set(local) and aus["activations"].keys() == local["activations"].keys()
        assert aus["activations"] == pytest.approx(local["activations"], abs=1e-3)
        assert aus["activations"]["AU12"] > 0.5  # the astronaut smiles
    assert raw.headers["etag"] != client.post("/v1/analyze?aus=false", content=photo).headers["etag"]
    message = assert_error(client.post("/v1/analyze?aus=maybe", content=photo), 400, "ConfigError")
    assert "must be true or false" in message
    assert_error(client.post("/v1/meme?aus=true", content=photo), 400, "ConfigError")  # memes do not report them
    (param,) = [p for p in client.get("/openapi.json").json()["paths"]["/v1/analyze"]["post"]["parameters"]
                if p["name"] == "aus"]
    assert param["schema"] == {"type": "boolean"} and "action units" in param["description"]
    # batch analysis too (the records `edgekit analyze --aus` writes); a meme batch refuses the option
    r = client.post("/v1/batches", json={"task": "analyze", "paths": ["photos/photo_0000.png"],
                                         "options": {"aus": True}})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    (record,) = [json.loads(x) for x in client.get(f"/v1/batches/{job['id']}/manifest").text.splitlines()]
    assert record["ok"] and record["faces"][0]["aus"]["activations"]
    meme_job = client.post("/v1/batches", json={"task": "meme", "folder": "photos", "options": {"aus": True}})
    assert "analysis output" in assert_error(meme_job, 400, "ConfigError")


def test_same_request_same_etag_304_and_cache(client, photo):
    first = client.post("/v1/analyze?min_confidence=0.6", content=photo)
    etag = first.headers["etag"]
    again = client.post("/v1/analyze?min_confidence=0.6", content=photo)
    assert again.headers["etag"] == etag and again.headers["x-edgekit-cache"] == "hit"
    assert again.content == first.content
    unchanged = client.post("/v1/analyze?min_confidence=0.6", content=photo, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    other = client.post("/v1/analyze?min_confidence=0.7", content=photo)
    assert other.headers["etag"] != etag  # options are part of the key
    cached = client.get(first.headers["content-location"])
    assert cached.status_code == 200 and cached.content == first.content


# ---------------------------------------------------------------------------------- memes

def test_meme_formats_and_deterministic_without_a_seed(client, photo):
    from PIL import Image

    state = client.app.state
    for fmt, pil in (("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP"), ("gif", "GIF")):
        r = client.post(f"/v1/meme?format={fmt}&lang=en", content=photo)
        assert r.status_code == 200, r.text
        img = Image.open(io.BytesIO(r.content))
        assert img.format == pil
        info = json.loads(r.headers["x-edgekit-meme"])
        assert info["caption"] and info["emotion"] == "happiness"
    first = client.post("/v1/meme?lang=en&style=sarcastic", content=photo)
    state.cache._items.clear()  # computed again, not served from the cache
    second = client.post("/v1/meme?lang=en&style=sarcastic", content=photo)
    assert second.headers["x-edgekit-cache"] == "miss"
    assert first.content == second.content and first.headers["x-edgekit-seed"] == second.headers["x-edgekit-seed"]
    assert json.loads(first.headers["x-edgekit-meme"])["style"] == "sarcastic"


def test_meme_styles_returns_content_addressed_urls(client, photo):
    r = client.post("/v1/meme?styles=3&lang=zh&seed=5", content=photo)
    assert r.status_code == 200, r.text
    memes = r.json()["memes"]
    assert len(memes) == 3 and len({m["style"] for m in memes}) == 3
    for m in memes:
        got = client.get(m["url"])
        assert got.status_code == 200 and got.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert "immutable" in got.headers["cache-control"]


def test_meme_caption_source(client, photo):
    """``caption_source`` as ``/v1/captions`` takes ``source`` (issue #25): the answer says who wrote
    the caption; a bad value is a 400 naming it; ignored with ``text``; batch jobs take it too."""
    r = client.post("/v1/meme?lang=en&seed=1&caption_source=model", content=photo)
    assert r.status_code == 200, r.text
    info = json.loads(r.headers["x-edgekit-meme"])
    assert (info["caption_source"], info["caption_fallback_reason"] is None) in (("model", True), ("library", False))
    default = json.loads(client.post("/v1/meme?lang=en&seed=1", content=photo).headers["x-edgekit-meme"])
    assert default["caption_source"] == "library" and default["caption_fallback_reason"] is None
    own = client.post("/v1/meme?text=mine&caption_source=model", content=photo)
    assert json.loads(own.headers["x-edgekit-meme"])["caption_source"] == "user"
    r = client.post("/v1/meme?styles=2&lang=en&seed=1&caption_source=model", content=photo)
    assert r.status_code == 200 and {m["caption_source"] for m in r.json()["memes"]} <= {"model", "library"}
    message = assert_error(client.post("/v1/meme?caption_source=gpt", content=photo), 400, "ConfigError")
    assert message.startswith("caption_source='gpt': must be one of library, model"), message
    bad = client.post("/v1/batches", json={"task": "meme", "paths": ["photos/photo_0000.png"],
                                           "options": {"caption_source": "gpt"}})
    assert assert_error(bad, 400, "ConfigError").startswith("caption_source='gpt'")
    r = client.post("/v1/batches", json={"task": "meme", "paths": ["photos/photo_0000.png"],
                                         "options": {"caption_source": "model", "seed": 1, "lang": "en"}})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    assert job["options"]["caption_source"] == "model"
    (record,) = [json.loads(x) for x in client.get(f"/v1/batches/{job['id']}/manifest").text.splitlines()]
    assert record["ok"] and record["caption_source"] in ("model", "library"), record


def test_captions_and_suggest(client):
    r = client.post("/v1/captions", json={"emotion": "happiness", "lang": "en", "n": 3, "seed": 1})
    assert r.status_code == 200, r.text
    caps = r.json()["captions"]
    assert len(caps) == 3 and all(c["lang"] == "en" and c["text"] for c in caps)
    assert all(c["source"] == "library" and c["fallback_reason"] is None for c in caps)  # the default source
    probs = {"happiness": 0.1, "sadness": 0.8, "neutral": 0.1}
    r = client.post("/v1/captions", json={"emotion": probs, "styles": ["anime", "retro"], "lang": "zh"})
    assert [c["style"] for c in r.json()["captions"]] == ["anime", "retro"]
    r = client.post("/v1/captions", json={"emotion": "happiness", "lang": "en", "n": 3, "seed": 1, "source": "model"})
    assert r.status_code == 200, r.text
    assert {c["source"] for c in r.json()["captions"]} <= {"model", "library"}
    r = client.post("/v1/captions", json={"emotion": "happiness", "lang": "en", "source": None})  # null: the default
    assert r.status_code == 200 and r.json()["captions"][0]["source"] == "library", r.text
    message = assert_error(client.post("/v1/captions", json={"emotion": "happiness", "source": "gpt"}), 400,
                           "ConfigError")
    assert message.startswith("source='gpt': must be one of library, model"), message
    r = client.post("/v1/suggest", json={"chat": "明天考试，完全没复习", "n": 3})
    assert r.status_code == 200, r.text
    assert len(r.json()["suggestions"]) == 3 and r.json()["scene"] == "exam"


# ---------------------------------------------------------------------------------- bad input

def test_bad_requests_are_one_line_4xx(client, photo, tmp_path):
    import numpy as np
    from PIL import Image

    msg = assert_error(client.post("/v1/analyze", content=b"hello, not an image"), 400, "ImageReadError")
    assert msg.startswith("request body: not an image file")
    assert_error(client.post("/v1/analyze", content=b""), 400, "ImageReadError")
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    assert_error(client.post("/v1/analyze", content=eps, headers={"Content-Type": "image/png"}), 400, "ImageReadError")
    bomb = io.BytesIO()  # 3000x3000 = 9 MP, compressed to a few KB: over max_pixels from its header
    Image.new("L", (3000, 3000)).save(bomb, "PNG")
    assert len(bomb.getvalue()) < 100_000
    assert "more than this server accepts" in assert_error(client.post("/v1/analyze", content=bomb.getvalue()), 413,
                                                           "TooLarge")
    huge = b"\0" * 3_100_000
    assert_error(client.post("/v1/analyze", content=huge), 413, "BodyTooLarge")
    truncated = photo[: len(photo) // 2]
    assert "truncated or corrupt" in assert_error(client.post("/v1/analyze", content=truncated), 400)
    assert "unknown option(s) colour" in assert_error(client.post("/v1/meme?colour=red", content=photo), 400,
                                                      "ConfigError")
    assert_error(client.post("/v1/meme?face=first", content=photo), 400, "ConfigError")
    assert_error(client.post("/v1/meme?style=baroque", content=photo), 400, "ConfigError")
    assert_error(client.post("/v1/meme?format=tiff", content=photo), 400, "ConfigError")
    assert_error(client.post("/v1/analyze", json={"image": "x"}), 415, "UnsupportedMediaType")
    blank = png_bytes(np.full((200, 200, 3), 128, np.uint8))
    assert "no face found" in assert_error(client.post("/v1/meme", content=blank), 422, "NoFaceError")
    assert client.post("/v1/meme?text=hi", content=blank).status_code == 200  # as in the CLI: own text, no face needed
    assert_error(client.post("/v1/captions", content=b"{", headers={"Content-Type": "application/json"}), 400,
                 "ConfigError")
    assert_error(client.post("/v1/captions", json={"emotion": "joy", "n": 0}), 400, "ConfigError")
    for n in (0, 21, True, "3", 2.0):  # edgekit.validate's wording: the parameter, the value, what to do
        message = assert_error(client.post("/v1/captions", json={"emotion": "happiness", "n": n}), 400, "ConfigError")
        assert message == f"n={n!r}: must be an integer in [1, 20]. ask for 1 to 20 captions per request", message
    assert_error(client.post("/v1/captions", json={"emotion": "happiness", "colour": 1}), 400, "ConfigError")
    assert_error(client.post("/v1/suggest", json={"n": 2}), 400, "ConfigError")
    assert_error(client.get("/v1/nothing-here"), 404)
    assert_error(client.get("/v1/batches/not-a-job"), 404, "NotFound")
    assert_error(client.get("/v1/results/" + "a" * 40 + ".png"), 404, "NotFound")
    assert client.get("/healthz").status_code == 200  # nothing above broke the server


def test_the_message_is_the_cli_line(client, tmp_path):
    """The 4xx message is what the CLI prints after 'edgekit: error: ' for the same input."""
    import subprocess
    import sys

    bad = tmp_path / "request body"
    bad.write_bytes(b"GIF89a broken")
    cli = subprocess.run([sys.executable, "-m", "edgekit", "analyze", str(bad)], capture_output=True, text=True,
                         cwd=tmp_path)
    line = cli.stderr.strip().splitlines()[-1]
    served = client.post("/v1/analyze", content=b"GIF89a broken").json()["error"]["message"]
    assert line.endswith(served.split(": ", 1)[1])


# ---------------------------------------------------------------------------------- auth

def test_token_required_off_loopback_and_enforced(tmp_path, photo):
    assert is_loopback("127.0.0.1") and is_loopback("127.8.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "10.0.0.2", "example.org"))
    with pytest.raises(ConfigError, match="needs an API token"):
        ServerConfig(host="0.0.0.0", data_dir=tmp_path / "a").check()
    with pytest.raises(ConfigError, match="at least 16"):
        ServerConfig(host="0.0.0.0", token="short", data_dir=tmp_path / "a").check()
    ServerConfig(host="0.0.0.0", token=TOKEN, data_dir=tmp_path / "a").check()
    os.environ["EDGEKIT_SERVER_TOKEN"] = TOKEN
    try:
        assert ServerConfig(host="0.0.0.0", data_dir=tmp_path / "a").check().token == TOKEN
    finally:
        del os.environ["EDGEKIT_SERVER_TOKEN"]
    config = ServerConfig(token=TOKEN, data_dir=tmp_path / "b", warmup=False).check()
    with TestClient(create_app(config, start_runner=False)) as c:
        wait_until_ready(c)
        assert_error(c.post("/v1/analyze", content=photo), 401, "Unauthorized")
        assert_error(c.post("/v1/analyze", content=photo, headers={"Authorization": "Bearer " + "x" * 24}), 401)
        assert c.post("/v1/analyze", content=photo, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200  # probes stay open


def test_config_limits_name_the_field_the_value_and_the_flag(tmp_path):
    """ServerConfig.check's integer limits use edgekit.validate: the field and its value, what a valid
    value is, and the edgekit serve flag that sets it."""
    cases = {"max_concurrent": (0, "an integer >= 1", "--max-concurrent N"),
             "max_queued": (-1, "an integer >= 0", "--max-queued N"),
             "max_body_bytes": (True, "an integer >= 1", "--max-body-mb MB"),
             "num_threads": (1.5, "an integer >= 1", "--threads N"),
             "max_active_jobs": ("4", "an integer >= 1", "--max-jobs N")}
    for name, (value, expected, flag) in cases.items():
        with pytest.raises(ConfigError) as info:
            ServerConfig(data_dir=tmp_path / "d", **{name: value}).check()
        least = 0 if name == "max_queued" else 1
        assert str(info.value) == (f"{name}={value!r}: must be {expected}. "
                                   f"set {name} to {least} or more (edgekit serve {flag})"), str(info.value)
    assert ServerConfig(data_dir=tmp_path / "d", max_queued=0).check().max_queued == 0


def test_warm_up_runs_the_request_path_before_ready(tmp_path, photo):
    """The warm-up sends its synthetic requests through the app (token check included) before
    /readyz turns ready, records the RSS then, and leaves the metrics and the result cache alone."""
    from edgekit.server.app import WARMUP_MIX, WARMUP_SIZES

    config = ServerConfig(token=TOKEN, data_dir=tmp_path / "w").check()
    app = create_app(config, start_runner=False)
    with TestClient(app) as c:
        wait_until_ready(c)
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and ready["rss_mb_at_ready"] > 50 and ready["warmup_s"] > 0
        text = c.get("/metrics").text
        assert 'route="/v1/analyze"' not in text and 'route="/v1/meme"' not in text, "warm-up counted as traffic"
        assert app.state.cache.bytes == 0
        assert len(WARMUP_SIZES) * (1 + len(WARMUP_MIX)) >= 20
        assert c.post("/v1/analyze", content=photo, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_failed_warm_up_request_keeps_the_server_unready(tmp_path, monkeypatch):
    import edgekit.server.app as server_app

    monkeypatch.setattr(server_app, "WARMUP_SIZES", ((256, 256),))
    monkeypatch.setattr(server_app, "WARMUP_MIX", ("/v1/meme?colour=red",))
    config = ServerConfig(data_dir=tmp_path / "f").check()
    with TestClient(create_app(config, start_runner=False), raise_server_exceptions=False) as c:
        for _ in range(600):
            body = c.get("/readyz").json()
            if body["status"] != "starting":
                break
            time.sleep(0.1)
        assert body["status"] == "failed" and "/v1/meme?colour=red" in body["error"] and "400" in body["error"], body
        assert_error(c.post("/v1/captions", json={"emotion": "happiness"}), 503, "NotReady")


def wait_settled(client: TestClient) -> dict:
    """/readyz once it is no longer ``starting`` (ready or failed)."""
    for _ in range(1200):
        body = client.get("/readyz").json()
        if body["status"] != "starting":
            return body
        time.sleep(0.1)
    raise AssertionError(body)


@pytest.mark.parametrize("limits", [{"max_queued": 0}, {"max_concurrent": 1, "max_queued": 0},
                                    {"max_concurrent": 1, "max_queued": 2}])
def test_the_warm_up_is_not_refused_by_the_admission_limit(tmp_path, monkeypatch, photo, limits):
    """The warm-up sends len(WARMUP_MIX) = 4 requests at once, more than --max-concurrent +
    --max-queued here: they bypass the admission count (a refusal would leave /readyz failed and
    the pod restarting for ever); traffic after ready is admitted as before."""
    import edgekit.server.app as server_app

    monkeypatch.setattr(server_app, "WARMUP_SIZES", ((384, 288),))  # one round: the gather of 4 is what counts
    assert len(server_app.WARMUP_MIX) > limits.get("max_concurrent", 2) + limits["max_queued"]
    config = ServerConfig(data_dir=tmp_path / "q", **limits).check()
    app = create_app(config, start_runner=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert wait_settled(c)["status"] == "ready"
        state = app.state
        assert state.sync_requests == 0
        assert c.post("/v1/analyze", content=photo).status_code == 200


@pytest.mark.parametrize("max_pixels", [100_000, 2_000])
def test_the_warm_up_photos_fit_a_small_max_pixels(tmp_path, monkeypatch, photo, max_pixels):
    """Warm-up photos are scaled to fit --max-pixels (down to WARMUP_MIN_SIDE, below which the
    cap, which the warm-up does not control, is not applied to its own requests); traffic over
    the cap still gets 413."""
    import edgekit.server.app as server_app

    monkeypatch.setattr(server_app, "WARMUP_SIZES", ((480, 640), (384, 288)))
    sizes = server_app.warmup_sizes(max_pixels)
    assert len(sizes) == 2 and all(min(w, h) >= server_app.WARMUP_MIN_SIDE for w, h in sizes)
    if max_pixels >= 64 * 85:
        assert all(w * h <= max_pixels for w, h in sizes), sizes
    config = ServerConfig(data_dir=tmp_path / "p", max_pixels=max_pixels).check()
    with TestClient(create_app(config, start_runner=False), raise_server_exceptions=False) as c:
        assert wait_settled(c)["status"] == "ready"
        assert_error(c.post("/v1/analyze", content=photo), 413, "TooLarge")


def test_warmup_sizes_keep_their_variety_and_aspect():
    from edgekit.server.app import WARMUP_SIZES, warmup_sizes

    assert warmup_sizes(40_000_000) == WARMUP_SIZES
    assert max(w * h for w, h in WARMUP_SIZES) == 480 * 640
    small = warmup_sizes(480 * 640 // 4)
    assert len(set(small)) == len(WARMUP_SIZES) and all(w * h <= 480 * 640 // 4 for w, h in small)
    assert all(abs(w / h - w0 / h0) < 0.02 for (w, h), (w0, h0) in zip(small, WARMUP_SIZES))


def test_a_request_during_the_warm_up_is_not_ready_before_taking_a_slot(tmp_path, monkeypatch, photo):
    """While the warm-up runs, an outside POST gets 503 NotReady before admission: with every
    slot taken it is still NotReady (not Busy) and it takes none; the warm-up's own requests
    are admitted regardless."""
    import asyncio
    import threading

    import edgekit.server.app as server_app

    monkeypatch.setattr(server_app, "WARMUP_SIZES", ((384, 288),))
    real = server_app.warm_up_requests
    started, release = threading.Event(), threading.Event()

    async def gated(app, config):
        started.set()
        while not release.is_set():
            await asyncio.sleep(0.01)
        return await real(app, config)

    monkeypatch.setattr(server_app, "warm_up_requests", gated)
    config = ServerConfig(data_dir=tmp_path / "n", max_concurrent=1, max_queued=0).check()
    app = create_app(config, start_runner=False)
    state = app.state
    with TestClient(app, raise_server_exceptions=False) as c:
        assert started.wait(300)
        assert c.get("/readyz").json()["status"] == "starting"
        r = c.post("/v1/analyze", content=photo)
        assert "starting" in assert_error(r, 503, "NotReady") and r.headers["retry-after"] == "2"
        assert state.sync_requests == 0  # refused before admission
        state.sync_requests = 1  # every slot taken (max_concurrent 1 + max_queued 0)
        try:
            assert_error(c.post("/v1/meme", content=photo), 503, "NotReady")
            assert state.sync_requests == 1
            release.set()
            assert wait_settled(c)["status"] == "ready"  # the warm-up was admitted though the room is full
        finally:
            state.sync_requests = 0
        assert c.post("/v1/analyze", content=photo).status_code == 200


# ---------------------------------------------------------------------------------- batches

def test_batch_folder_matches_the_cli_manifest(client, roots, tmp_path):
    from edgekit.meme import make_memes

    r = client.post("/v1/batches", json={"task": "meme", "folder": "photos",
                                         "options": {"text": "hello world", "lang": "en"}})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    assert job["state"] == "done" and job["counts"]["done"] == 4 and job["counts"]["failed"] == 1
    served = [json.loads(line) for line in client.get(f"/v1/batches/{job['id']}/manifest").text.splitlines()]
    cli = make_memes(roots / "root" / "photos", tmp_path / "cli", text="hello world", lang="en")
    expected = [json.loads(line) for line in cli.manifest.read_text().splitlines()]
    for rec in expected:  # the CLI names the file as the user gave it; the server names it relative to the batch
        if rec["error"]:
            rec["error"] = rec["error"].replace(str(roots / "root" / "photos") + "/", "")
    assert served == expected
    out = client.get(f"/v1/batches/{job['id']}/outputs/photo_0000.png")
    assert out.status_code == 200 and out.content == (tmp_path / "cli" / "photo_0000.png").read_bytes()
    assert_error(client.get(f"/v1/batches/{job['id']}/outputs/../../jobs.sqlite"), 404)
    assert_error(client.post(f"/v1/batches/{job['id']}/cancel"), 409, "Conflict")
    assert_error(client.delete(f"/v1/batches/{job['id']}"), 409, "Conflict")


def test_batch_uploads_paths_and_analyze(client, roots):
    from server_support import astronaut_bgr

    files = [("images", ("a.png", png_bytes(astronaut_bgr()), "image/png")),
             ("images", ("../../evil.png", b"junk", "image/png")),
             ("images", ("a.png", png_bytes(astronaut_bgr()[:, ::-1]), "image/png"))]
    r = client.post("/v1/batches", files=files, data={"task": "analyze"})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    records = [json.loads(x) for x in client.get(f"/v1/batches/{job['id']}/manifest").text.splitlines()]
    assert [rec["source"] for rec in records] == ["a.png", "evil.png", "a_2.png"]
    assert [rec["ok"] for rec in records] == [True, False, True]
    assert records[0]["faces"][0]["emotion"]["label"] == "happiness"
    second = "file://" + str(roots / "root" / "photos" / "photo_0002.png")
    paths = ["photos/photo_0001.png", second, "photos/missing.png"]
    r = client.post("/v1/batches", json={"task": "meme", "paths": paths, "options": {"styles": 2, "seed": 3}})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    records = [json.loads(x) for x in client.get(f"/v1/batches/{job['id']}/manifest").text.splitlines()]
    assert sum(rec["ok"] for rec in records) == 4 and records[-1]["error_type"] == "ImageReadError"
    assert len({rec["output"] for rec in records if rec["ok"]}) == 4


def test_batch_roots_limits_and_cancel(client, roots):
    outside = str(roots / "outside")
    assert "outside the folders" in assert_error(client.post("/v1/batches", json={"folder": outside}), 403, "Forbidden")
    assert_error(client.post("/v1/batches", json={"folder": "../outside"}), 403, "Forbidden")
    assert_error(client.post("/v1/batches", json={"folder": "escape"}), 403, "Forbidden")  # a link leading out
    assert "a link in the folder" in assert_error(client.post("/v1/batches", json={"folder": "mixed"}), 403,
                                                  "Forbidden")
    assert_error(client.post("/v1/batches", json={"paths": ["/etc/passwd"]}), 403, "Forbidden")
    assert "never downloads" in assert_error(client.post("/v1/batches", json={"paths": ["https://example.org/a.jpg"]}),
                                             400)
    assert_error(client.post("/v1/batches", json={"folder": str(roots / "root" / "photos"), "paths": []}), 400,
                 "ConfigError")
    assert_error(client.post("/v1/batches", json={"folder": str(roots / "root" / "photos"), "task": "dance"}), 400,
                 "ConfigError")
    assert_error(client.post("/v1/batches", json={"folder": str(roots / "root" / "photos"), "options": {"speed": 3}}),
                 400)
    assert_error(client.post("/v1/batches", json={"paths": [f"p{i}.png" for i in range(51)]}), 413, "TooManyImages")
    # cancel: three slow jobs fill the queue (max 3 active), a fourth is refused, cancelling frees a place
    ids = []
    for _ in range(3):
        r = client.post("/v1/batches", json={"folder": str(roots / "root" / "photos"), "options": {"styles": 8}})
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    assert_error(client.post("/v1/batches", json={"folder": str(roots / "root" / "photos")}), 429, "TooManyJobs")
    for job_id in ids:
        assert client.delete(f"/v1/batches/{job_id}").json()["state"] == "cancelled"
    for job_id in ids:
        job = wait_job(client, job_id)
        assert job["state"] == "cancelled" and job["counts"]["pending"] == 0
    assert_error(client.post(f"/v1/batches/{ids[0]}/cancel"), 409, "Conflict")
    restarted = client.post("/v1/batches", json={"folder": str(roots / "root" / "photos"), "options": {"text": "x"}})
    assert restarted.status_code == 202


def test_analyze_cache_keeps_each_request_name_and_uses_a_weak_etag(client, photo):
    first = client.post("/v1/analyze?name=first.png&max_faces=3", content=photo)
    assert first.status_code == 200 and first.json()["source"] == "first.png"
    etag = first.headers["etag"]
    assert etag.startswith('W/"')  # the body holds timings: equivalent answers, not identical bytes
    second = client.post("/v1/analyze?name=second.png&max_faces=3", content=photo)
    assert second.json()["source"] == "second.png" and second.headers["etag"] != etag
    again = client.post("/v1/analyze?name=first.png&max_faces=3", content=photo)
    assert again.headers["x-edgekit-cache"] == "hit" and again.json()["source"] == "first.png"
    assert again.headers["etag"] == etag
    for tag in (etag, etag[2:]):  # If-None-Match compares weakly
        assert client.post("/v1/analyze?name=first.png&max_faces=3", content=photo,
                           headers={"If-None-Match": tag}).status_code == 304
    assert client.get(first.headers["content-location"]).headers["etag"] == etag


def test_batch_items_get_the_server_pixel_limit_and_no_videos(client, roots):
    import cv2
    from server_support import astronaut_bgr

    big = cv2.resize(astronaut_bgr(), (1500, 1500))  # 2.25 MP > the fixture's max_pixels (2 MP)
    files = [("images", ("big.png", png_bytes(big), "image/png")),
             ("images", ("small.png", png_bytes(astronaut_bgr()), "image/png"))]
    r = client.post("/v1/batches", files=files, data={"task": "analyze"})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    records = [json.loads(x) for x in client.get(f"/v1/batches/{job['id']}/manifest").text.splitlines()]
    assert [rec["ok"] for rec in records] == [False, True], records
    assert "1500x1500" in records[0]["error"] and "2,000,000" in records[0]["error"]
    # a video upload is refused before anything is stored; a client cannot lift the limits
    files = [("images", ("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")), files[1]]
    assert "photos only" in assert_error(client.post("/v1/batches", files=files, data={"task": "meme"}), 415)
    for option in ({"max_pixels": 10 ** 9}, {"videos": True}):
        assert_error(client.post("/v1/batches", files=files[1:], data={"options": json.dumps(option)}), 400,
                     "ConfigError")
    # files under a root: the same limits, one failed record each
    folder = roots / "root" / "limits"
    folder.mkdir(exist_ok=True)
    cv2.imwrite(str(folder / "big.png"), big)
    (folder / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not decoded")
    r = client.post("/v1/batches", json={"task": "meme", "folder": "limits", "options": {"text": "x"}})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    records = {rec["source"]: rec for rec in map(json.loads,
                                                 client.get(f"/v1/batches/{job['id']}/manifest").text.splitlines())}
    assert not records["big.png"]["ok"] and "2,000,000" in records["big.png"]["error"]
    assert not records["clip.mp4"]["ok"] and "photos only" in records["clip.mp4"]["error"], records


def test_a_job_of_another_replica_is_a_404_naming_this_server(client):
    """Each replica keeps its own job store: the 404 says which server answered and that the job
    lives on the one that accepted it, whose name every job answer carries."""
    r = client.get("/v1/batches/" + "f" * 32)
    message = assert_error(r, 404, "NotFound")
    assert "(edgekit-pod-a)" in message and "only on the server that accepted it" in message
    assert r.headers["x-edgekit-server"] == "edgekit-pod-a"
    for path in ("/manifest", "/outputs/a.png", "/cancel"):
        method = client.post if path == "/cancel" else client.get
        assert "edgekit-pod-a" in assert_error(method("/v1/batches/" + "f" * 32 + path), 404)
    r = client.post("/v1/batches", json={"task": "analyze", "paths": ["photos/photo_0000.png"]})
    assert r.status_code == 202 and r.json()["server"] == "edgekit-pod-a"
    assert client.get(r.headers["location"]).json()["server"] == "edgekit-pod-a"


def test_synchronous_requests_beyond_the_queue_get_503_before_their_body(client, photo):
    state = client.app.state
    config = state.config
    assert state.slots._value == config.max_concurrent == 2  # decodes at once (docs/server.md, memory)
    state.sync_requests = config.max_concurrent + config.max_queued  # as if that many were computing or waiting
    try:
        r = client.post("/v1/analyze", content=photo)
        assert "retry shortly" in assert_error(r, 503, "Busy") and r.headers["retry-after"] == "1"
        assert client.get("/v1/batches").status_code == 200 and client.get("/readyz").status_code == 200
    finally:
        state.sync_requests = 0
    assert client.post("/v1/analyze", content=photo).status_code == 200
    assert state.sync_requests == 0  # released after each request


def test_a_lone_small_analysis_runs_on_the_event_loop_others_in_the_pool(client, monkeypatch):
    """No thread hand-off for a small photo when nothing else is in flight (the /v1/analyze
    overhead, docs/server.md); a photo over INLINE_MAX_PIXELS goes to the thread pool."""
    import cv2

    import edgekit.pipeline
    from edgekit.server.app import INLINE_MAX_PIXELS
    from server_support import astronaut_bgr

    threads = []
    real = edgekit.pipeline.analyze

    def analyze(image, **options):
        import threading

        threads.append(threading.current_thread().name)
        return real(image, **options)

    monkeypatch.setattr(edgekit.pipeline, "analyze", analyze)
    big = cv2.resize(astronaut_bgr(), (1200, 1000))
    assert 1200 * 1000 > INLINE_MAX_PIXELS >= 512 * 512
    # an app not wired to uvicorn's count (another ASGI server) never computes on the event loop
    assert client.app.state.open_connections() > 1
    r = client.post("/v1/analyze?name=inline-test-0", content=png_bytes(astronaut_bgr()))
    assert r.status_code == 200 and "worker" in threads.pop().lower()
    monkeypatch.setattr(client.app.state, "open_connections", lambda: 1)  # as uvicorn counts one lone client
    for image in (astronaut_bgr(), big):
        r = client.post("/v1/analyze?name=inline-test", content=png_bytes(image))
        assert r.status_code == 200 and r.json()["faces"], r.text
    assert len(threads) == 2
    assert "worker" not in threads[0].lower() and "worker" in threads[1].lower(), threads
    # another client connected (uvicorn's count): its request may be waiting unread, so the pool
    monkeypatch.setattr(client.app.state, "open_connections", lambda: 2)
    r = client.post("/v1/analyze?name=inline-test-2", content=png_bytes(astronaut_bgr()))
    assert r.status_code == 200 and "worker" in threads[2].lower(), threads


def test_serve_gives_the_app_uvicorns_connection_count(monkeypatch, tmp_path):
    """edgekit serve wires ServerState.open_connections to uvicorn's own set of connections."""
    import uvicorn

    from edgekit.server.config import ServerConfig
    from edgekit.server.run import serve

    seen = {}

    def run(self):
        state = self.config.app.state
        seen["none"] = state.open_connections()
        self.server_state.connections.update({object(), object()})
        seen["two"] = state.open_connections()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    serve(ServerConfig(data_dir=tmp_path, port=0))
    assert seen == {"none": 0, "two": 2}
