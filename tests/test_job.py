"""chalicelib.job against a real HTTP server on 127.0.0.1 (offline, loopback only)."""
import datetime
import http.server
import ipaddress
import json
import socket
import ssl
import threading
import time

import pytest

from chalicelib import job
from chalicelib.errors import JobError, JobTimeout
from chalicelib.job import HttpJob, JobResult, call_long_api
from chalicelib.messages import RunMessage

MAX_HANDLER_SECONDS = 5  # every slow handler gives up after this, so teardown never hangs


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output quiet
        pass

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append({"method": self.command, "path": self.path,
                                     "headers": dict(self.headers), "body": body})
        return body

    def _answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.sent_bytes = len(body)

    def _dispatch(self):
        body = self._record()
        stop = self.server.stop
        try:
            if self.path.startswith("/echo"):
                self._answer(200, json.dumps({"method": self.command,
                                              "body": body.decode() or None}).encode())
            elif self.path == "/close":  # HTTP/1.0 style: no Content-Length, the body ends at close
                self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"z" * 70000)
                self.close_connection = True
            elif self.path == "/fail":
                self._answer(500, b"upstream exploded: " + b"x" * 1000, "text/plain")
            elif self.path == "/sleep":
                stop.wait(MAX_HANDLER_SECONDS)
                self._answer(200, b"{}")
            elif self.path.startswith("/trickle"):  # one byte every 0.1 s: no single read times out
                if self.path == "/trickle-headers":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                for _ in range(int(MAX_HANDLER_SECONDS / 0.1)):
                    if stop.wait(0.1):
                        break
                    self.wfile.write(b".")
                    self.wfile.flush()
            else:
                self._answer(404, b"no such path", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client cut the call: expected in the timeout tests

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = False  # so server_close() joins the handler threads
    srv.requests, srv.sent_bytes, srv.stop = [], None, threading.Event()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.stop.set()
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=MAX_HANDLER_SECONDS)
    assert not thread.is_alive()


@pytest.fixture(autouse=True)
def no_leaked_watchdogs():
    yield
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


def test_post_sends_payload_as_json_with_headers(server):
    result = call_long_api(server.url + "/echo?x=1", payload={"day": "2024-05-01", "n": 3},
                           timeout_seconds=5, headers={"X-Run-Id": "run-42"})
    assert isinstance(result, JobResult)
    assert result.status == 200
    assert result.response_bytes == server.sent_bytes > 0
    assert 0 <= result.duration_seconds < 5
    [request] = server.requests
    assert request["method"] == "POST"
    assert request["path"] == "/echo?x=1"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Run-Id"] == "run-42"
    assert json.loads(request["body"]) == {"day": "2024-05-01", "n": 3}


def test_http_job_sends_the_message_payload_and_run_id(server):
    message = RunMessage.new("api", payload={"k": "v"})
    result = HttpJob(server.url + "/echo", "PUT")(message, 5.0)
    assert result.status == 200
    [request] = server.requests
    assert request["method"] == "PUT"
    assert request["headers"]["X-Run-Id"] == message.run_id
    assert json.loads(request["body"]) == {"k": "v"}


def test_body_without_content_length_is_read_until_close(server):
    result = call_long_api(server.url + "/close", method="GET", timeout_seconds=5)
    assert (result.status, result.response_bytes) == (200, 70000)


def test_get_sends_no_body(server):
    result = call_long_api(server.url + "/echo", method="GET", payload={"ignored": True},
                           timeout_seconds=5)
    assert result.status == 200
    [request] = server.requests
    assert request["method"] == "GET"
    assert request["body"] == b""
    assert "Content-Type" not in request["headers"]
    assert int(request["headers"].get("Content-Length") or 0) == 0


def test_non_2xx_raises_job_error_with_status_and_body_start_without_retrying(server):
    with pytest.raises(JobError) as caught:
        call_long_api(server.url + "/fail", payload={}, timeout_seconds=5)
    error = caught.value
    assert not isinstance(error, JobTimeout)
    assert error.status == 500
    assert "500" in str(error) and "upstream exploded" in str(error)
    assert "x" * 200 not in str(error)  # only the start of the body
    assert error.duration_seconds > 0
    assert len(server.requests) == 1


def test_server_that_never_answers_is_cut_at_the_deadline(server):
    url = server.url + "/sleep"
    started = time.monotonic()
    with pytest.raises(JobTimeout) as caught:
        call_long_api(url, payload={}, timeout_seconds=0.5)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.0
    assert "0.5 s" in str(caught.value) and url in str(caught.value)
    assert caught.value.status is None
    assert 0.5 <= caught.value.duration_seconds < 1.0
    assert len(server.requests) == 1


@pytest.mark.parametrize("path", ["/trickle", "/trickle-headers"])
def test_trickling_server_is_cut_at_the_total_deadline(server, path):
    started = time.monotonic()
    with pytest.raises(JobTimeout) as caught:
        call_long_api(server.url + path, method="GET", timeout_seconds=1)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.5
    assert "1 s deadline" in str(caught.value)
    assert caught.value.status is None


def test_connection_refused_raises_job_error_without_status():
    with socket.socket() as probe:  # a port nothing listens on once the socket is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(JobError) as caught:
        call_long_api(f"http://127.0.0.1:{port}/run", timeout_seconds=5)
    assert not isinstance(caught.value, JobTimeout)
    assert caught.value.status is None
    assert "refused" in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "127.0.0.1:80/run",
                                 "http:///no-host", "http://h:99999/", None])
def test_rejects_urls_that_are_not_http(url):
    with pytest.raises(ValueError, match="URL") as caught:
        call_long_api(url, timeout_seconds=1)
    assert repr(url) in str(caught.value)


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), True, "5"])
def test_rejects_a_deadline_that_is_not_positive(timeout):
    with pytest.raises(ValueError, match="timeout_seconds"):
        call_long_api("http://127.0.0.1:9/", timeout_seconds=timeout)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A throw-away certificate for 127.0.0.1: (cert_path, key_path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "fifo-gate test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return str(folder / "cert.pem"), str(folder / "key.pem")


@pytest.fixture
def tls_server(server, self_signed):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.url = server.url.replace("http://", "https://")
    return server


def test_https_verifies_the_certificate_with_the_default_context(tls_server):
    with pytest.raises(JobError) as caught:
        call_long_api(tls_server.url + "/echo", payload={}, timeout_seconds=5)
    assert caught.value.status is None
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


def test_https_call_succeeds_when_the_certificate_is_trusted(tls_server, self_signed, monkeypatch):
    default = ssl.create_default_context
    monkeypatch.setattr(job.ssl, "create_default_context", lambda: default(cafile=self_signed[0]))
    result = call_long_api(tls_server.url + "/echo", payload={"a": 1}, timeout_seconds=5)
    assert result.status == 200
    assert json.loads(tls_server.requests[0]["body"]) == {"a": 1}


def test_tls_handshake_that_never_completes_is_cut_at_the_deadline():
    with socket.socket() as silent:  # accepts TCP (backlog) but never speaks TLS
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        started = time.monotonic()
        with pytest.raises(JobTimeout):
            call_long_api(f"https://127.0.0.1:{silent.getsockname()[1]}/", timeout_seconds=0.5)
        assert time.monotonic() - started < 1.0
