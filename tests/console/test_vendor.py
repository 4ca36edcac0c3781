"""The console's vendored ES modules are exactly the files of their pinned npm tarballs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from api.console import vendor


def test_every_committed_vendor_file_matches_its_pinned_hash() -> None:
    manifest = vendor.load_manifest()
    assert manifest["packages"], "vendor.json pins nothing"
    assert vendor.differences(manifest) == []


def test_a_changed_vendor_file_is_caught(tmp_path: Path) -> None:
    manifest = vendor.load_manifest()
    for item in vendor.vendored_files(manifest):
        copy = tmp_path / item.target.relative_to(vendor.STATIC)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(item.target.read_bytes())
    first = vendor.vendored_files(manifest, tmp_path)[0]
    first.target.write_bytes(first.target.read_bytes() + b"\n// edited by hand\n")
    assert vendor.differences(manifest, tmp_path) == [
        f"{first.target} does not match its pinned sha256"
    ]


def test_a_tarball_other_than_the_pinned_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *args: object) -> None:
            return None

        def read(self) -> bytes:
            return b"not the package"

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Response())
    package = vendor.load_manifest()["packages"][0]
    with pytest.raises(vendor.VendorError, match=r"vendor\.json pins"):
        vendor.fetch_tarball(package)


def test_the_committed_files_are_what_the_pinned_tarballs_hold() -> None:
    """Re-derived from the npm registry (skipped when it cannot be reached)."""
    manifest = vendor.load_manifest()
    try:
        problems = vendor.differences(manifest, registry=True)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        pytest.skip(f"the npm registry is not reachable: {exc}")
    assert problems == []


def test_the_pins_name_exact_versions_and_sha512_integrity() -> None:
    for package in json.loads(vendor.MANIFEST.read_text())["packages"]:
        assert package["version"][0].isdigit() and "^" not in package["version"]
        assert package["integrity"].startswith("sha512-")
        assert package["tarball"].endswith(f"-{package['version']}.tgz")
