"""The local runtime end to end: ``python -m localrun`` as a subprocess against the real app.

The simulated runs start together (one module fixture) so the file takes about
as long as the longest run, a few real seconds. Durations in the options are
simulated seconds/minutes at 60x (one simulated minute per real second).
"""
import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # whatever pytest's rootdir handling, localrun imports from here

from localrun import clock, summary  # noqa: E402
RUN_TIMEOUT_REAL_S = 120

# Jobs longer than the 60 s tick interval, so the gate has ticks to hold back.
GATED = ["--minutes", "6", "--speed", "60", "--job-seconds", "70-130", "--pollers", "5", "--seed", "7"]
RUNS = {
    # The skip run keeps the timeline: it also checks the human output.
    "skip": GATED + ["--policy", "skip"],
    "buffer_one": GATED + ["--policy", "buffer_one", "--json"],
    "buffer_all": GATED + ["--policy", "buffer_all", "--json"],
    # Jobs of 2.5-3.3 ticks: by the second tick the first run is still going.
    "allow_all": ["--minutes", "4", "--job-seconds", "150-200", "--policy", "allow_all", "--json"],
    # Every call fails: each failure leaves the message for a retry, nothing is lost.
    "failing": ["--minutes", "4", "--job-seconds", "10", "--fail-rate", "1", "--policy", "buffer_one", "--json"],
}


def _command(args):
    return [sys.executable, "-m", "localrun"] + list(args)


@pytest.fixture(scope="module")
def runs():
    """Start every run at once; map name -> (exit code, stdout lines, stderr, summary dict)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    processes = {
        name: subprocess.Popen(_command(args), cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for name, args in RUNS.items()
    }
    results = {}
    try:
        for name, process in processes.items():
            out, err = process.communicate(timeout=RUN_TIMEOUT_REAL_S)
            lines = out.strip().splitlines()
            assert lines, "%s printed nothing on stdout; stderr:\n%s" % (name, err)
            try:
                result = json.loads(lines[-1])
            except ValueError:
                pytest.fail("%s: last stdout line is not JSON: %r\nstderr:\n%s" % (name, lines[-1], err))
            results[name] = (process.returncode, lines, err, result)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def _describe(run):
    code, lines, err, result = run
    return "exit %s, summary %s\nstderr:\n%s" % (code, result, err[-3000:])


def test_summary_has_every_key(runs):
    for name, (_, _, _, result) in runs.items():
        assert set(summary.KEYS) <= set(result), name
        assert result["ticks"] == result["enqueued"] + result["skipped"], name


@pytest.mark.parametrize("policy", ["skip", "buffer_one", "buffer_all"])
def test_gated_policies_never_overlap_and_lose_nothing(runs, policy):
    code, _, _, result = runs[policy]
    assert result["max_concurrent_runs"] == 1, _describe(runs[policy])
    assert result["lost"] == 0, _describe(runs[policy])
    assert code == 0, _describe(runs[policy])
    assert result["ticks"] == 6
    assert result["runs_succeeded"] >= 2, _describe(runs[policy])
    assert result["policy"] == policy


def test_skip_drops_ticks_during_a_run_and_buffer_all_keeps_them(runs):
    assert runs["skip"][3]["skipped"] >= 1, _describe(runs["skip"])
    assert runs["buffer_all"][3]["enqueued"] == 6, _describe(runs["buffer_all"])
    assert runs["buffer_all"][3]["skipped"] == 0


def test_timeline_shows_ticks_skipped_while_a_run_is_in_progress(runs):
    _, lines, _, _ = runs["skip"]
    timeline = "\n".join(lines[:-1])
    assert "tick     enqueued" in timeline
    assert "tick     skipped   a run is in flight or waiting (in flight 1" in timeline
    assert " started" in timeline and " succeeded in " in timeline


def test_allow_all_overlaps_when_jobs_outlast_the_tick(runs):
    code, _, _, result = runs["allow_all"]
    assert result["max_concurrent_runs"] > 1, _describe(runs["allow_all"])
    assert result["lost"] == 0, _describe(runs["allow_all"])
    assert code == 0, _describe(runs["allow_all"])


def test_failed_runs_are_retried_not_lost(runs):
    code, _, err, result = runs["failing"]
    assert result["runs_succeeded"] == 0
    assert result["runs_failed"] >= 2, _describe(runs["failing"])  # the first try and a retry
    assert result["runs_started"] == result["runs_failed"]
    assert result["max_concurrent_runs"] == 1
    assert result["lost"] == 0, _describe(runs["failing"])
    assert code == 0, _describe(runs["failing"])
    assert "HTTP 500" in err  # the worker's failure log on stderr


@pytest.mark.parametrize(
    "args, option",
    [
        (["--policy", "nope"], "--policy"),
        (["--job-seconds", "5-1"], "--job-seconds"),
        (["--job-seconds", "abc"], "--job-seconds"),
        (["--fail-rate", "1.5"], "--fail-rate"),
        (["--pollers", "0"], "--pollers"),
        (["--minutes", "0"], "--minutes"),
        (["--speed", "0"], "--speed"),
        (["--api-url", "ftp://x"], "--api-url"),
    ],
)
def test_bad_option_exits_non_zero_naming_it(args, option):
    done = subprocess.run(_command(args), cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert option in done.stderr


def test_aws_server_prints_the_exports_for_chalice_local():
    process = subprocess.Popen([sys.executable, "-m", "localrun.aws", "--port", "0"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in text
        assert "export QUEUE_URL=" in text and clock.QUEUE_NAME in text
        assert "export DLQ_NAME=%s" % clock.DLQ_NAME in text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- the summary's arithmetic (simulated seconds) ---


def test_busy_seconds_is_the_clipped_union():
    assert summary.busy_seconds([(10, 20), (15, 30), (50, 70), (90, 130)], 100) == 20 + 20 + 10
    assert summary.busy_seconds([(-5, 5)], 100) == 5
    assert summary.busy_seconds([], 100) == 0


def test_mean_result_age_is_a_time_average():
    # No success: the age grows from 0 to T, averaging T/2.
    assert summary.mean_result_age([], 600) == 300
    # A success at 100 over [0, 200]: two triangles of 100 x 100 / 2, over 200.
    assert summary.mean_result_age([100], 200) == 50
    # Successes after T do not count.
    assert summary.mean_result_age([250], 200) == 100


def test_lost_counts_what_is_nowhere():
    enqueued = {"a", "b", "c", "d"}
    assert summary.lost(enqueued, {"a"}, dead_letters=1, still_queued=2) == 0
    assert summary.lost(enqueued, {"a"}, dead_letters=0, still_queued=1) == 2
    assert summary.lost(enqueued, {"a", "x"}, dead_letters=0, still_queued=9) == 0


def test_invariants_name_what_broke():
    base = {"max_concurrent_runs": 1, "lost": 0}
    assert summary.invariant_errors(base, "skip") == []
    assert summary.invariant_errors(dict(base, max_concurrent_runs=2), "allow_all") == []
    assert "at once" in summary.invariant_errors(dict(base, max_concurrent_runs=2), "buffer_one")[0]
    assert "lost" in summary.invariant_errors(dict(base, lost=1), "allow_all")[0]


def test_speed_is_capped_to_whole_second_sqs_timers():
    capped = clock.scale(600)
    assert capped.capped and capped.speed == clock.RETRY_BACKOFF_S
    assert capped.retry_backoff_real_s == 1 and capped.visibility_timeout_real_s == 6
    assert capped.visibility_timeout_real_s > capped.worker_timeout_real_s
    fast = clock.scale(120, retry_backoff_s=120)
    assert not fast.capped and fast.visibility_timeout_real_s == 3


# --- the poller's Lambda shapes ---


def test_sqs_event_has_the_shape_lambda_builds_from_a_real_receive():
    import boto3
    from moto import mock_aws

    from localrun import poller

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="shape.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody='{"run_id": "abc123"}', MessageGroupId="g",
                         MessageDeduplicationId="d")
        message = sqs.receive_message(QueueUrl=url, AttributeNames=["All"],
                                      MessageSystemAttributeNames=["All"])["Messages"][0]
    arn = "arn:aws:sqs:us-east-1:123456789012:shape.fifo"
    (record,) = poller.sqs_event(message, arn)["Records"]
    assert set(record) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                           "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"}
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
            "MessageGroupId", "MessageDeduplicationId", "SequenceNumber"} <= set(record["attributes"])
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert poller.run_id_of(message) == "abc123"


def test_lambda_context_counts_down_from_the_scaled_timeout():
    from localrun import poller

    context = poller.LambdaContext("fifo-gate-local-worker", timeout_real_s=5)
    assert 4000 < context.get_remaining_time_in_millis() <= 5000
    assert context.function_name == "fifo-gate-local-worker" and context.aws_request_id
    assert poller.LambdaContext("f", timeout_real_s=0).get_remaining_time_in_millis() == 0
