"""``infra.check``: the real stages pass, and each unsafe setting fails with a clear line."""
import copy
import os
import shutil
import subprocess
import sys

import pytest

from infra import check, render, stage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = ("dev", "stg", "prod")


@pytest.fixture(scope="module")
def real():
    """``{stage: (settings, merge template)}`` read once, plus the app's worker batch size."""
    return {name: (stage.load(name), render.render(name, "merge")) for name in STAGES}, \
        check.worker_batch_size()


@pytest.fixture
def dev(real):
    """Deep copies of dev's settings and template (mutate freely) and the real batch size."""
    stages, batch_size = real
    settings, template = stages["dev"]
    return copy.deepcopy(settings), copy.deepcopy(template), batch_size


def _run(*argv):
    return subprocess.run([sys.executable, "-m", "infra.check", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def _queue(template):
    return template["Resources"]["Queue"]["Properties"]


def _one_error(settings, template, batch_size, *words):
    errors, _ = check.problems(settings, template, batch_size)
    assert len(errors) == 1, errors
    for word in words:
        assert word in errors[0], (word, errors[0])
    return errors[0]


# -- the real stages ---------------------------------------------------------------------

@pytest.mark.parametrize("name", STAGES)
def test_real_stage_passes_with_the_six_times_warning(name):
    result = _run(name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: stage %s is safe (visibility 360 s, worker timeout 300 s, "
                                    "maxReceiveCount 5" % name), result.stdout
    assert len(result.stdout.splitlines()) == 1
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert "6 x the worker timeout" in warnings[0] and "1800" in warnings[0]
    assert "error" not in result.stderr


def test_real_stages_have_no_errors(real):
    stages, batch_size = real
    assert batch_size == 1
    for settings, template in stages.values():
        errors, warnings = check.problems(settings, template, batch_size)
        assert errors == []
        assert len(warnings) == 1


# -- one test per unsafe setting --------------------------------------------------------

def test_visibility_below_timeout_plus_margin(dev):
    settings, template, batch_size = dev
    template["Parameters"]["VisibilityTimeout"]["Default"] = 300 + check.VISIBILITY_MARGIN_SECONDS - 1
    error = _one_error(settings, template, batch_size, "VisibilityTimeout is 329 s", "300 s",
                       "margin", "330", "visibility_timeout_seconds")
    assert "run twice" in error


def test_visibility_equal_to_timeout_plus_margin_is_enough(dev):
    settings, template, batch_size = dev
    template["Parameters"]["VisibilityTimeout"]["Default"] = 330
    errors, _ = check.problems(settings, template, batch_size)
    assert errors == []


def test_missing_visibility_means_the_sqs_default_of_30_s(dev):
    settings, template, batch_size = dev
    del _queue(template)["VisibilityTimeout"]
    _one_error(settings, template, batch_size, "VisibilityTimeout is 30 s")


@pytest.mark.parametrize("mutate, words", [
    (lambda t: _queue(t).pop("RedrivePolicy"), ("no RedrivePolicy", "dead-letter")),
    (lambda t: _queue(t)["RedrivePolicy"].pop("deadLetterTargetArn"),
     ("no deadLetterTargetArn", "dead-letter")),
    (lambda t: _queue(t)["RedrivePolicy"].update(
        deadLetterTargetArn="arn:aws:sqs:us-east-1:123456789012:elsewhere.fifo"),
     ("does not point at a queue resource",)),
    (lambda t: _queue(t)["RedrivePolicy"].update(deadLetterTargetArn={"Fn::GetAtt": ["Nope", "Arn"]}),
     ("does not point at a queue resource",)),
    (lambda t: t["Resources"]["DeadLetterQueue"]["Properties"].pop("FifoQueue"),
     ("not a FIFO queue", "DeadLetterQueue")),
    (lambda t: _queue(t)["RedrivePolicy"].update(deadLetterTargetArn={"Fn::GetAtt": ["StateMachine", "Arn"]}),
     ("not a FIFO queue", "AWS::StepFunctions::StateMachine")),
], ids=["no-redrive", "no-target", "literal-arn", "unknown-resource", "standard-dlq", "not-a-queue"])
def test_no_fifo_dead_letter_queue(dev, mutate, words):
    settings, template, batch_size = dev
    mutate(template)
    _one_error(settings, template, batch_size, *words)


def test_dead_letter_target_in_other_arn_forms_is_accepted(dev):
    settings, template, batch_size = dev
    for target in ({"Fn::GetAtt": "DeadLetterQueue.Arn"}, {"Fn::Sub": "${DeadLetterQueue.Arn}"}):
        _queue(template)["RedrivePolicy"]["deadLetterTargetArn"] = target
        assert check.problems(settings, template, batch_size)[0] == []


def test_max_receive_count_below_one(dev):
    settings, template, batch_size = dev
    template["Parameters"]["MaxReceiveCount"]["Default"] = 0
    _one_error(settings, template, batch_size, "maxReceiveCount is 0", "below 1", "max_receive_count")


def test_batch_size_not_one(dev):
    settings, template, batch_size = dev
    _one_error(settings, template, 10, "batch size is 10, not 1", "batch_size=1")


def test_batch_size_set_in_the_template_overrides_the_app(dev):
    settings, template, batch_size = dev
    events = template["Resources"]["Worker"]["Properties"]["Events"]
    events["WorkerSqsEventSource"]["Properties"]["BatchSize"] = 5
    _one_error(settings, template, batch_size, "batch size is 5")


def test_no_worker_event_source(dev):
    settings, template, _ = dev
    _one_error(settings, template, None, "no SQS event source named 'worker'")


def test_reserved_concurrency_on_the_worker(dev):
    settings, template, batch_size = dev
    settings["functions"]["worker"]["reserved_concurrency"] = 1
    _one_error(settings, template, batch_size, "reserved_concurrency is 1", "throttled",
               "maxReceiveCount", "remove reserved_concurrency")


@pytest.mark.parametrize("value", ["300", "400"])
def test_long_api_timeout_not_below_worker_timeout(dev, value):
    settings, template, batch_size = dev
    settings["functions"]["worker"]["environment"]["LONG_API_TIMEOUT_SECONDS"] = value
    _one_error(settings, template, batch_size,
               "LONG_API_TIMEOUT_SECONDS is %s s" % value, "300 s", "below 300 s")


def test_long_api_timeout_unset_or_below_is_fine(dev):
    settings, template, batch_size = dev
    env = settings["functions"]["worker"]["environment"]
    env["LONG_API_TIMEOUT_SECONDS"] = "299.5"
    assert check.problems(settings, template, batch_size)[0] == []
    del env["LONG_API_TIMEOUT_SECONDS"]
    assert check.problems(settings, template, batch_size)[0] == []


def test_heartbeat_not_below_visibility(dev):
    settings, template, batch_size = dev
    settings["functions"]["worker"]["environment"]["HEARTBEAT_SECONDS"] = "360"
    _one_error(settings, template, batch_size, "HEARTBEAT_SECONDS is 360 s", "VisibilityTimeout 360 s",
               "reappear")


def test_heartbeat_below_visibility_is_fine(dev):
    settings, template, batch_size = dev
    settings["functions"]["worker"]["environment"]["HEARTBEAT_SECONDS"] = "100"
    assert check.problems(settings, template, batch_size)[0] == []


def test_non_numeric_env_value_is_an_error(dev):
    settings, template, batch_size = dev
    settings["functions"]["worker"]["environment"]["HEARTBEAT_SECONDS"] = "soon"
    errors, _ = check.problems(settings, template, batch_size)
    assert errors and all("HEARTBEAT_SECONDS='soon' is not a number" in e for e in errors), errors


def test_ref_to_a_parameter_without_default_is_an_error(dev):
    settings, template, batch_size = dev
    del template["Parameters"]["VisibilityTimeout"]["Default"]
    _one_error(settings, template, batch_size, "'VisibilityTimeout' has no Default")


# -- the six-times warning -----------------------------------------------------------------

def test_visibility_below_six_times_warns_with_the_trade_off(dev):
    settings, template, batch_size = dev
    errors, warnings = check.problems(settings, template, batch_size)
    assert errors == []
    assert len(warnings) == 1
    warning = warnings[0]
    assert warning.startswith("warning:")
    for words in ("360 s", "6 x", "300 s", "throttl", "crash", "heartbeat", "1800"):
        assert words in warning, words


def test_visibility_of_six_times_gives_no_warning(dev):
    settings, template, batch_size = dev
    template["Parameters"]["VisibilityTimeout"]["Default"] = 6 * 300
    assert check.problems(settings, template, batch_size) == ([], [])


# -- bad stage --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nope", "local"])
def test_unknown_stage_exits_2_naming_the_stages(name):
    result = _run(name)
    assert result.returncode == 2
    assert "unknown stage %r" % name in result.stderr
    assert "dev, stg, prod" in result.stderr
    assert result.stdout == ""


def test_no_stage_is_usage_error():
    result = _run()
    assert result.returncode == 2
    assert "usage" in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_check_unknown_stage():
    # -o: treat the venv stamp as up to date, so the test never reinstalls packages.
    result = subprocess.run(["make", "-o", ".venv/.installed", "check", "STAGE=nope"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown stage 'nope'; use one of: dev, stg, prod" in result.stderr


def test_main_returns_1_and_prints_each_problem(monkeypatch, capsys, dev):
    settings, template, _ = dev
    template["Parameters"]["MaxReceiveCount"]["Default"] = 0
    settings["functions"]["worker"]["reserved_concurrency"] = 2
    monkeypatch.setattr(check.stage_module, "load", lambda name: settings)
    monkeypatch.setattr(check.render_module, "render", lambda name, form: template)
    assert check.main(["dev"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 2
    assert all(line.startswith("error: stage dev: ") for line in lines)


# -- environments as the app reads them ------------------------------------------------------

@pytest.mark.parametrize("function, variable, value, words", [
    ("worker", "LONG_API_TIMEOUT_SECONDS", "-5", ["function worker", "LONG_API_TIMEOUT_SECONDS='-5'"]),
    ("worker", "HEARTBEAT_SECONDS", "0.5", ["function worker", "HEARTBEAT_SECONDS='0.5'"]),
    ("tick", "OVERLAP_POLICY", "bogus", ["function tick", "OVERLAP_POLICY='bogus'"]),
    ("enqueue", "RETRY_BACKOFF_SECONDS", "abc", ["function enqueue", "RETRY_BACKOFF_SECONDS='abc'"]),
    ("worker", "LONG_API_URL", "", ["function worker", "LONG_API_URL must be set"]),
])
def test_an_environment_the_app_would_reject_fails_the_check(dev, function, variable, value, words):
    settings, template, batch_size = dev
    settings["functions"][function]["environment"][variable] = value
    errors, _ = check.problems(settings, template, batch_size)
    matching = [e for e in errors if all(word in e for word in words)]
    assert matching, errors


def test_two_message_groups_are_two_gates(dev):
    settings, template, batch_size = dev
    settings["functions"]["tick"]["environment"]["MESSAGE_GROUP_ID"] = "g2"
    _one_error(settings, template, batch_size, "MESSAGE_GROUP_ID differs", "tick=g2")


def test_allow_all_is_a_warning_not_an_error(dev):
    settings, template, batch_size = dev
    for function in settings["functions"].values():
        function["environment"]["OVERLAP_POLICY"] = "allow_all"
    errors, warnings = check.problems(settings, template, batch_size)
    assert errors == []
    assert any("allow_all" in w for w in warnings)


def test_heartbeat_over_half_the_visibility_warns(dev):
    settings, template, batch_size = dev
    settings["functions"]["worker"]["environment"]["HEARTBEAT_SECONDS"] = "300"
    errors, warnings = check.problems(settings, template, batch_size)
    assert errors == [] and any("more than half the VisibilityTimeout" in w for w in warnings)


def test_top_level_function_settings_are_read_as_chalice_reads_them():
    # Chalice looks a setting up in: stage function, stage, top-level function, top level.
    import json

    config = json.loads(stage.CHALICE_CONFIG.read_text())
    del config["stages"]["prod"]["lambda_functions"]["worker"]["lambda_timeout"]
    config["lambda_functions"] = {"worker": {"lambda_timeout": 900, "reserved_concurrency": 1}}
    worker = stage.load("prod", chalice_config=config)["functions"]["worker"]
    assert (worker["timeout"], worker["reserved_concurrency"]) == (900, 1)
