"""The state machine definition (``infra/statemachine.asl.json``): linted, then run in moto.

Linting: cfn-lint's E3601 does not look inside a ``DefinitionString`` of SAM
output (DESIGN.md), so the file is wrapped as ``Definition`` of a plain
``AWS::StepFunctions::StateMachine``. E3601 only checks ``StartAt`` targets, so
a small graph check here covers every ``Next``/``Default`` and reachability.

Running: moto executes the definition with its ASL interpreter when
``{"stepfunctions": {"execute_state_machine": True}}``; with
``{"lambda": {"use_docker": False}}`` its Lambda echoes the input, so
``LambdaSimpleBackend.invoke`` is patched to call the real ``app.enqueue``.
"""
import io
import json
import re
import threading
import time
import traceback
import types
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.core.exceptions import JsonRESTError

from tests.conftest import REGION, LambdaContextStub, receive_all

ROOT = Path(__file__).resolve().parent.parent
ASL_PATH = ROOT / "infra" / "statemachine.asl.json"
PLACEHOLDER = "${EnqueueFunctionArn}"
ACCOUNT = "123456789012"
FUNCTION_NAME = "fifo-gate-test-enqueue"
PLAUSIBLE_ARN = "arn:aws:lambda:%s:%s:function:%s" % (REGION, ACCOUNT, FUNCTION_NAME)
SFN_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException", "Lambda.AWSLambdaException",
    "Lambda.SdkClientException", "Lambda.TooManyRequestsException",
}


def asl_text():
    return ASL_PATH.read_text(encoding="utf-8")


def definition(function_arn=PLAUSIBLE_ARN):
    """The parsed definition with the ``Fn::Sub`` placeholder replaced."""
    return json.loads(asl_text().replace(PLACEHOLDER, function_arn))


# --------------------------------------------------------------------------- lint


def cfn_lint(tmp_path, machines):
    """Lint each definition of ``machines`` ({logical id: ASL dict}) as the ``Definition`` of an
    ``AWS::StepFunctions::StateMachine`` in one minimal plain template; return the error messages
    by logical id."""
    from cfnlint.api import lint_file

    resources = {
        "StateMachineRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                               "Principal": {"Service": "states.amazonaws.com"}}],
            }},
        },
    }
    for logical_id, asl in machines.items():
        resources[logical_id] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineType": "STANDARD",
                "RoleArn": {"Fn::GetAtt": ["StateMachineRole", "Arn"]},
                "Definition": asl,
            },
        }
    path = tmp_path / "template.json"
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}, indent=1),
                    encoding="utf-8")
    errors = {logical_id: [] for logical_id in resources}
    for match in lint_file(path):
        if match.rule.id.startswith("E"):
            where = match.path[1] if len(match.path) > 1 and match.path[0] == "Resources" else None
            errors.setdefault(where, []).append("%s %s" % (match.rule.id, match.message))
    return errors


def graph_problems(asl):
    """Dangling ``Next``/``Default`` targets and unreachable states (cfn-lint checks neither)."""
    states = asl["States"]
    problems = []
    edges = {}
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c.get("Next") for c in state.get("Choices", [])]
        targets += [c.get("Next") for c in state.get("Catch", [])]
        edges[name] = [t for t in targets if t is not None]
        problems += ["%s -> missing state %r" % (name, t) for t in edges[name] if t not in states]
    seen, todo = set(), [asl["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        todo += edges[name]
    problems += ["unreachable state %r" % name for name in states if name not in seen]
    return problems


def test_asl_has_only_the_function_arn_placeholder():
    # The deploy tooling wraps the text in Fn::Sub: any other ${...} would be substituted too.
    assert re.findall(r"\$\{[^}]*\}", asl_text()) == [PLACEHOLDER]
    asl = definition()
    assert asl["States"]["Enqueue"]["Parameters"]["FunctionName"] == PLAUSIBLE_ARN


def test_asl_passes_cfn_lint(tmp_path):
    asl = definition()
    errors = cfn_lint(tmp_path, {"StateMachine": asl})
    assert errors == {"StateMachineRole": [], "StateMachine": []}
    assert graph_problems(asl) == []


def test_lint_catches_broken_definitions(tmp_path):
    # Proves the lint above is not vacuous: each broken copy must draw an error of its own.
    start_at_missing = definition()
    start_at_missing["StartAt"] = "NoSuchState"
    retry_without_error_equals = definition()
    del retry_without_error_equals["States"]["Enqueue"]["Retry"][0]["ErrorEquals"]
    next_on_fail_state = definition()
    next_on_fail_state["States"]["UnexpectedDecision"]["Next"] = "Enqueued"
    broken = {
        "StartAtMissing": start_at_missing,
        "RetryWithoutErrorEquals": retry_without_error_equals,
        "NextOnFailState": next_on_fail_state,
    }

    errors = cfn_lint(tmp_path, broken)

    for logical_id in broken:
        assert errors[logical_id], "cfn-lint accepted a broken definition (%s)" % logical_id
    assert errors.get(None, []) == []


def test_graph_check_catches_a_dangling_next():
    # cfn-lint 1.58's E3601 checks StartAt targets only, not Next: the graph check covers that.
    asl = definition()
    name = next(name for name, state in asl["States"].items() if "Next" in state)
    asl["States"][name]["Next"] = "NoSuchState"
    assert "%s -> missing state 'NoSuchState'" % name in graph_problems(asl)


def test_retry_names_only_lambda_service_errors():
    retry = definition()["States"]["Enqueue"]["Retry"]
    named = {error for retrier in retry for error in retrier["ErrorEquals"]}
    assert named == LAMBDA_SERVICE_ERRORS
    assert all(1 <= retrier["MaxAttempts"] <= 5 for retrier in retry)
    assert "Catch" not in definition()["States"]["Enqueue"]


# --------------------------------------------------------------------------- run in moto


@pytest.fixture
def sqs():
    """Overrides conftest's ``sqs``: the same in-process moto, with state machine execution
    switched on and the docker-less Lambda backend (the documented ``mock_aws(config=...)``)."""
    with mock_aws(config=SFN_CONFIG):
        yield boto3.client("sqs", region_name=REGION)


class LambdaServiceException(JsonRESTError):
    """What Lambda answers on its own failure (HTTP 500); Step Functions names it ``Lambda.ServiceException``."""

    code = 500

    def __init__(self, message):
        super().__init__("ServiceException", message)


class EnqueueRoute:
    """Routes moto's docker-less invoke of one function ARN to the real ``app.enqueue``.

    Attributes:
        events (list): every event the handler received, in order.
        lose_responses (int): the next N invocations run the handler, then answer
            ``ServiceException`` instead of its result (a response lost after the send).
        override (dict | None): answer this instead of calling the handler.
    """

    def __init__(self, handler, function_arn, original_invoke):
        self.handler = handler
        self.function_arn = function_arn
        self.original_invoke = original_invoke
        self.events = []
        self.lose_responses = 0
        self.override = None
        self._lock = threading.Lock()

    def invoke(self, backend, function_name, qualifier, body, headers, response_headers):
        fn = backend.get_function(function_name, qualifier)  # unknown function: moto's own error
        if fn.function_arn != self.function_arn:
            return self.original_invoke(backend, function_name, qualifier, body, headers, response_headers)
        event = json.loads(body) if body else {}
        with self._lock:
            self.events.append(event)
            lose = self.lose_responses > 0
            if lose:
                self.lose_responses -= 1
        if self.override is not None:
            return json.dumps(self.override).encode("utf-8")
        context = LambdaContextStub()
        try:
            result = self.handler(event, context)
        except Exception as exc:  # the shape Lambda gives an unhandled Python error
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }).encode("utf-8")
        if lose:
            raise LambdaServiceException("simulated: the invocation ran but its response was lost")
        return json.dumps(result).encode("utf-8")


@pytest.fixture
def retry_waits(monkeypatch):
    """Record the interpreter's Retry back-off instead of sleeping through it."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    waits = []
    monkeypatch.setattr(retrier_decl, "time", types.SimpleNamespace(sleep=waits.append))
    return waits


class Machine:
    """A state machine created in moto from the ASL file, targeting a routed ``enqueue`` function."""

    def __init__(self, sfn, arn, route, sqs, queue_url):
        self.sfn = sfn
        self.arn = arn
        self.route = route
        self.sqs = sqs
        self.queue_url = queue_url

    def run(self, execution_input=None, name=None, timeout=10.0):
        """Start an execution, wait for it to end (bounded), return ``describe_execution``."""
        name = name or "exec-" + uuid.uuid4().hex[:12]
        kwargs = {"stateMachineArn": self.arn, "name": name}
        if execution_input is not None:
            kwargs["input"] = json.dumps(execution_input)
        execution_arn = self.sfn.start_execution(**kwargs)["executionArn"]
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            assert time.monotonic() < deadline, "execution %s still RUNNING after %ss" % (name, timeout)
            time.sleep(0.02)

    def history(self, described):
        return self.sfn.get_execution_history(executionArn=described["executionArn"])["events"]

    def entered(self, described):
        return [e["stateEnteredEventDetails"]["name"] for e in self.history(described)
                if "stateEnteredEventDetails" in e]

    def queued(self):
        """Messages in the gate queue: visible + in flight + delayed."""
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])["Attributes"]
        return sum(int(attrs[k]) for k in ("ApproximateNumberOfMessages",
                                           "ApproximateNumberOfMessagesNotVisible",
                                           "ApproximateNumberOfMessagesDelayed"))


def _zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def machine(app_module, sqs, queues, monkeypatch, retry_waits):
    """The ASL state machine in moto, its task routed to ``app.enqueue``; the patch is undone at teardown."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    iam = boto3.client("iam", region_name=REGION)
    role_arn = iam.create_role(
        RoleName="fifo-gate-test-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]}),
    )["Role"]["Arn"]
    function_arn = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=FUNCTION_NAME, Runtime="python3.11", Role=role_arn,
        Handler="app.enqueue", Code={"ZipFile": _zip()},
    )["FunctionArn"]

    route = EnqueueRoute(app_module.enqueue, function_arn, LambdaSimpleBackend.invoke)
    monkeypatch.setattr(LambdaSimpleBackend, "invoke",
                        lambda backend, *args: route.invoke(backend, *args))

    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(
        name="fifo-gate-test", type="STANDARD", roleArn=role_arn,
        definition=asl_text().replace(PLACEHOLDER, function_arn),
    )["stateMachineArn"]
    return Machine(sfn, arn, route, sqs, queues[0])


def test_first_execution_enqueues(machine):
    described = machine.run({}, name="first")
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["decision"] == "enqueued"
    assert output["trigger"] == "state_machine"
    assert output["dedup_id"] == "exec:first"
    # the input as given, plus the execution name (and the Pass state's scaffold, which enqueue ignores)
    assert machine.route.events == [{"execution": "first", "fifo_gate": {"execution": "first"}}]
    entered = machine.entered(described)
    assert entered[-2:] == ["Decision", "Enqueued"]
    assert entered == ["BuildRequest", "Enqueue", "Decision", "Enqueued"]  # 4 billed transitions
    assert machine.queued() == 1


def test_execution_while_a_run_is_in_flight_is_skipped(machine, sqs, queues):
    assert json.loads(machine.run({})["output"])["decision"] == "enqueued"
    assert len(receive_all(sqs, queues[0])) == 1  # the worker holds it: in flight

    described = machine.run({})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["decision"] == "skipped"
    assert output["counts"]["in_flight"] == 1
    assert machine.entered(described)[-1] == "Skipped"
    assert machine.queued() == 1


@pytest.mark.parametrize("policy, expected_end", [
    ("skip", "Skipped"),           # the gate already sees the first attempt's message
    ("buffer_all", "Enqueued"),    # the policy would send again: only the dedup id stops it
])
def test_retried_task_does_not_queue_twice(machine, monkeypatch, app_module, retry_waits, policy, expected_end):
    monkeypatch.setenv("OVERLAP_POLICY", policy)
    app_module._CACHE.clear()
    machine.route.lose_responses = 1  # attempt 1 sends, then its answer is lost

    described = machine.run({"payload": {"n": 1}}, name="retried")

    assert described["status"] == "SUCCEEDED", described
    assert machine.route.events == [{"execution": "retried", "payload": {"n": 1},
                                     "fifo_gate": {"execution": "retried"}}] * 2
    failed = [e["taskFailedEventDetails"] for e in machine.history(described) if "taskFailedEventDetails" in e]
    assert [f["error"] for f in failed] == ["Lambda.ServiceException"]
    assert retry_waits == [definition()["States"]["Enqueue"]["Retry"][0]["IntervalSeconds"]]
    output = json.loads(described["output"])
    assert output["dedup_id"] == "exec:retried"
    assert machine.entered(described)[-1] == expected_end
    assert machine.queued() == 1


def test_bad_input_fails_with_the_handlers_message_and_queues_nothing(machine, retry_waits):
    described = machine.run({"force": "yes"})

    assert described["status"] == "FAILED", described
    assert described["error"] == "InputError"
    assert "force" in described["cause"]
    assert "'force' must be true or false" in json.loads(described["cause"])["errorMessage"]
    assert len(machine.route.events) == 1  # a handler error is not retried
    assert retry_waits == []
    assert machine.queued() == 0


def test_time_in_input_gives_the_slot_dedup_id(machine):
    described = machine.run({"time": "2026-11-29T15:14:00Z", "detail-type": "Scheduled Event"})

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["dedup_id"] == "slot:2026-11-29T15:14Z"
    assert output["decision"] == "enqueued"
    event = machine.route.events[0]
    assert event["time"] == "2026-11-29T15:14:00Z"
    assert event["execution"] == machine_execution_name(described)


def test_force_and_payload_are_passed_through(machine):
    described = machine.run({"force": True, "payload": {"k": "v"}}, name="forced")

    assert described["status"] == "SUCCEEDED", described
    assert machine.route.events == [{"execution": "forced", "force": True, "payload": {"k": "v"},
                                     "fifo_gate": {"execution": "forced"}}]
    assert json.loads(described["output"])["dedup_id"] == "force:exec:forced"


@pytest.mark.parametrize("answer", [{"decision": "disabled"}, {"unexpected": True}])
def test_unexpected_decision_fails_the_execution(machine, answer):
    machine.route.override = answer

    described = machine.run({})

    assert described["status"] == "FAILED", described
    assert described["error"] == "UnexpectedDecision"
    assert machine.entered(described)[-1] == "UnexpectedDecision"


def machine_execution_name(described):
    """The name of a described execution (the last part of its ARN)."""
    return described["executionArn"].rsplit(":", 1)[1]


def test_input_that_is_not_an_object_fails_before_the_task(machine):
    described = machine.run([1, 2], name="array-input")
    assert described["status"] == "FAILED"
    assert machine.route.events == []
    assert machine.queued() == 0
