"""`fetal-compress ship BUNDLE`: verify a bundle the pipeline wrote and install it into edge/models/<name>/.

Checked before anything is copied: every file against the manifest's sha256 and size, every stage of the
compression report within its accuracy budget, and the version newer than the one installed. The new bundle
is copied beside the target, verified again there and swapped in by renames, so the installed model is either
the old one, untouched, or the new one, complete.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from edge.errors import ConfigError, ModelError
from edge.manifest import Manifest, load_manifest

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def parse_version(text: str, where: str) -> tuple[int, int, int]:
    m = _VERSION.match(str(text))
    if not m:
        raise ConfigError(f"{where}: version {text!r} is not MAJOR.MINOR.PATCH (e.g. 1.4.0); set `version` in the recipe")
    return int(m[1]), int(m[2]), int(m[3])


def verify_bundle(bundle: Path) -> Manifest:
    """The bundle's manifest, after checking its files' checksums and its report's gates (ModelError if not)."""
    manifest = load_manifest(bundle, verify=True)
    report_name = manifest.raw.get("compression_report")
    if not report_name or report_name not in manifest.files:
        raise ModelError(f"{bundle}: the manifest names no checksummed compression report, so its accuracy gates "
                         "cannot be checked; ship only bundles written by `fetal-compress pipeline`")
    rows = json.loads((bundle / report_name).read_text(encoding="utf-8")).get("rows", [])
    failed = [r["stage"] for r in rows if r.get("gate") and not r["gate"].get("passed")]
    if failed or not rows:
        raise ModelError(f"{bundle}: stages {failed or 'none recorded'} did not pass their accuracy gates; "
                         "this bundle must not ship")
    parse_version(manifest.version, str(bundle))
    return manifest


def ship(bundle: Path, models_dir: Path) -> Path:
    """Install `bundle` as models_dir/<name>; returns the installed directory."""
    bundle, models_dir = Path(bundle), Path(models_dir)
    new = verify_bundle(bundle)
    target = models_dir / new.name
    if (target / "manifest.json").is_file():
        old = load_manifest(target, verify=False)
        if parse_version(new.version, str(bundle)) <= parse_version(old.version, str(target)):
            raise ModelError(f"{target} holds {old.name} {old.version}, not older than the bundle's {new.version}; "
                             "nothing installed. Raise `version` in the recipe and run the pipeline again")
    models_dir.mkdir(parents=True, exist_ok=True)
    staged, aside = models_dir / f".{new.name}.partial", models_dir / f".{new.name}.old"
    for d in (staged, aside):
        shutil.rmtree(d, ignore_errors=True)
    try:
        shutil.copytree(bundle, staged)
        load_manifest(staged, verify=True)  # the copy, not only the source, must match the manifest
        if target.exists():
            target.rename(aside)
        try:
            staged.rename(target)
        except OSError:
            if aside.exists():
                aside.rename(target)  # the old model back in place
            raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    shutil.rmtree(aside, ignore_errors=True)
    return target
