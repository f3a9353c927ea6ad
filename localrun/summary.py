"""The run's one-line JSON summary and the invariants checked on it.

All times in this module are simulated seconds since the start of the run;
the run window is ``[0, total_s]`` (``--minutes`` x 60).
"""

KEYS = (
    "ticks",
    "enqueued",
    "skipped",
    "runs_started",
    "runs_succeeded",
    "runs_failed",
    "max_concurrent_runs",
    "dead_letters",
    "busy_fraction",
    "mean_result_age_s",
    "lost",
)


def busy_seconds(intervals, total_s):
    """Length of the union of ``(start, end)`` intervals, clipped to ``[0, total_s]``."""
    busy, reach = 0.0, 0.0
    for start, end in sorted(intervals):
        start, end = max(start, reach), min(end, total_s)
        if end > start:
            busy += end - start
            reach = end
    return busy


def mean_result_age(success_ends, total_s):
    """Time-average over ``[0, total_s]`` of (now - end of the latest successful run).

    Before the first success the reference is 0 (the age of "no result yet"
    grows from the start of the run).
    """
    if total_s <= 0:
        return 0.0
    area, reference, previous = 0.0, 0.0, 0.0
    for end in sorted(e for e in success_ends if 0 <= e <= total_s) + [total_s]:
        area += ((end - reference) ** 2 - (previous - reference) ** 2) / 2
        reference = previous = end
    return area / total_s


def lost(enqueued_ids, succeeded_ids, dead_letters, still_queued):
    """Messages enqueued that neither succeeded, were dead-lettered nor are still in the queue (>= 0)."""
    done = len(set(succeeded_ids) & set(enqueued_ids))
    return max(0, len(set(enqueued_ids)) - done - dead_letters - still_queued)


def invariant_errors(summary, policy):
    """Human-readable reasons the run broke an invariant (empty list: all held)."""
    errors = []
    if policy != "allow_all" and summary["max_concurrent_runs"] > 1:
        errors.append(
            "invariant broken: %d runs were in progress at once under policy %s (must be at most 1)"
            % (summary["max_concurrent_runs"], policy)
        )
    if summary["lost"] > 0:
        errors.append(
            "invariant broken: %d enqueued message(s) lost (neither succeeded, dead-lettered nor still queued)"
            % summary["lost"]
        )
    return errors
