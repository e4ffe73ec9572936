"""The manifest beside the index: which dump files (size, mtime, sha1) and
which items it holds, so a reindex only reads what changed.

It is written as ``manifest-<generation>.json`` *before* the Whoosh commit
that creates that generation, so the manifest a reader picks is always the
one matching the committed index: a reindex killed between the two leaves a
manifest for a generation that never came, which is ignored and overwritten
next time.
"""

import json
import os
import re

from .schema import SCHEMA_VERSION

_MANIFEST = re.compile(r"^manifest-(\d+)\.json$")


def manifest_path(index_dir, generation):
    return os.path.join(index_dir, f"manifest-{generation}.json")


def read_manifest(index_dir, generation):
    """The manifest of a committed generation, or None (no manifest, or one of
    another schema version: the caller rebuilds)."""
    manifest = _load(index_dir, generation)
    if manifest is None or manifest.get("schema") != SCHEMA_VERSION:
        return None
    return manifest


def other_schema(index_dir, generation):
    """The schema version of a generation's manifest when it is not this
    code's (the index was written by another version), else None."""
    manifest = _load(index_dir, generation)
    found = None if manifest is None else manifest.get("schema")
    return found if manifest is not None and found != SCHEMA_VERSION else None


def _load(index_dir, generation):
    try:
        with open(manifest_path(index_dir, generation), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def write_manifest(index_dir, generation, manifest):
    """Atomically write the manifest of a generation and drop older ones."""
    manifest = dict(manifest, schema=SCHEMA_VERSION, generation=generation)
    path = manifest_path(index_dir, generation)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(manifest, ensure_ascii=False))  # dumps: the C encoder (dump is Python)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def drop_old_manifests(index_dir, keep):
    for name in os.listdir(index_dir):
        m = _MANIFEST.match(name)
        stale_tmp = name.startswith("manifest-") and name.endswith(".tmp")
        if (m and int(m.group(1)) != keep) or stale_tmp:
            try:
                os.remove(os.path.join(index_dir, name))
            except OSError:
                pass
