"""``python -m bench [--quick] [--out FILE]``: the seed's producer pattern vs fifo-gate, side by side.

Parts, in this order (the timing-sensitive ones first, the busy ones last):

1. AWS API calls per tick and 2. tick latency (:mod:`bench.ticks`): seed and
   fifo-gate interleaved against one queue on an in-process moto server;
5. the deployment package (:mod:`bench.package`), whose unzipped contents
   the next two parts import;
3. cold start (:mod:`bench.coldstart`) and 4. peak memory of a worker run
   (:mod:`bench.memory`), each in fresh processes;
6. the overlap policies on a simulated day (:mod:`bench.policies`), three
   ``localrun`` processes at once.

Prints a table and writes the results as JSON (``--out``; ``bench/results.json``
by default, ``build/bench-quick.json`` with ``--quick``): date, machine, every
figure (seconds, bytes, MB as the keys say), every target and whether it was
met, and how long each part took. Exit status 1 when a part could not run
(its error is in the results); a missed target is reported, not an error.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import sys
import tempfile
import time
import traceback

from bench import report

ROOT = pathlib.Path(__file__).resolve().parent.parent
FULL = {"ticks": 300, "processes": 15, "warmup_processes": 1, "memory_processes": 3, "policy_minutes": 1440}
QUICK = {"ticks": 20, "processes": 3, "warmup_processes": 0, "memory_processes": 1, "policy_minutes": 30}


def parser():
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="a small run of the same code: %(ticks)d ticks per kind, %(processes)d cold-start processes, "
                        "%(policy_minutes)d simulated minutes per policy" % QUICK)
    p.add_argument("--out", help="where to write the JSON results (default bench/results.json, "
                                 "or build/bench-quick.json with --quick)")
    p.add_argument("--ticks", type=int, help="measured ticks per variant and kind (default %d)" % FULL["ticks"])
    p.add_argument("--processes", type=int, help="cold-start processes per variant (default %d)" % FULL["processes"])
    p.add_argument("--policy-minutes", type=int,
                   help="simulated minutes per policy (default %d)" % FULL["policy_minutes"])
    p.add_argument("--policy-speed", type=float,
                   help="simulated seconds per real second for all three policy runs (default: 360, and 120 for "
                        "buffer_all's full day: its growing backlog slows moto, which a higher speed magnifies)")
    p.add_argument("--sequential-policies", action="store_true",
                   help="run the three policies one after another instead of at once")
    return p


def machine():
    """Where the numbers come from."""
    import boto3
    import botocore
    import chalice
    import moto

    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "moto": moto.__version__,
        "chalice": chalice.__version__,
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    try:
        with open("/proc/cpuinfo") as handle:
            models = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        if models:
            info["cpu_model"] = models[0]
    except OSError:
        pass
    return info


def _part(results, runtime, name, function, *args):
    """Run one part; its error (not a crash) goes into the results. Returns the part's value or None."""
    started = time.perf_counter()
    try:
        value = function(*args)
    except Exception as exc:  # the other parts still run; the exit status says something failed
        traceback.print_exc()
        value = None
        results[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    runtime[name] = time.perf_counter() - started
    return value


def main(argv=None):
    options = parser().parse_args(argv)
    settings = dict(QUICK if options.quick else FULL)
    for key in ("ticks", "processes", "policy_minutes"):
        if getattr(options, key) is not None:
            settings[key] = getattr(options, key)
    out = options.out or str(ROOT / ("build/bench-quick.json" if options.quick else "bench/results.json"))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    started = time.perf_counter()
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mode": "quick" if options.quick else "full",
        "machine": machine(),
        "settings": settings,
    }
    runtime = {}
    from bench import harness

    counter = harness.CallCounter().install()  # before any client exists
    moto = harness.Moto()
    os.environ.update(moto.app_env())
    for name in ("QUEUE_NAME", "MESSAGE_GROUP_ID", "HEARTBEAT_SECONDS", "LONG_API_URL"):
        os.environ.pop(name, None)
    try:
        from bench import coldstart, memory, package, ticks

        measured = _part(results, runtime, "ticks", ticks.measure, moto, counter, settings["ticks"])
        if measured:
            results["api_calls"], results["latency"] = measured
        else:
            results["api_calls"] = results["latency"] = results.pop("ticks")
        with tempfile.TemporaryDirectory(prefix="fifo-gate-bench-") as tmp:
            built = _part(results, runtime, "package", package.measure, os.path.join(tmp, "out"))
            if built:
                results["package"] = {k: v for k, v in built.items() if k != "zip_path"}
                app_dir = package.unpack(built["zip_path"], os.path.join(tmp, "fifo_gate"))
                source = "unzipped deployment.zip"
            else:
                app_dir = package.copy_sources(os.path.join(tmp, "fifo_gate"))
                source = "app.py and chalicelib/ copied (no package)"
            dirs = {"fifo_gate": app_dir, "seed": package.seed_sources(os.path.join(tmp, "seed"))}
            cold = _part(results, runtime, "cold_start", coldstart.measure, moto, settings["processes"], dirs,
                         settings["warmup_processes"])
            if cold:
                cold["fifo_gate_code"] = source
                results["cold_start"] = cold
            import app

            mem = _part(results, runtime, "memory", memory.measure, moto, app, settings["memory_processes"], app_dir)
            if mem:
                results["memory"] = mem
    finally:
        moto.stop()
    from bench import policies

    if options.policy_speed:
        speeds = dict.fromkeys(policies.POLICIES, options.policy_speed)
    elif options.quick:  # an hour's backlog is small enough for 360x
        speeds = dict.fromkeys(policies.POLICIES, policies.SPEED)
    else:
        speeds = dict(policies.FULL_DAY_SPEEDS)
    day = _part(results, runtime, "policies", policies.measure, settings["policy_minutes"], speeds,
                not options.sequential_policies)
    if day:
        results["policies"] = day
    runtime["total"] = time.perf_counter() - started
    results["runtime_s"] = runtime
    results["targets"] = report.targets(results)

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as handle:
        json.dump(results, handle, indent=2, sort_keys=False)
        handle.write("\n")
    print(report.render(results))
    print("\nresults written to %s" % os.path.relpath(out, os.getcwd()))
    failed = [name for name, section in results.items() if isinstance(section, dict) and "error" in section]
    return 1 if failed else 0
