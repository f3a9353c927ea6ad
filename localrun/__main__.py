"""``python -m localrun``: run fifo-gate locally on a scaled clock (no AWS, no Docker).

Durations on the command line are simulated seconds/minutes (the deployed
stage's time); ``--speed`` says how many simulated seconds pass per real second.
Prints a live timeline (unless ``--json``), handler logs on stderr, and always
a one-line JSON summary as the last stdout line. Exit status 1 when an
invariant broke (see :mod:`localrun.summary`), 2 on a usage error.
"""
import argparse
import os
import sys
import threading
import time
import urllib.parse

from localrun import clock

POLICIES = ("skip", "buffer_one", "buffer_all", "allow_all")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _job_seconds(text):
    """``"40-120"`` or ``"90"`` -> (low, high) simulated seconds."""
    parts = text.split("-")
    try:
        if len(parts) == 1:
            low = high = float(parts[0])
        elif len(parts) == 2:
            low, high = float(parts[0]), float(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError("expected seconds like 40-120 or 90, got %r" % text)
    if not (0 < low <= high < float("inf")):
        raise argparse.ArgumentTypeError("expected finite seconds with 0 < low <= high, got %r" % text)
    return low, high


def parser():
    """The command-line parser."""
    p = argparse.ArgumentParser(
        prog="python -m localrun",
        description="Run fifo-gate locally on a scaled clock: moto's SQS, a slow API stand-in, "
        "Lambda-like pollers and the real handlers (no AWS, no Docker).",
        epilog="Example: python -m localrun --minutes 30 --policy buffer_one --fail-rate 0.2",
    )
    p.add_argument("--minutes", type=int, default=15, help="simulated minutes to tick the schedule (default 15)")
    p.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="simulated seconds per real second (default 60); capped so that the shortest scaled "
        "SQS timer stays >= 1 real second",
    )
    p.add_argument("--policy", choices=POLICIES, default="skip", help="OVERLAP_POLICY (default skip)")
    p.add_argument(
        "--job-seconds",
        type=_job_seconds,
        default=(40.0, 120.0),
        metavar="LOW-HIGH",
        help="latency of the API stand-in, drawn uniformly, simulated seconds (default 40-120; "
        "a single number for a fixed latency)",
    )
    p.add_argument("--fail-rate", type=float, default=0.0,
                   help="share of API calls answered HTTP 500 (0..1, default 0)")
    p.add_argument("--pollers", type=int, default=5,
                   help="concurrent SQS poller threads, like Lambda's (default 5)")
    p.add_argument("--json", action="store_true", help="print only the JSON summary line on stdout (no timeline)")
    p.add_argument("--api-url", metavar="URL", help="call this real endpoint instead of the API stand-in")
    p.add_argument(
        "--retry-backoff",
        type=float,
        default=float(clock.RETRY_BACKOFF_S),
        help="RETRY_BACKOFF_SECONDS, simulated seconds (default %d: one tick)" % clock.RETRY_BACKOFF_S,
    )
    p.add_argument("--seed", type=int, help="random seed for the stand-in's latencies and failures")
    p.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default="WARNING",
        help="level of the handlers' JSON logs on stderr (default WARNING; INFO shows every decision)",
    )
    return p


def parse(argv=None):
    """Parse and validate ``argv``; exits with status 2 and a message naming the option on error."""
    p = parser()
    options = p.parse_args(argv)
    if options.minutes < 1:
        p.error("--minutes must be at least 1, got %d" % options.minutes)
    if not options.speed > 0:
        p.error("--speed must be > 0, got %g" % options.speed)
    if not 0 <= options.fail_rate <= 1:
        p.error("--fail-rate must be between 0 and 1, got %g" % options.fail_rate)
    if options.pollers < 1:
        p.error("--pollers must be at least 1, got %d" % options.pollers)
    if not 1 <= options.retry_backoff <= 43200:
        p.error("--retry-backoff must be from 1 to 43200 seconds (SQS's longest visibility timeout), got %g"
                % options.retry_backoff)
    if options.api_url is not None:
        url = urllib.parse.urlsplit(options.api_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            p.error("--api-url must be an http(s) URL, got %r" % options.api_url)
    return options


def _exit(code):
    """Exit with ``code``; a thread someone left running (e.g. a stuck job) must not hang the exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    deadline = time.monotonic() + 2.0
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    leftovers = [t.name for t in threading.enumerate()
                 if t.is_alive() and not t.daemon and t is not threading.current_thread()]
    if leftovers:
        print("localrun: threads still running at exit, not waiting: %s" % ", ".join(leftovers),
              file=sys.stderr, flush=True)
        os._exit(code)
    sys.exit(code)


def main(argv=None):
    options = parse(argv)
    from localrun import runner  # after parsing: --help stays fast

    try:
        code = runner.run(options)
    except KeyboardInterrupt:
        code = 130
    _exit(code)


if __name__ == "__main__":
    main()
