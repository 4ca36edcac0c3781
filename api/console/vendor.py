"""The console's third-party ES modules: fetched from pinned npm tarballs, committed as is.

`make console` runs `python -m api.console.vendor`: for each package in vendor.json it downloads
the tarball from the npm registry, refuses it unless its sha512 is the pinned `integrity`
(what package-lock.json records), and writes the listed files under the console's static folder,
recording each file's sha256 in vendor.json. Nothing is bundled or rewritten, so Node.js is
needed neither to run the console nor to rebuild it. `--check` compares the committed files
with the recorded hashes (offline); `--check --registry` also re-derives them from the tarballs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "vendor.json"
STATIC = HERE / "static"


class VendorError(Exception):
    """A tarball or a committed file is not what vendor.json pins."""


@dataclass(frozen=True, kw_only=True)
class VendoredFile:
    """One file of a package: where it is in the tarball, where it goes, its pinned hash."""

    package: str
    member: str
    target: Path
    sha256: str | None


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    """vendor.json as data."""
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def vendored_files(manifest: dict[str, Any], static: Path = STATIC) -> list[VendoredFile]:
    """Every file the manifest lists, with its committed location."""
    return [
        VendoredFile(
            package=f"{package['name']}@{package['version']}",
            member=member,
            target=static / entry["to"],
            sha256=entry.get("sha256"),
        )
        for package in manifest["packages"]
        for member, entry in package["files"].items()
    ]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_tarball(package: dict[str, Any], timeout: float = 30.0) -> bytes:
    """The package's tarball from the registry, checked against its pinned integrity."""
    with urllib.request.urlopen(package["tarball"], timeout=timeout) as response:
        data: bytes = response.read()
    algorithm, _, expected = package["integrity"].partition("-")
    if algorithm != "sha512":
        raise VendorError(f"{package['name']}: only sha512 integrity is supported")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise VendorError(
            f"{package['name']}@{package['version']}: the tarball's sha512 is {actual}, "
            f"vendor.json pins {expected}"
        )
    return data


def members(tarball: bytes, names: list[str]) -> dict[str, bytes]:
    """The named files of a tarball (a missing one is an error)."""
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for name in names:
            extracted = archive.extractfile(name)
            if extracted is None:
                raise VendorError(f"{name} is not a regular file in the tarball")
            found[name] = extracted.read()
    return found


def from_registry(manifest: dict[str, Any]) -> dict[tuple[str, str], bytes]:
    """Every listed file as the pinned tarballs hold it, keyed by (package@version, member)."""
    out: dict[tuple[str, str], bytes] = {}
    for package in manifest["packages"]:
        contents = members(fetch_tarball(package), list(package["files"]))
        for member, data in contents.items():
            out[(f"{package['name']}@{package['version']}", member)] = data
    return out


def write(manifest_path: Path = MANIFEST, static: Path = STATIC) -> list[Path]:
    """Fetch, verify and write every file; record their hashes in the manifest."""
    manifest = load_manifest(manifest_path)
    contents = from_registry(manifest)
    written = []
    for package in manifest["packages"]:
        key = f"{package['name']}@{package['version']}"
        for member, entry in package["files"].items():
            data = contents[(key, member)]
            pinned = entry.get("sha256")
            if pinned is not None and pinned != sha256(data):
                raise VendorError(f"{key} {member}: the tarball's file is not the pinned one")
            entry["sha256"] = sha256(data)
            target = static / entry["to"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append(target)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return written


def differences(
    manifest: dict[str, Any], static: Path = STATIC, *, registry: bool = False
) -> list[str]:
    """What differs between the committed files and their pins (empty: all match)."""
    problems = []
    upstream = from_registry(manifest) if registry else {}
    for item in vendored_files(manifest, static):
        if not item.target.is_file():
            problems.append(f"{item.target} is missing (run `make console`)")
            continue
        actual = sha256(item.target.read_bytes())
        if item.sha256 is None:
            problems.append(f"{item.package} {item.member} has no pinned sha256")
        elif actual != item.sha256:
            problems.append(f"{item.target} does not match its pinned sha256")
        if registry and actual != sha256(upstream[(item.package, item.member)]):
            problems.append(f"{item.target} is not {item.member} of {item.package}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """`make console`: write the files; `--check [--registry]`: compare them."""
    parser = argparse.ArgumentParser(prog="python -m api.console.vendor")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    parser.add_argument("--registry", action="store_true", help="with --check: re-fetch too")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(load_manifest(), registry=args.registry)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for path in write():
        print(f"wrote {path.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
