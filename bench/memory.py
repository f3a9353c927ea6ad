"""Peak memory of a worker invocation, against the memory size the worker is configured with.

A fresh process (:mod:`bench.child`, from the unzipped package) imports ``app``
and runs one ``worker`` invocation on a real message (sent by fifo-gate's
producer, received from moto, wrapped in the event Lambda builds), calling a
loopback HTTP stand-in that answers after ``STAND_IN_DELAY_S`` seconds while the
heartbeat extends the message's visibility every ``HEARTBEAT_S`` seconds. The
stand-in runs in this process, so its memory is not counted.

Peak memory is the child's peak resident set (``VmHWM``, see
:func:`bench.child._max_rss_kb`: ``ru_maxrss`` alone would report this
benchmark's own, larger, peak) in MB (MiB, as Lambda counts). It is the Python
process only; Lambda's runtime client adds a little.
"""
import http.server
import json
import os
import pathlib
import statistics
import tempfile
import threading

from bench.child import LambdaContext
from bench.coldstart import run_child

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHALICE_DEFAULT_MB = 128  # Chalice's lambda_memory_size default
STAND_IN_DELAY_S = 2.5  # the stand-in's answer time, seconds
HEARTBEAT_S = 1  # HEARTBEAT_SECONDS for the run (the app accepts >= 1): two beats during the call


class StandIn:
    """A loopback HTTP server that answers any POST with 200 and a small JSON body after a delay."""

    def __init__(self, delay_s=STAND_IN_DELAY_S):
        self.calls = 0
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stand_in.calls += 1
                threading.Event().wait(delay_s)
                body = json.dumps({"ok": True, "items": list(range(100))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/job" % self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()


def configured_worker_mb(stage="dev"):
    """The worker's ``lambda_memory_size`` in ``.chalice/config.json`` (MB) and where it came from.

    Looks at the stage's ``lambda_functions.worker``, then the stage, then the
    top level, else Chalice's default (128 MB).

    Returns:
        tuple[int, str]
    """
    try:
        config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    except (OSError, ValueError):
        return CHALICE_DEFAULT_MB, "Chalice default (config unreadable)"
    stage_config = config.get("stages", {}).get(stage, {})
    for where, scope in (
        ("stages.%s.lambda_functions.worker" % stage, stage_config.get("lambda_functions", {}).get("worker", {})),
        ("stages.%s" % stage, stage_config),
        ("top level", config),
    ):
        if "lambda_memory_size" in scope:
            return int(scope["lambda_memory_size"]), ".chalice/config.json " + where
    return CHALICE_DEFAULT_MB, "Chalice default"


def measure(moto, app, processes, app_dir):
    """Run ``processes`` worker processes; report the highest peak and a bare interpreter's.

    Args:
        moto (bench.harness.Moto): server and queue.
        app: the imported ``app`` module of this process (its producer sends the message).
        processes (int): how many worker processes (the report keeps the largest peak).
        app_dir (str): folder holding the code to import (the unzipped package).
    Returns:
        dict: the ``memory`` section (MB figures, ``configured_mb``, ``share_of_configured``).
    """
    stand_in = StandIn()
    peaks, raw, seconds = [], [], []
    try:
        env = moto.child_env(LONG_API_URL=stand_in.url, HEARTBEAT_SECONDS=str(HEARTBEAT_S))
        with tempfile.TemporaryDirectory(prefix="fifo-gate-bench-") as tmp:
            for _ in range(processes):
                moto.drain()
                decision = app.enqueue({}, LambdaContext())
                if decision["decision"] != "enqueued":
                    raise RuntimeError("the producer did not enqueue on an empty queue: %r" % decision)
                event = moto.receive_event()
                event_file = os.path.join(tmp, "event.json")
                with open(event_file, "w") as handle:
                    json.dump(event, handle)
                try:
                    result, _ = run_child("worker", env, dir=app_dir, event=event_file)
                finally:
                    # Lambda deletes the message when the handler returns; on a failure the
                    # benchmark deletes it too, so the queue is empty for what follows.
                    moto.sqs.delete_message(QueueUrl=moto.queue_url,
                                            ReceiptHandle=event["Records"][0]["receiptHandle"])
                if not result["ok"]:
                    raise RuntimeError("the worker failed: %s" % result["error"])
                peaks.append(result["max_rss_kb"] / 1024.0)
                raw.append(result["ru_maxrss_kb"] / 1024.0)
                seconds.append(result["total_s"])
        baseline, _ = run_child("baseline", env)
    finally:
        stand_in.close()
        moto.drain()
    configured, source = configured_worker_mb()
    peak = max(peaks)
    return {
        "unit": "MB (MiB)",
        "processes": processes,
        "worker_max_rss_mb": peak,
        "worker_max_rss_mb_each": peaks,
        "worker_ru_maxrss_mb_raw": max(raw),
        "method": "VmHWM of the child (/proc/self/status); ru_maxrss_raw is what getrusage says, which on "
                  "Linux includes the spawning benchmark process's own peak carried across exec",
        "worker_run_s": statistics.median(seconds),
        "stand_in_calls": stand_in.calls,
        "python_alone_max_rss_mb": baseline["max_rss_kb"] / 1024.0,
        "configured_mb": configured,
        "configured_from": source,
        "share_of_configured": peak / configured,
    }
