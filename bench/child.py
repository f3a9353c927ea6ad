"""The fresh-process side of the benchmark: one measurement per interpreter.

Run by :mod:`bench.coldstart` and :mod:`bench.memory` as::

    python -I -B bench/child.py MODE [--dir DIR] [--module MODULE] [--queue-name NAME] [--event FILE]

``-I`` keeps the script's own folder (and the repository) off ``sys.path``, so
``import app`` finds only the code in ``--dir``; ``-B`` writes no ``.pyc``, so
that code is compiled from source on every start, as in Lambda (whose
``/var/task`` is read-only and whose zip holds no bytecode). The AWS endpoint,
credentials and the app's settings come from the environment.

Modes (``--module`` is ``app`` or ``seed_pattern``):

* ``coldstart``: import the module, then serve its first producer invocation
  (``app.enqueue({}, context)`` or ``seed_pattern.seed_tick(queue_name)``).
* ``importcheck``: the same, counting botocore API calls and socket connects
  during the import (must be 0) and during the invocation.
* ``worker``: import ``app`` and run one ``worker`` invocation on the Lambda SQS
  event in ``--event`` (a JSON file).
* ``baseline``: nothing (the interpreter's own peak memory).

The last stdout line is ``BENCH-RESULT {json}``; times are seconds
(``time.perf_counter``); ``max_rss_kb`` is the process's peak resident memory in
KiB (``VmHWM``; see :func:`_max_rss_kb` for why not ``ru_maxrss`` alone).
Only the standard library is imported before the clock starts.
"""
import os
import sys
import time
import uuid

RESULT_PREFIX = "BENCH-RESULT "


class LambdaContext:
    """The fields of Lambda's context object the handlers read.

    Args:
        remaining_seconds (float): the time budget, seconds, counted from construction.
        function_name (str): the function's name.
    """

    def __init__(self, remaining_seconds=30.0, function_name="fifo-gate-bench"):
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.memory_limit_in_mb = "128"
        self._deadline = time.monotonic() + remaining_seconds

    def get_remaining_time_in_millis(self):
        """Milliseconds left (int, never negative)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _options(argv):
    """``--key value`` pairs -> dict (no argparse: it is not imported before the clock starts)."""
    keys, values = argv[0::2], argv[1::2]
    return {key.lstrip("-").replace("-", "_"): value for key, value in zip(keys, values)}


def _invoke(module, name, queue_name):
    """Serve the module's first producer invocation; return its decision (str)."""
    if name == "app":
        return module.enqueue({}, LambdaContext())["decision"]
    return module.seed_tick(queue_name)


def _max_rss_kb():
    """Peak resident memory of this process, KiB.

    ``VmHWM`` from ``/proc/self/status`` where there is one (Linux): the peak of
    this process's own address space. ``ru_maxrss`` is the fallback only: Linux
    carries the spawning process's peak across ``exec`` into it (the kernel
    records the old address space's peak at exec, and a ``vfork``/``fork`` child
    starts from the parent's), so under a large parent it reports the parent.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _ru_maxrss_kb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cold_start(options):
    """Import + first invocation, timed in seconds."""
    started = time.perf_counter()
    module = __import__(options["module"])
    imported = time.perf_counter()
    decision = _invoke(module, options["module"], options.get("queue_name"))
    served = time.perf_counter()
    return {
        "import_s": imported - started,
        "invoke_s": served - imported,
        "total_s": served - started,
        "decision": decision,
        "max_rss_kb": _max_rss_kb(),
        "ru_maxrss_kb": _ru_maxrss_kb(),
    }


def import_check(options):
    """Count API calls and socket connects during the import, then during one invocation."""
    import socket

    import boto3

    connects = []
    calls = []
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(sock, address):
        connects.append(repr(address))
        return original_connect(sock, address)

    def connect_ex(sock, address):
        connects.append(repr(address))
        return original_connect_ex(sock, address)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    # Registered on the default session before any client exists: every client
    # built from it later (the seed's module-level ones, the app's lazy one)
    # carries a copy of this handler.
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call", lambda model, **_: calls.append(model.name))
    module = __import__(options["module"])
    at_import = {"api_calls": list(calls), "socket_connects": list(connects)}
    del calls[:], connects[:]
    decision = _invoke(module, options["module"], options.get("queue_name"))
    return {
        "import": at_import,
        "first_invocation": {"api_calls": list(calls), "socket_connects": len(connects)},
        "decision": decision,
    }


def worker(options):
    """One worker invocation on a real message; peak memory of the process."""
    import json

    with open(options["event"]) as handle:
        event = json.load(handle)
    started = time.perf_counter()
    import app

    error = None
    try:
        app.worker(event, LambdaContext(remaining_seconds=300.0, function_name="fifo-gate-bench-worker"))
    except Exception as exc:  # reported, and the parent fails the measurement
        error = "%s: %s" % (type(exc).__name__, exc)
    return {"ok": error is None, "error": error, "total_s": time.perf_counter() - started,
            "max_rss_kb": _max_rss_kb(), "ru_maxrss_kb": _ru_maxrss_kb()}


def baseline(_options):
    """The interpreter alone."""
    return {"max_rss_kb": _max_rss_kb(), "ru_maxrss_kb": _ru_maxrss_kb()}


MODES = {"coldstart": cold_start, "importcheck": import_check, "worker": worker, "baseline": baseline}


def main(argv):
    mode, options = argv[0], _options(argv[1:])
    if "dir" in options:
        os.chdir(options["dir"])
        sys.path.insert(0, options["dir"])
    result = MODES[mode](options)
    import json

    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
