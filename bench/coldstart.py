"""Cold start: a fresh interpreter imports the code and serves its first producer invocation.

Each process runs :mod:`bench.child` (``python -I -B``) from a folder holding
only the function's code: the unzipped deployment package for fifo-gate
(``import app``, then ``app.enqueue({}, context)``), as ``make package`` builds
it, with its bytecode (``infra/bytecode.py``: Lambda's read-only ``/var/task``
cannot cache any); ``seed_pattern.py`` alone for the seed (``import
seed_pattern``, then ``seed_tick(queue)``), as the article's packaging ships it,
source only. Seed and fifo-gate processes alternate (ABAB, then
BABA...), the queue is emptied before each, so both make an enqueue tick.

Reported per variant, medians in seconds: ``import_s``, ``invoke_s`` (first
invocation: client creation, settings, the calls), ``total_s`` (the two, the
figure the target is on: interpreter start-up is the same for both), and
``process_s`` (spawn to exit, as the parent sees it).

Two diagnostic variants, ``seed_pyc`` and ``fifo_gate_pyc``, run the same code
with bytecode compiled beforehand (``compileall``), for a like-for-like
comparison; the target is on what each design ships.
"""
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from bench import harness
from bench.child import RESULT_PREFIX

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
MODULES = {"seed": "seed_pattern", "fifo_gate": "app", "seed_pyc": "seed_pattern", "fifo_gate_pyc": "app"}


def run_child(mode, env, timeout=120, **options):
    """Run ``bench/child.py MODE`` in a fresh interpreter; return ``(result dict, wall seconds)``.

    Raises:
        RuntimeError: the child failed or printed no result (its output is in the message).
    """
    argv = [sys.executable, "-I", "-B", CHILD, mode]
    for key, value in options.items():
        argv += ["--" + key.replace("_", "-"), str(value)]
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - started
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError("bench child %s exited %d: %s" % (mode, proc.returncode, (proc.stdout + proc.stderr)[-2000:]))
    return json.loads(lines[-1][len(RESULT_PREFIX):]), wall


def measure(moto, processes, dirs, warmup=1):
    """Time ``processes`` cold starts of each variant, alternating; check the import makes no call.

    Args:
        moto (bench.harness.Moto): server and queue.
        processes (int): measured processes per variant.
        dirs (dict): ``{"seed": folder, "fifo_gate": folder}`` holding each variant's code
            (a precompiled copy of each is made beside it).
        warmup (int): unrecorded processes per variant first (they warm the disk cache).
    Returns:
        dict: the ``cold_start`` section of the results.
    """
    env = moto.child_env()
    dirs = dict(dirs)
    for variant in ("seed", "fifo_gate"):
        dirs[variant + "_pyc"] = precompiled(dirs[variant], dirs[variant] + "_pyc")
    variants = tuple(MODULES)
    runs = {variant: [] for variant in variants}
    for index in range(warmup + processes):
        shift = index % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            moto.drain()
            result, wall = run_child("coldstart", env, dir=dirs[variant], module=MODULES[variant],
                                     queue_name=harness.QUEUE_NAME)
            if result["decision"] != "enqueued":
                raise RuntimeError("cold start %s decided %r on an empty queue" % (variant, result["decision"]))
            result["process_s"] = wall
            if index >= warmup:
                runs[variant].append(result)
    moto.drain()
    section = {"processes": processes, "warmup_processes": warmup, "unit": "seconds"}
    for variant, results in runs.items():
        section[variant] = {
            key: statistics.median(result[key] for result in results)
            for key in ("import_s", "invoke_s", "total_s", "process_s")
        }
        section[variant]["max_rss_mb"] = statistics.median(result["max_rss_kb"] for result in results) / 1024.0
    section["ratio"] = section["seed"]["total_s"] / section["fifo_gate"]["total_s"]
    section["ratio_with_bytecode"] = section["seed_pyc"]["total_s"] / section["fifo_gate_pyc"]["total_s"]
    section["import_network"] = {}
    for variant in ("seed", "fifo_gate"):
        moto.drain()
        result, _ = run_child("importcheck", env, dir=dirs[variant], module=MODULES[variant],
                              queue_name=harness.QUEUE_NAME)
        section["import_network"][variant] = {
            "api_calls_at_import": len(result["import"]["api_calls"]),
            "socket_connects_at_import": len(result["import"]["socket_connects"]),
            "api_calls_first_invocation": result["first_invocation"]["api_calls"],
            "socket_connects_first_invocation": result["first_invocation"]["socket_connects"],
        }
    moto.drain()
    return section


def precompiled(source, dest):
    """Copy ``source`` to ``dest`` and compile every module there to bytecode; returns ``dest``."""
    shutil.copytree(source, dest)
    if not compileall.compile_dir(dest, quiet=1):
        raise RuntimeError("compileall failed in %s" % dest)
    return dest
