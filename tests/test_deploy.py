"""Static checks of the image and the Kubernetes manifests (no Docker, no cluster).

`make deploy-check` renders and schema-validates every overlay; these tests hold
what a schema cannot see: that the Dockerfile copies what exists and runs what is
installed, and that the manifests agree with the services' settings.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import console.__main__ as console_main

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
IMAGE = "graphos-scim"  # the image name the manifests use (kustomize rewrites it)
# The only readers of the environment (STYLE.md); every variable we set must be one of theirs.
# Every module that reads the environment of a deployed process.
SETTINGS = (
    ROOT / "gateway" / "settings.py",
    ROOT / "identity_svc" / "settings.py",
    ROOT / "identity_api" / "client_tls.py",
    ROOT / "console" / "settings.py",
    ROOT / "identityctl" / "settings.py",  # the console reaches the service as identityctl does
)
PROCESS_ENV = {"HOME", "TMPDIR"}


# --- Dockerfile ----------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    result = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def project_scripts() -> dict[str, str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        scripts: dict[str, str] = tomllib.load(f)["project"]["scripts"]
    return scripts


def module_runs_as_main(module: str) -> bool:
    """Whether `python -m module` would run something from this repository."""
    path = ROOT.joinpath(*module.split("."))
    if (path / "__main__.py").is_file():
        return True
    source = path.with_suffix(".py")
    return source.is_file() and '__name__ == "__main__"' in source.read_text(encoding="utf-8")


def assert_command_resolves(argv: list[str]) -> None:
    assert argv, "empty command"
    if argv[0] in {"python", "python3"}:
        assert argv[1] == "-m", f"{argv}: run modules, not scripts or -c"
        assert module_runs_as_main(argv[2]), f"{argv}: no such runnable module"
        return
    scripts = project_scripts()
    assert argv[0] in scripts, f"{argv[0]} is not a console script in pyproject.toml"
    module, _, func = scripts[argv[0]].partition(":")
    source = ROOT.joinpath(*module.split(".")).with_suffix(".py")
    assert source.is_file(), f"{scripts[argv[0]]}: no {source}"
    assert f"def {func}(" in source.read_text(encoding="utf-8")


def test_base_images_are_pinned():
    stages: set[str] = set()
    for keyword, args in dockerfile_instructions():
        if keyword != "FROM":
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        image = words[0]
        if len(words) == 3 and words[1].upper() == "AS":
            stages.add(words[2])
        if image in stages:
            continue
        name, _, tag = image.partition(":")
        assert tag, f"{image}: no tag"
        assert "latest" not in tag, f"{image}: pin a version"
        assert re.match(r"\d+\.\d+\.\d+", tag) or "@sha256:" in image, f"{image}: full version"
        assert name


def test_copy_sources_exist_and_are_in_the_build_context():
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copies = [args for keyword, args in dockerfile_instructions() if keyword == "COPY"]
    checked = 0
    for args in copies:
        words = args.split()
        if any(w.startswith("--from=") for w in words):
            continue
        sources = [w for w in words if not w.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert source.rstrip("/") in included, f"COPY {source}: excluded by .dockerignore"
            checked += 1
    assert checked


def test_the_image_gets_every_package_the_project_installs():
    # A package left out of the image installs fine and fails only at import.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.removesuffix("*") for p in patterns} - {"identity_api"}  # generated
    copied = {
        word.rstrip("/")
        for keyword, args in dockerfile_instructions()
        if keyword == "COPY"
        for word in args.split()
    }
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"


def test_cmd_and_entrypoint_resolve():
    commands = [
        (keyword, args)
        for keyword, args in dockerfile_instructions()
        if keyword in {"CMD", "ENTRYPOINT"}
    ]
    assert commands, "the image needs a default CMD"
    for keyword, args in commands:
        argv = json.loads(args)  # exec form only: signals reach the process
        assert isinstance(argv, list), f"{keyword} {args}: use the exec (JSON) form"
        assert_command_resolves(argv)


def test_image_generates_code_with_the_dev_pinned_grpcio_tools():
    with (ROOT / "pyproject.toml").open("rb") as f:
        dev = tomllib.load(f)["project"]["optional-dependencies"]["dev"]
    (pin,) = (d for d in dev if d.startswith("grpcio-tools=="))
    runs = " ".join(args for keyword, args in dockerfile_instructions() if keyword == "RUN")
    assert re.findall(r"grpcio-tools==[\w.]+", runs) == [pin]


def test_image_runs_as_numeric_non_root_user():
    users = [args for keyword, args in dockerfile_instructions() if keyword == "USER"]
    assert users, "no USER"
    uid = users[-1].split(":")[0]
    assert uid == "10001"


def test_the_module_runner_accepts_what_exists():
    assert module_runs_as_main("gateway")
    assert not module_runs_as_main("gateway.no_such_module")
    with pytest.raises(AssertionError):
        assert_command_resolves(["no-such-script"])


# --- manifests -----------------------------------------------------------------


def manifests(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(folder.rglob("*.yaml")):
        if path.name.startswith(".") or path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and "kind" in doc:
                yield path, doc


def by_kind(kind: str, folder: Path = DEPLOY / "base") -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in manifests(folder) if d["kind"] == kind}


def config() -> dict[str, str]:
    data: dict[str, str] = by_kind("ConfigMap")["graphos-scim-config"]["data"]
    return data


def pod_specs(folder: Path = DEPLOY) -> Iterator[tuple[str, dict[str, Any]]]:
    for _, doc in manifests(folder):
        if doc["kind"] in {"Deployment", "StatefulSet"}:
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def our_containers() -> Iterator[dict[str, Any]]:
    for _, spec in pod_specs(DEPLOY / "base"):
        yield from spec.get("initContainers", [])
        yield from spec["containers"]


def test_manifest_commands_resolve():
    containers = list(our_containers())
    assert {c["name"] for c in containers} >= {"gateway", "identity-svc", "migrate"}
    for container in containers:
        assert container["image"] == IMAGE
        assert_command_resolves(container["command"])


def test_migrate_step_runs_as_the_init_container_does(database_url: str):
    (migrate,) = (c for c in our_containers() if c["name"] == "migrate")
    assert migrate["command"][0] == "python"
    argv = [sys.executable, *migrate["command"][1:]]  # the venv's python, as in the image
    done = subprocess.run(  # noqa: S603 - the manifest's own command
        argv,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "migrations applied: 0" in done.stderr  # the session database is current


def test_every_pod_is_hardened_and_sized():
    # Whole workloads live in base and dev; prod and components only patch them.
    specs = dict(pod_specs(DEPLOY / "base")) | dict(pod_specs(DEPLOY / "overlays" / "dev"))
    assert {"gateway", "identity-svc", "postgres"} <= specs.keys()
    for name, spec in specs.items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        if name != "postgres":
            assert pod["runAsUser"] == 10001, name
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
            assert {"cpu", "memory"} <= c["resources"]["requests"].keys(), c["name"]
            assert {"cpu", "memory"} <= c["resources"]["limits"].keys(), c["name"]


def test_variables_we_set_are_ones_the_services_read():
    read = "\n".join(p.read_text(encoding="utf-8") for p in SETTINGS)
    names = set(config())
    for _, spec in pod_specs(DEPLOY):
        for c in spec.get("initContainers", []) + spec["containers"]:
            # Ours (patches name no image), not postgres or the console proxy.
            if c.get("image", IMAGE) == IMAGE:
                names |= {e["name"] for e in c.get("env", [])}
    names -= PROCESS_ENV | {"DATABASE_URL"}  # read by the migration step and the service
    unknown = sorted(n for n in names if f'"{n}"' not in read)
    assert not unknown, f"no setting reads {unknown}"


def test_grace_period_covers_shutdown_delay_and_drain():
    cfg = config()
    delay = float(cfg["SHUTDOWN_DELAY_SECONDS"])
    drains = {
        "gateway": delay + float(cfg["GATEWAY_DRAIN_SECONDS"]),
        "identity-svc": delay + float(cfg["IDENTITY_DRAIN_SECONDS"]),
        "console": console_main.DRAIN_SECONDS,  # no readiness delay: no load balancer waits
    }
    for name, spec in pod_specs(DEPLOY / "base"):
        assert spec["terminationGracePeriodSeconds"] > drains[name], name


def test_probes_follow_the_runtime_contract():
    cfg = config()
    specs = dict(pod_specs(DEPLOY / "base"))
    (gateway,) = specs["gateway"]["containers"]
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    (identity,) = specs["identity-svc"]["containers"]
    health = int(cfg["IDENTITY_HEALTH_PORT"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert identity[probe]["grpc"]["port"] == health
    service = by_kind("Service")["identity-svc"]
    assert [p["port"] for p in service["spec"]["ports"]] == [int(cfg["IDENTITY_PORT"])]


def test_ingress_matches_public_url_and_body_limit():
    cfg = config()
    ingress = by_kind("Ingress")["gateway"]
    (rule,) = ingress["spec"]["rules"]
    assert cfg["SCIM_PUBLIC_URL"] == f"https://{rule['host']}"
    assert rule["host"] in ingress["spec"]["tls"][0]["hosts"]
    size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    limit = int(size[:-1]) * units[size[-1].lower()] if size[-1].isalpha() else int(size)
    assert limit >= int(cfg["SCIM_MAX_BODY_BYTES"])


def test_no_literal_secrets_outside_dev():
    for folder in (DEPLOY / "base", DEPLOY / "overlays" / "prod", DEPLOY / "components"):
        assert not [p for p, d in manifests(folder) if d["kind"] == "Secret"], folder
        for kustomization in folder.rglob("kustomization.yaml"):
            assert "secretGenerator" not in yaml.safe_load(kustomization.read_text("utf-8"))


def test_mtls_certificates_chain_and_are_mounted():
    folder = DEPLOY / "components" / "mtls"
    issuers = by_kind("Issuer", folder)
    certificates = by_kind("Certificate", folder)
    for name, cert in certificates.items():
        assert cert["spec"]["issuerRef"]["name"] in issuers, name
    for issuer in issuers.values():
        if "ca" in issuer["spec"]:
            ca_secrets = {c["spec"]["secretName"] for c in certificates.values()}
            assert issuer["spec"]["ca"]["secretName"] in ca_secrets
    mounted = {
        v["secret"]["secretName"]
        for _, spec in pod_specs(folder)
        for v in spec["volumes"]
        if "secret" in v
    }
    assert mounted == {"identity-svc-tls", "gateway-client-tls", "console-client-tls"}
    assert mounted <= {c["spec"]["secretName"] for c in certificates.values()}

    def names(variable: str) -> list[str]:
        return shlex.split(
            next(
                e["value"]
                for _, spec in pod_specs(folder)
                for c in spec["containers"]
                for e in c.get("env", [])
                if e["name"] == variable
            ).replace(",", " ")
        )

    assert certificates["gateway-client-tls"]["spec"]["commonName"] in names(
        "IDENTITY_MTLS_SERVICES"
    )
    # The console calls OrgAdmin: its certificate names an operator.
    assert certificates["console-client-tls"]["spec"]["commonName"] in names(
        "IDENTITY_MTLS_OPERATORS"
    )
