"""The job: one long HTTP call to a configured URL, cut at a total deadline.

Standard library only (the Lambda package has no dependencies). To run
something else, give the worker another callable ``(message, timeout_seconds)
-> JobResult`` in place of ``HttpJob``.
"""
import contextlib
import http.client
import json
import math
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass

from chalicelib.errors import JobError, JobTimeout

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CHUNK = 64 * 1024
_SNIPPET_CHARS = 200


@dataclass(frozen=True)
class JobResult:
    """A successful call: HTTP ``status`` (int, 2xx), ``duration_seconds`` (float, wall time
    of the whole call, seconds), ``response_bytes`` (int, size of the body read; the body
    itself is discarded)."""

    status: int
    duration_seconds: float
    response_bytes: int


def call_long_api(url, *, method="POST", payload=None, timeout_seconds, headers=None):
    """Make one HTTP request to ``url`` and read the whole answer within a total deadline.

    The deadline covers connect, TLS, sending, waiting for the headers and
    reading the whole body: a server that never answers, or one that trickles
    bytes so that no single read times out, is cut at the deadline (a watchdog
    shuts the socket down). Only the DNS lookup is bounded by the resolver
    instead. The call is **never retried** (a retried long call is how
    duplicate runs happen), and redirects are not followed.

    Args:
        url (str): ``http://`` or ``https://`` URL; https uses the default SSL context.
        method (str): HTTP method, default ``"POST"``.
        payload (dict | None): sent as the JSON body (``Content-Type: application/json``)
            for POST, PUT and PATCH; ignored for other methods; ``None`` sends no body.
        timeout_seconds (float): total deadline in seconds, > 0.
        headers (dict[str, str] | None): extra request headers, e.g. ``{"X-Run-Id": run_id}``.

    Returns:
        JobResult: status (2xx), duration in seconds, body size in bytes.

    Raises:
        ValueError: the URL is not http/https with a host, or ``timeout_seconds`` is not > 0.
        JobTimeout: the deadline passed (``status`` None); the message names it and the URL.
        JobError: a non-2xx answer (``status`` set, the message quotes the start of the
            body), or no complete answer (``status`` None: refused, DNS, reset, TLS).
            Both carry ``duration_seconds``.

    Example:
        >>> call_long_api("https://api.example.com/report", payload={"day": "2024-05-01"},
        ...               timeout_seconds=600, headers={"X-Run-Id": "3f2a9c"})
        JobResult(status=200, duration_seconds=83.4, response_bytes=5120)
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)  # .port: ValueError if bad
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError
    except (TypeError, AttributeError, ValueError):
        raise ValueError(f"job URL must be an http:// or https:// URL with a host, got {url!r}") from None
    if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)) \
            or not 0 < timeout_seconds < math.inf:
        raise ValueError(f"timeout_seconds must be a number of seconds > 0, got {timeout_seconds!r}")
    method = method.upper()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body, all_headers = None, {}
    if method in _BODY_METHODS and payload is not None:
        body = json.dumps(payload).encode("utf-8")
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})

    start = time.monotonic()
    deadline = start + timeout_seconds

    def remaining():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    context = ssl.create_default_context() if parts.scheme == "https" else None
    conn = (http.client.HTTPSConnection(parts.hostname, port, context=context) if context
            else http.client.HTTPConnection(parts.hostname, port))
    lock, state = threading.Lock(), {"done": False, "fired": False, "sock": None}

    def cut():  # the watchdog: a blocked read or handshake returns once the socket is shut down
        with lock, contextlib.suppress(OSError):  # OSError: not connected yet, or already closed
            if not state["done"]:
                state["fired"] = True
                if state["sock"] is not None:
                    state["sock"].shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout_seconds, cut)
    watchdog.daemon = True
    watchdog.start()
    response, status, size, snippet, failure = None, None, 0, b"", None
    try:
        # Connect ourselves: http.client would give *each* address of the host the whole timeout.
        sock = state["sock"] = _connect(parts.hostname, port, remaining)
        if context:
            sock = state["sock"] = context.wrap_socket(sock, server_hostname=parts.hostname,
                                                       do_handshake_on_connect=False)
            sock.settimeout(remaining())
            sock.do_handshake()
        conn.sock = sock  # http.client uses it as is; it may drop it (Connection: close), we keep it
        sock.settimeout(remaining())
        conn.request(method, target, body=body, headers=all_headers)
        sock.settimeout(remaining())
        response = conn.getresponse()
        status = response.status
        limit = None if 200 <= status < 300 else _SNIPPET_CHARS * 4  # errors: keep the start only
        while limit is None or size < limit:
            sock.settimeout(remaining())
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if limit:
                snippet += chunk
        if limit is None and response.length:  # EOF before Content-Length was reached
            raise ConnectionResetError(f"closed after {size} body bytes, {response.length} missing")
    except (OSError, http.client.HTTPException) as exc:
        failure = exc
    finally:
        watchdog.cancel()
        with lock:
            state["done"] = True
        watchdog.join()
        for closable in (response, conn, state["sock"]):
            if closable is not None:
                closable.close()
    duration = time.monotonic() - start

    if state["fired"] or isinstance(failure, (TimeoutError, socket.timeout)):  # distinct before 3.10
        # status stays None: a cut answer is no answer (its headers may be cut short too)
        raise JobTimeout(f"{method} {url} did not finish within its {timeout_seconds:g} s deadline "
                         f"(cut after {duration:.2f} s)", duration_seconds=duration)
    if status is not None and not 200 <= status < 300:
        text = snippet.decode("utf-8", "replace")[:_SNIPPET_CHARS]
        raise JobError(f"{method} {url} answered HTTP {status} after {duration:.2f} s: {text!r}",
                       status=status, duration_seconds=duration)
    if failure is not None:
        raise JobError(f"{method} {url} failed after {duration:.2f} s: "  # e.g. ConnectionRefusedError
                       f"{type(failure).__name__}: {failure}",
                       duration_seconds=duration) from failure
    return JobResult(status=status, duration_seconds=duration, response_bytes=size)


def _connect(host, port, remaining):
    """Try each address of ``host`` in turn, each attempt bounded by the time left."""
    error = OSError(f"no address found for {host}")
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(remaining())
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


class HttpJob:
    """The worker's default job: ``call_long_api(url, method=method)`` once per message.

    ``url`` (str) and ``method`` (str) come from ``LONG_API_URL`` and ``LONG_API_METHOD``.
    Example: ``HttpJob("https://api.example.com/report")(message, 600.0)`` -> JobResult.
    """

    def __init__(self, url, method="POST"):
        self.url, self.method = url, method

    def __call__(self, message, timeout_seconds):
        """Run ``message`` (a RunMessage): its payload is the body, its run_id the ``X-Run-Id`` header."""
        return call_long_api(self.url, method=self.method, payload=message.payload,
                             timeout_seconds=timeout_seconds, headers={"X-Run-Id": message.run_id})
