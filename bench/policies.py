"""Overlap policies on a simulated day, with the local runtime (``python -m localrun``).

Each policy runs in its own process (its own moto server and API stand-in),
all three at once, with the same ``--seed`` so they draw the same job
latencies. Figures come from localrun's JSON summary line: ``busy_fraction``
(share of simulated time the API was serving a call), ``mean_result_age_s``
(time-average age of the latest successful result, simulated seconds),
``enqueued``, ``skipped``, ``max_concurrent_runs``, ``lost``, ``tick_errors``;
``backlog_at_end`` (messages still queued when the day ends) is derived.
``real_s`` is the wall time of each run, seconds.

Fidelity: moto's SQS calls cost real time in proportion to the queue's depth
(about 0.2 ms per queued message per call on a 2-core machine), and the local
runtime multiplies every real millisecond by the speed. ``skip`` and
``buffer_one`` keep the queue at 0-2 messages, so 360x is faithful; under
``buffer_all`` the backlog grows all day (to hundreds of messages) and at 360x
the receive/delete between two runs alone costs tens of simulated seconds, which
shows up as idle API time (a 360x day measured ``busy_fraction`` 0.67 where 120x
gives 0.94). The full day therefore runs ``buffer_all`` at ``SLOW_SPEED``. Rows
with ``tick_errors`` are flagged by the report.
"""
import json
import os
import pathlib
import subprocess
import sys
import time

from localrun import clock

ROOT = pathlib.Path(__file__).resolve().parent.parent
POLICIES = ("skip", "buffer_one", "buffer_all")
SPEED = 360.0  # simulated seconds per real second
# buffer_all's backlog grows all day and moto slows down with it: at 360x the gap
# between two runs costs tens of simulated seconds (see the module docstring).
SLOW_SPEED = 120.0
FULL_DAY_SPEEDS = {"skip": SPEED, "buffer_one": SPEED, "buffer_all": SLOW_SPEED}
RETRY_BACKOFF_S = 360.0  # simulated; keeps localrun's speed cap at 360
JOB_SECONDS = "40-120"
SEED = 1


def measure(minutes, speeds, parallel=True):
    """Run the three policies for ``minutes`` simulated minutes each.

    Args:
        minutes (int): simulated minutes (1440 for a day).
        speeds (dict[str, float]): requested simulated seconds per real second, per policy
            (localrun caps it; the effective speed is reported).
        parallel (bool): run the three processes at once.
    Returns:
        dict: the ``policies`` section.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    started_all = time.perf_counter()
    running = {}
    results = {}
    for policy in POLICIES:
        speed = float(speeds[policy])
        scale = clock.scale(speed, RETRY_BACKOFF_S)
        timeout = minutes * 60.0 / scale.speed + 120
        argv = [sys.executable, "-m", "localrun", "--minutes", str(minutes), "--speed", "%g" % speed,
                "--retry-backoff", "%g" % RETRY_BACKOFF_S, "--json", "--job-seconds", JOB_SECONDS,
                "--fail-rate", "0", "--policy", policy, "--seed", str(SEED)]
        proc = subprocess.Popen(argv, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        running[policy] = (proc, time.perf_counter(), timeout, scale)
        if not parallel:
            results[policy] = _finish(policy, *running.pop(policy))
    for policy, args in running.items():
        results[policy] = _finish(policy, *args)
    return {
        "minutes": minutes,
        "speeds": {policy: results[policy]["requested_speed"] for policy in POLICIES},
        "capped": any(r["capped"] for r in results.values()),
        "retry_backoff_s": RETRY_BACKOFF_S,
        "job_seconds": JOB_SECONDS,
        "fail_rate": 0,
        "seed": SEED,
        "parallel": parallel,
        "real_s": time.perf_counter() - started_all,
        "results": {policy: results[policy] for policy in POLICIES},
    }


def _finish(policy, proc, started, timeout, scale):
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    real_s = time.perf_counter() - started
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        summary = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError("localrun --policy %s printed no summary (exit %s): %s"
                           % (policy, proc.returncode, (stdout + stderr)[-2000:]))
    summary.update({
        "exit_code": proc.returncode,
        "real_s": real_s,
        "requested_speed": scale.requested_speed,
        "effective_speed": scale.speed,
        "capped": scale.capped or "capped" in stderr,
        "tick_timeout_real_s": scale.tick_timeout_real_s,
    })
    # Messages still queued when the day ends (fail rate 0: every run that ends succeeds).
    # Only exact when no tick timed out: a tick that overran may still have sent its message.
    if not summary.get("tick_errors") and {"enqueued", "runs_succeeded", "dead_letters"} <= set(summary):
        summary["backlog_at_end"] = summary["enqueued"] - summary["runs_succeeded"] - summary["dead_letters"]
    return summary
