"""deploy/k8s manifests, the Dockerfile and deploy/container's scripts, checked offline: every manifest
validates against the Kubernetes JSON schemas (kubernetes-validate, strict), and they agree with each
other and with the server (labels, ports, probe paths, the token's environment variable, the grace
period). The image itself is built by ``deploy/container/build.sh``, never here (minutes)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml is in the [test] extra")
kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is in the [test] extra")

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.30"


def docs():
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out[(doc["kind"], path.name)] = doc
    return out


def by_kind(kind: str) -> dict:
    return next(d for (k, _), d in docs().items() if k == kind)


def test_every_manifest_validates_strictly():
    found = docs()
    assert {k for k, _ in found} >= {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                                     "Secret",
                                     "Kustomization"}
    for (kind, name), doc in found.items():
        if kind == "Kustomization":
            listed = set(doc["resources"])
            assert listed == {"deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml"}
            continue
        kv.validate(doc, K8S_VERSION, strict=True)  # raises ValidationError with the path of the problem


def test_a_broken_manifest_is_caught():
    bad = json.loads(json.dumps(by_kind("HorizontalPodAutoscaler")))
    bad["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] = "five minutes"
    with pytest.raises(kv.ValidationError):
        kv.validate(bad, K8S_VERSION, strict=True)


def test_manifests_agree_with_each_other_and_the_server():
    from edgekit.server.config import TOKEN_ENV

    dep, svc, hpa, pdb = (by_kind(k) for k in ("Deployment", "Service", "HorizontalPodAutoscaler",
                                               "PodDisruptionBudget"))
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"] == labels
    assert svc["spec"]["selector"] == labels and pdb["spec"]["selector"]["matchLabels"] == labels
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": dep["metadata"]["name"]}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]  # a drain can always proceed
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port = container["ports"][0]
    assert svc["spec"]["ports"][0]["targetPort"] in (port["name"], port["containerPort"])
    assert svc["spec"]["sessionAffinity"] == "ClientIP"  # batch jobs are per pod (docs/server.md)
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for res in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][res])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert [e["name"] for e in container["env"]] == [TOKEN_ENV]
    args = container["args"]
    grace = float(args[args.index("--grace") + 1])
    # the CLI accepts every argument given in the manifest
    from edgekit.cli import build_parser

    parsed = build_parser().parse_args(["serve", *args])
    assert parsed.grace == grace


def mebibytes(quantity: str) -> float:
    units = {"Ki": 2 ** -10, "Mi": 1, "Gi": 2 ** 10}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_the_pod_limits_cover_the_server_limits():
    """SIGTERM to exit fits terminationGracePeriodSeconds, and the memory limit covers the worst
    case of the server's own limits (ServerConfig.memory_peak_mb: concurrent max-pixel decodes,
    admitted bodies, the cache, the batch pool), as docs/server.md states it."""
    from edgekit.cli import build_parser
    from edgekit.cli.serve import config_from
    from edgekit.server.run import EXIT_OVERHEAD_S

    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    config = config_from(build_parser().parse_args(["serve", *container["args"]]))
    assert pod["terminationGracePeriodSeconds"] >= config.shutdown_grace_s + EXIT_OVERHEAD_S
    peak = config.memory_peak_mb()
    assert peak["decodes"] == config.max_concurrent * 267 and peak["pool"] == 115 + 267, peak
    assert mebibytes(container["resources"]["limits"]["memory"]) >= peak["total"] * 1.05, peak  # 5% headroom
    text = (ROOT / "docs" / "server.md").read_text()
    assert f"= {peak['total']:,} MB" in text  # the arithmetic the docs state is this one


def dockerfile_instructions():
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_slim_non_root_and_checks_the_models():
    steps = dockerfile_instructions()
    known = {"FROM", "RUN", "COPY", "ENV", "WORKDIR", "USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD", "ARG",
             "LABEL"}
    assert {w for w, _ in steps} <= known, {w for w, _ in steps} - known
    args = dict(rest.split("=", 1) for w, rest in steps if w == "ARG" and "=" in rest)  # defaults: docker build
    froms = [re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], rest) for w, rest in steps if w == "FROM"]
    assert all(re.match(r"python:3\.\d+-slim\b", f) for f in froms), froms
    final = steps[max(i for i, (w, _) in enumerate(steps) if w == "FROM"):]  # the runtime stage
    runs = " ".join(rest for w, rest in final if w == "RUN")
    assert "[server]" in runs and "[test" not in runs and "ray" not in runs and "tensorflow" not in runs.lower()
    assert "edgekit models" in runs  # sha256 of every bundled model checked at build (exit 1 otherwise)
    user = [rest for w, rest in final if w == "USER"]
    assert user and not user[-1].startswith(("root", "0"))
    steps = [w for w, _ in final]
    assert max(i for i, w in enumerate(steps) if w == "USER") > max(i for i, w in enumerate(steps) if w == "RUN")
    entry = json.loads(next(rest for w, rest in final if w == "ENTRYPOINT"))
    port = entry[entry.index("--port") + 1]
    assert entry[:2] == ["edgekit", "serve"] and port == next(rest for w, rest in final if w == "EXPOSE")
    dep = by_kind("Deployment")
    assert int(port) == dep["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".git" in ignore and ".venv*" in ignore and "runs" in ignore  # no venvs, data or history in the context


def test_container_scripts_parse():
    """deploy/container's scripts: bash syntax (and shellcheck where installed); build.sh builds the
    Dockerfile with its base as a build argument, so the Dockerfile stays a plain docker build."""
    scripts = sorted((ROOT / "deploy" / "container").glob("*.sh"))
    assert {p.name for p in scripts} >= {"base-image.sh", "build.sh"}
    for script in scripts:
        assert script.read_text().startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in script.read_text()
        subprocess.run(["bash", "-n", str(script)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", *map(str, scripts)], check=True)
    assert '--build-arg "BASE=$BASE"' in (ROOT / "deploy" / "container" / "build.sh").read_text()
    assert "ARG BASE=python:3.11-slim" in (ROOT / "Dockerfile").read_text()
