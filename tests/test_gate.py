"""The gate decision: a pure function of (policy, counts, force), no AWS."""
import pytest

from chalicelib.gate import POLICIES, Counts, decide

EMPTY = Counts(0, 0, 0)
RUNNING = Counts(visible=0, in_flight=1, delayed=0)
WAITING = Counts(visible=1, in_flight=0, delayed=0)
RUNNING_AND_WAITING = Counts(visible=1, in_flight=1, delayed=0)
DELAYED = Counts(visible=0, in_flight=0, delayed=1)
RUNNING_AND_DELAYED = Counts(visible=0, in_flight=1, delayed=1)

# policy, counts, expected enqueue
TABLE = [
    ("skip", EMPTY, True),
    ("skip", RUNNING, False),
    ("skip", WAITING, False),  # the seed counted only in-flight messages and sent a second one here
    ("skip", DELAYED, False),
    ("skip", RUNNING_AND_WAITING, False),
    ("buffer_one", EMPTY, True),
    ("buffer_one", RUNNING, True),
    ("buffer_one", WAITING, False),
    ("buffer_one", DELAYED, False),
    ("buffer_one", RUNNING_AND_WAITING, False),
    ("buffer_one", RUNNING_AND_DELAYED, False),
    ("buffer_all", EMPTY, True),
    ("buffer_all", RUNNING_AND_WAITING, True),
    ("buffer_all", Counts(visible=50, in_flight=1, delayed=3), True),
    ("allow_all", EMPTY, True),
    ("allow_all", RUNNING_AND_WAITING, True),
]


@pytest.mark.parametrize("policy,counts,expected", TABLE)
def test_decision_table(policy, counts, expected):
    verdict = decide(policy, counts)
    assert verdict.enqueue is expected
    assert verdict.reason


@pytest.mark.parametrize("policy", POLICIES)
def test_force_always_queues(policy):
    verdict = decide(policy, RUNNING_AND_WAITING, force=True)
    assert verdict.enqueue is True
    assert "forced" in verdict.reason


def test_skip_reason_names_the_counts():
    assert "in flight 1" in decide("skip", RUNNING).reason


def test_unknown_policy_is_rejected_by_name():
    with pytest.raises(ValueError, match="unknown overlap policy 'sometimes'"):
        decide("sometimes", EMPTY)
