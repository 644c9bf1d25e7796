# edgekit serve: the runtime wheel + the 'server' extra on a slim Python, run as a non-root user.
#   docker build -t edgekit-server .
#   docker run -p 8080:8080 -e EDGEKIT_SERVER_TOKEN=$(python -c 'import secrets;print(secrets.token_urlsafe(32))') edgekit-server
# See docs/server.md (capacity, Kubernetes manifests in deploy/k8s/). Without a registry:
#   deploy/container/build.sh   (buildah; a debootstrapped stand-in for the base, --build-arg BASE=...)

ARG BASE=python:3.11-slim

# --- build: the wheel (its build step takes the pinned MediaPipe face models and builds the caption fonts)
FROM ${BASE} AS build
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir --disable-pip-version-check build \
 && python -m build --wheel --outdir /wheels .

# --- runtime: no compiler, no toolchain, no TensorFlow; only edgekit[server]
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EDGEKIT_SERVER_DATA=/var/lib/edgekit/server \
    EDGEKIT_DATA_DIR=/var/lib/edgekit/user
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --disable-pip-version-check "$(ls /wheels/edgekit-*.whl)[server]" \
 && rm -rf /wheels \
 && edgekit models \
 && python -c "import edgekit; from edgekit.assets import demo_photo; assert len(edgekit.analyze(str(demo_photo()))) == 1; edgekit.make_meme(str(demo_photo()), seed=0)"
# `edgekit models` exits 1 unless every bundled model matches its sha256; the second line runs them once
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/edgekit --shell /usr/sbin/nologin edgekit \
 && mkdir -p /var/lib/edgekit/server /var/lib/edgekit/user \
 && chown -R 10001:10001 /var/lib/edgekit && chmod 700 /var/lib/edgekit/server /var/lib/edgekit/user
USER 10001:10001
WORKDIR /var/lib/edgekit
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
# 0.0.0.0 needs EDGEKIT_SERVER_TOKEN (the server refuses to start without it)
ENTRYPOINT ["edgekit", "serve", "--host", "0.0.0.0", "--port", "8080"]
CMD ["--batch-workers", "1"]
