"""One local run: embedded AWS, API stand-in, scaled schedule, pollers, summary.

The schedule ticks every 60 simulated seconds for ``minutes`` simulated
minutes (first tick at t = 0) and calls the real ``app.tick``; ``pollers``
threads feed the real ``app.worker``. Timeline and summary are in simulated
seconds; the waits between them are real seconds (simulated / speed).
"""
import importlib
import json
import os
import pathlib
import sys
import threading
import time
import uuid

from localrun import api as api_module
from localrun import aws, clock, poller, summary

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DRAIN_MARGIN_REAL_S = 1.0  # on top of the worker's scaled timeout when waiting for runs to end


class Recorder:
    """Counts what happened and prints the live timeline (stdout, unless quiet). Thread-safe."""

    def __init__(self, sim_clock, quiet):
        self.clock = sim_clock
        self.quiet = quiet
        self.lock = threading.Lock()
        self.meter = api_module.ConcurrencyMeter()  # worker invocations in progress
        self.ticks = self.tick_errors = self.skipped = 0
        self.enqueued_ids = set()
        self.runs_started = self.runs_failed = 0
        self.succeeded_ids = set()
        self.success_ends = []  # simulated seconds
        self.runs_succeeded = 0
        self._seen_errors = set()

    def say(self, text, simulated_s=None):
        """Print one timeline line stamped with the simulated time (now, by default)."""
        if self.quiet:
            return
        stamp = clock.hms(self.clock.now() if simulated_s is None else simulated_s)
        with self.lock:
            print("[%s] %s" % (stamp, text), flush=True)

    @staticmethod
    def warn(text):
        """Print one line on stderr."""
        print("localrun: %s" % text, file=sys.stderr, flush=True)

    def tick_done(self, simulated_s, decision):
        with self.lock:
            self.ticks += 1
            if decision.get("decision") == "enqueued" and decision.get("message_id"):
                self.enqueued_ids.add(decision["message_id"])
            elif decision.get("decision") == "skipped":
                self.skipped += 1
        run = " (run %s)" % decision["run_id"][:8] if decision.get("run_id") else ""
        self.say("tick     %-9s %s%s" % (decision.get("decision"), decision.get("reason", ""), run), simulated_s)

    def tick_failed(self, simulated_s, error):
        with self.lock:
            self.ticks += 1
            self.tick_errors += 1
        self.say("tick     error     %s: %s" % (type(error).__name__, error), simulated_s)
        self.warn("tick at %s raised %s: %s" % (clock.hms(simulated_s), type(error).__name__, error))

    def run_started(self, message):
        self.meter.enter()
        with self.lock:
            self.runs_started += 1
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        again = " (receive %d)" % receives if receives > 1 else ""
        self.say("run      %s started%s" % (poller.run_id_of(message)[:8], again))

    def run_finished(self, message, started, error):
        self.meter.leave()
        ended = self.clock.now()
        took = ended - self.clock.to_sim(started)
        run = poller.run_id_of(message)[:8]
        with self.lock:
            if error is None:
                self.runs_succeeded += 1
                self.succeeded_ids.add(message["MessageId"])
                self.success_ends.append(ended)
            else:
                self.runs_failed += 1
        if error is None:
            self.say("run      %s succeeded in %.0f s" % (run, took), ended)
        else:
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            fate = ("receive %d of %d: the dead-letter queue takes it next" if receives >= clock.MAX_RECEIVE_COUNT
                    else "receive %d of %d: retried after its back-off") % (receives, clock.MAX_RECEIVE_COUNT)
            self.say("run      %s failed in %.0f s (%s): %s" % (run, took, fate, _short(error)), ended)
        if took > clock.WORKER_TIMEOUT_S:
            self.warn("run %s took %.0f s, over the worker's %d s timeout: Lambda would have stopped it"
                      % (run, took, clock.WORKER_TIMEOUT_S))

    def poller_error(self, name, error):
        text = "%s: %s" % (type(error).__name__, error)
        with self.lock:
            if text in self._seen_errors:
                return
            self._seen_errors.add(text)
        self.warn("%s: %s (further identical errors are not shown)" % (name, text))


def _short(error):
    """A timeline-sized account of a failed run (the full error, in real seconds, is in the logs)."""
    if getattr(error, "status", None):
        return "the API answered HTTP %d" % error.status
    if type(error).__name__ == "JobTimeout":
        return "cut at its deadline"
    return "%s: %s" % (type(error).__name__, str(error)[:120])


def configure_environment(queues, api_url, policy, scale, log_level):
    """Set the app's environment variables (read on its first invocation)."""
    os.environ.update(
        {
            "QUEUE_URL": queues["queue_url"],
            "DLQ_NAME": clock.DLQ_NAME,
            "OVERLAP_POLICY": policy,
            "SCHEDULE_ENABLED": "true",
            "LONG_API_URL": api_url,
            "LONG_API_METHOD": "POST",
            "LONG_API_TIMEOUT_SECONDS": "%g" % scale.long_api_timeout_real_s,
            "RETRY_BACKOFF_SECONDS": str(scale.retry_backoff_real_s),
            "LOG_LEVEL": log_level,
        }
    )
    # Left to the app's defaults: one group named after the app, heartbeat at a
    # third of the queue's visibility timeout. QUEUE_URL names the queue.
    for name in ("MESSAGE_GROUP_ID", "HEARTBEAT_SECONDS", "QUEUE_NAME"):
        os.environ.pop(name, None)


def import_app(log_level):
    """Import ``app`` from the repository root, with its JSON logs on stderr."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from chalicelib import logs

    logs.configure(stream=sys.stderr, level=log_level)
    return importlib.import_module("app")


def schedule_event(sim_clock, simulated_s):
    """The EventBridge "Scheduled Event" for the tick due at ``simulated_s``."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": sim_clock.iso(simulated_s),
        "region": aws.REGION,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/fifo-gate-local-tick"],
        "detail": {},
    }


def invoke_tick(handler, event, timeout_real_s):
    """Call the tick handler like Lambda: give up after its (scaled) timeout, in real seconds.

    The call runs in a daemon thread so a handler that hangs cannot hang the run.
    Returns the handler's result; raises what it raised, or ``TimeoutError``.
    """
    outcome = {}

    def call():
        try:
            outcome["result"] = handler(event, poller.LambdaContext("fifo-gate-local-tick", timeout_real_s))
        except Exception as error:
            outcome["error"] = error

    thread = threading.Thread(target=call, name="tick", daemon=True)
    thread.start()
    thread.join(timeout_real_s)
    if thread.is_alive():
        raise TimeoutError("the tick did not return within its %d s timeout (Lambda would have stopped it)"
                           % clock.TICK_TIMEOUT_S)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def run(options):
    """Run the whole simulation and print the summary as the last stdout line.

    Args:
        options (argparse.Namespace): see :mod:`localrun.__main__`.
    Returns:
        int: 0 when every invariant held, 1 otherwise (130 after Ctrl-C, 2 when the app
        cannot be imported).
    """
    scale = clock.scale(options.speed, options.retry_backoff)
    if scale.capped:
        Recorder.warn(
            "--speed %g capped to %g: SQS timers are whole real seconds, and the retry back-off "
            "(%g s) and visibility timeout (%d s) must stay >= 1 s"
            % (options.speed, scale.speed, options.retry_backoff, clock.VISIBILITY_TIMEOUT_S)
        )
    moto_server, endpoint = aws.start_moto(0)
    stand_in = None
    try:
        sqs = aws.sqs_client(endpoint)
        queues = aws.create_queues(sqs, scale)
        if options.api_url is None:
            stand_in = api_module.StandInApi(options.job_seconds, options.fail_rate, scale.speed, options.seed)
            stand_in.start()
        configure_environment(queues, options.api_url or stand_in.url, options.policy, scale, options.log_level)
        try:
            app = import_app(options.log_level)
        except Exception as error:
            Recorder.warn("cannot import the app from %s: %s: %s" % (REPO_ROOT, type(error).__name__, error))
            return 2
        return _simulate(options, scale, endpoint, queues, app, stand_in)
    finally:
        if stand_in is not None:
            stand_in.stop()
        moto_server.stop()


def _simulate(options, scale, endpoint, queues, app, stand_in):
    clients = [aws.sqs_client(endpoint) for _ in range(options.pollers + 1)]  # before the clock starts
    sim_clock = clock.SimClock(scale.speed)
    recorder = Recorder(sim_clock, quiet=options.json)
    if not options.json:
        recorder.say(
            "localrun: policy %s, %d pollers, speed %gx, jobs %g-%g s, fail rate %g, %s"
            % (options.policy, options.pollers, scale.speed, options.job_seconds[0], options.job_seconds[1],
               options.fail_rate, options.api_url or "API stand-in"),
            0,
        )
    stop = threading.Event()
    receive_lock = threading.Lock()
    pollers = [
        poller.Poller("poller-%d" % i, clients[i], queues, app.worker, receive_lock, stop,
                      scale.worker_timeout_real_s, recorder)
        for i in range(options.pollers)
    ]
    for thread in pollers:
        thread.start()

    total_s = options.minutes * clock.TICK_INTERVAL_S
    interrupted = False
    try:
        for k in range(options.minutes):
            due = k * clock.TICK_INTERVAL_S
            sim_clock.sleep_until(due)
            try:
                decision = invoke_tick(app.tick, schedule_event(sim_clock, due), scale.tick_timeout_real_s)
            except Exception as error:
                recorder.tick_failed(due, error)
            else:
                recorder.tick_done(due, decision if isinstance(decision, dict) else {})
        sim_clock.sleep_until(total_s)
    except KeyboardInterrupt:
        interrupted, total_s = True, max(sim_clock.now(), 1.0)
        recorder.warn("interrupted at %s (simulated): the summary covers the run so far" % clock.hms(total_s))
    finally:
        stop.set()  # pollers take no new message; runs in progress go on
        deadline = time.monotonic() + scale.worker_timeout_real_s + DRAIN_MARGIN_REAL_S
        for thread in pollers:
            thread.join(max(0.0, deadline - time.monotonic()))
    still_running = sum(thread.is_alive() for thread in pollers)
    if still_running:
        recorder.warn("%d run(s) still in progress after the worker timeout; abandoned" % still_running)

    sqs = clients[-1]
    dead_letters = aws.depth(sqs, queues["dlq_url"])
    still_queued = aws.depth(sqs, queues["queue_url"])
    meter = stand_in.meter if stand_in is not None else recorder.meter
    busy = [(sim_clock.to_sim(a), sim_clock.to_sim(b)) for a, b in meter.busy_intervals()]
    result = {
        "ticks": recorder.ticks,
        "enqueued": len(recorder.enqueued_ids),
        "skipped": recorder.skipped,
        "runs_started": recorder.runs_started,
        "runs_succeeded": recorder.runs_succeeded,
        "runs_failed": recorder.runs_failed,
        "max_concurrent_runs": meter.max,
        "dead_letters": dead_letters,
        "busy_fraction": round(summary.busy_seconds(busy, total_s) / total_s, 3),
        "mean_result_age_s": round(summary.mean_result_age(recorder.success_ends, total_s), 1),
        "lost": summary.lost(recorder.enqueued_ids, recorder.succeeded_ids, dead_letters, still_queued),
        "queued_at_end": still_queued,
        "policy": options.policy,
        "speed": scale.speed,
        "max_concurrent_invocations": recorder.meter.max,
        "tick_errors": recorder.tick_errors,
    }
    errors = summary.invariant_errors(result, options.policy)
    for error in errors:
        recorder.warn(error)
    with recorder.lock:
        print(json.dumps(result), flush=True)
    return 1 if errors else 130 if interrupted else 0
