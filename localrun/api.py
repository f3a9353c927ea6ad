"""A slow HTTP endpoint standing in for the external long API, and a concurrency meter.

Each call sleeps a latency drawn uniformly from the configured range (simulated
seconds, divided by the speed to get real seconds), then answers 500 with
probability ``fail_rate``, else 200 with a small JSON body. The meter records
how many calls were in progress at once and when at least one was.
"""
import http.server
import json
import random
import sys
import threading
import time


class ConcurrencyMeter:
    """Counts work in progress; thread-safe. Times are ``time.monotonic()`` readings (real seconds)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.current = 0
        self.max = 0
        self.busy = []  # closed (start, end) intervals with >= 1 call in progress
        self._busy_since = None

    def enter(self):
        """Mark one call as started."""
        with self._lock:
            self.current += 1
            self.max = max(self.max, self.current)
            if self.current == 1:
                self._busy_since = time.monotonic()

    def leave(self):
        """Mark one call as finished."""
        with self._lock:
            self.current -= 1
            if self.current == 0:
                self.busy.append((self._busy_since, time.monotonic()))
                self._busy_since = None

    def busy_intervals(self):
        """Disjoint busy intervals so far (real monotonic seconds); an open one ends now."""
        with self._lock:
            intervals = list(self.busy)
            if self._busy_since is not None:
                intervals.append((self._busy_since, time.monotonic()))
            return intervals


class _QuietServer(http.server.ThreadingHTTPServer):
    """Daemon handler threads; a client that hung up (the worker's deadline cut the call) is not an error."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class StandInApi:
    """The stand-in external API on 127.0.0.1 (free port), served from daemon threads.

    Args:
        job_seconds (tuple[float, float]): latency range, simulated seconds.
        fail_rate (float): probability (0..1) of answering HTTP 500.
        speed (float): simulated seconds per real second.
        seed (int | None): seed for latencies and failures.
    """

    def __init__(self, job_seconds, fail_rate, speed, seed=None):
        self.job_seconds = job_seconds
        self.fail_rate = fail_rate
        self.speed = speed
        self.meter = ConcurrencyMeter()
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="stand-in-api", daemon=True)

    @property
    def url(self):
        """The endpoint's URL."""
        host, port = self._server.server_address[:2]
        return "http://%s:%d/job" % (host, port)

    def start(self):
        """Start serving."""
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close the socket (calls still sleeping are daemon threads and are abandoned)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def draw(self):
        """One call's (latency in simulated seconds, fails?) from the seeded generator."""
        with self._random_lock:
            latency = self._random.uniform(*self.job_seconds)
            fails = self._random.random() < self.fail_rate
        return latency, fails

    def _handler_class(self):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                latency, fails = api.draw()
                api.meter.enter()
                try:
                    time.sleep(latency / api.speed)
                finally:
                    api.meter.leave()
                status = 500 if fails else 200
                body = json.dumps(
                    {
                        "ok": not fails,
                        "run_id": self.headers.get("X-Run-Id"),
                        "latency_s": round(latency, 1),
                    }
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args):  # keep stderr for the handlers' logs
                pass

        return Handler
