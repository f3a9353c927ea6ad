"""The deployment package: ``chalice package --stage dev`` and what is in its ``deployment.zip``.

The package is also where the cold-start and memory measurements import the
app from (:func:`unpack`): exactly the files Lambda would load, with no
bytecode, and Chalice's small vendored runtime instead of the full CLI package.
Sizes are bytes; times are seconds.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import time
import zipfile

from bench import harness
from infra import bytecode

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENDORED_SDK = ("boto3/", "botocore/", "s3transfer/")


def chalice_executable():
    """The venv's ``chalice`` (the one beside this interpreter, else ``.venv/bin/chalice``)."""
    beside = pathlib.Path(sys.executable).parent / "chalice"
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "chalice")


def measure(out_dir):
    """Package as ``make package`` does (``chalice package --stage dev OUT_DIR``, then the
    compiled bytecode of ``infra.bytecode``) from the repository root, and inspect the zip.

    Needs no network: ``requirements.txt`` is empty, so nothing is downloaded.

    Args:
        out_dir (str): an empty folder for ``deployment.zip`` and ``sam.json``.
    Returns:
        dict: ``zip_bytes``, ``uncompressed_bytes``, ``files``, ``top_level`` (sorted entries),
        ``vendored_sdk`` (boto3/botocore/s3transfer files found: must be empty), ``seconds``,
        ``zip_path``.
    Raises:
        RuntimeError: ``chalice package`` failed (its output is in the message).
    """
    env = dict(os.environ)
    env.update({"AWS_DEFAULT_REGION": harness.REGION, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing"})
    started = time.perf_counter()
    proc = subprocess.run([chalice_executable(), "package", "--stage", "dev", out_dir],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=300)
    zip_path = os.path.join(out_dir, "deployment.zip")
    if proc.returncode != 0 or not os.path.exists(zip_path):
        raise RuntimeError("chalice package failed (exit %d): %s" % (proc.returncode, (proc.stdout + proc.stderr)[-2000:]))
    bytecode.add_bytecode(out_dir)  # what `make package` ships: see infra/bytecode.py
    seconds = time.perf_counter() - started
    with zipfile.ZipFile(zip_path) as archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
    names = [info.filename for info in entries]
    return {
        "zip_bytes": os.path.getsize(zip_path),
        "uncompressed_bytes": sum(info.file_size for info in entries),
        "files": len(names),
        "top_level": sorted({name.split("/")[0] + ("/" if "/" in name else "") for name in names}),
        "vendored_sdk": [name for name in names if name.startswith(VENDORED_SDK)],
        "seconds": seconds,
        "zip_path": zip_path,
    }


def unpack(zip_path, dest):
    """Unzip the deployment package into ``dest`` (what Lambda puts in ``/var/task``); returns ``dest``."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(dest)
    return dest


def copy_sources(dest):
    """Fallback when no package could be built: ``app.py`` and ``chalicelib/`` without bytecode."""
    os.makedirs(dest, exist_ok=True)
    shutil.copy2(ROOT / "app.py", dest)
    shutil.copytree(ROOT / "chalicelib", os.path.join(dest, "chalicelib"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def seed_sources(dest):
    """A folder holding only ``seed_pattern.py`` (the seed's one-file function); returns ``dest``."""
    os.makedirs(dest, exist_ok=True)
    shutil.copy2(ROOT / "bench" / "seed_pattern.py", dest)
    return dest
