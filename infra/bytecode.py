"""Add compiled bytecode to ``deployment.zip``, so a cold start does not compile the code.

Lambda unpacks the package into a read-only ``/var/task``: Python cannot write
``__pycache__`` there, so without bytecode in the zip every cold start compiles
``app.py``, ``chalicelib/`` and Chalice's runtime (``chalice/app.py`` alone is
90 KB of source) before the first invocation. ``chalice package`` leaves
``.pyc`` files out; this step adds them.

The ``.pyc`` files are *unchecked hash-based* (PEP 552): Python uses them
without comparing them with the source's modification time, which a zip does
not always keep. They are only valid for the Python version that made them,
so the step refuses to run when that is not the template's Lambda runtime.

Command line (``make package`` runs it)::

    python -m infra.bytecode build/dev/package
"""
import importlib.util
import json
import pathlib
import py_compile
import sys
import tempfile
import zipfile


class BytecodeError(Exception):
    """The package cannot be given bytecode (runtime mismatch, missing files)."""


def lambda_runtime(template):
    """The ``Runtime`` of the functions in a packaged template (str, e.g. ``python3.11``).

    Raises:
        BytecodeError: no function, or functions on different runtimes.
    """
    runtimes = {r["Properties"]["Runtime"] for r in template["Resources"].values()
                if r["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")}
    if len(runtimes) != 1:
        raise BytecodeError("expected one Lambda runtime in the template, found %s" % sorted(runtimes))
    return runtimes.pop()


def add_bytecode(package_dir):
    """Compile every ``.py`` in ``package_dir/deployment.zip`` into the zip.

    Args:
        package_dir (str | Path): output of ``chalice package`` (``sam.json``, ``deployment.zip``).

    Returns:
        list[str]: the ``.pyc`` paths added, inside the zip.

    Raises:
        BytecodeError: this Python is not the template's Lambda runtime.
    """
    package_dir = pathlib.Path(package_dir)
    runtime = lambda_runtime(json.loads((package_dir / "sam.json").read_text()))
    here = "python%d.%d" % sys.version_info[:2]
    if runtime != here:
        raise BytecodeError("the package targets %s but this is %s: its bytecode would not load" % (runtime, here))
    archive = package_dir / "deployment.zip"
    with zipfile.ZipFile(archive) as source:
        sources = {name: source.read(name) for name in source.namelist() if name.endswith(".py")}
        present = set(source.namelist())
    added = []
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as target:
        for name, text in sorted(sources.items()):
            cached = importlib.util.cache_from_source(name)
            if cached in present:
                continue
            path = pathlib.Path(scratch, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text)
            compiled = py_compile.compile(str(path), cfile=str(path) + "c", dfile=name, doraise=True,
                                          invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            target.write(compiled, cached)
            added.append(cached)
    return added


def main(argv):
    """Entry point; returns the exit status."""
    if len(argv) != 1:
        print("usage: python -m infra.bytecode PACKAGE_DIR", file=sys.stderr)
        return 2
    try:
        added = add_bytecode(argv[0])
    except BytecodeError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    print("added bytecode for %d modules to %s/deployment.zip" % (len(added), argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
