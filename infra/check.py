"""Fail on unsafe settings of a stage: the gate's timing, redrive and concurrency.

Command line (``make check STAGE=dev``)::

    python -m infra.check STAGE

Reads the stage's settings (``infra.stage.load``), the merge template
(``infra.render.render(stage, "merge")``, whose queue properties are ``Ref``s
to parameters defaulting to the stage's values) and the worker's SQS batch
size (from Chalice's app object, since the Chalice half of the template only
exists after ``chalice package``). Each problem is one ``error:`` line on
stderr (exit 1); advice is a ``warning:`` line (exit 0); success prints one
``ok:`` line on stdout. Unknown stage or bad arguments: exit 2.

All times are seconds.

AWS behaviour relied on:

* visibility timeout, and the recommendation of at least six times the
  function timeout for an SQS event source:
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
* throttled invocations return the message to the queue and count as a
  receive, so with reserved concurrency good messages can reach the DLQ:
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
* redrive policy and dead-letter queues (a FIFO queue needs a FIFO DLQ):
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
"""
import json
import pathlib
import sys

from infra import render as render_module
from infra import stage as stage_module

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Lambda's SQS poller receives the message, which starts its visibility clock,
# before the function starts (polling, batching, cold start and init all come
# first), so the visibility timeout must cover that lead as well as the whole
# invocation, or a run near its timeout reappears and runs twice.
VISIBILITY_MARGIN_SECONDS = 30

# AWS recommends a visibility timeout of at least six times the function
# timeout for an SQS event source, so retries after throttling still fit:
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
RECOMMENDED_VISIBILITY_FACTOR = 6

# What SQS uses when a queue sets no VisibilityTimeout.
SQS_DEFAULT_VISIBILITY_SECONDS = 30

WORKER = "worker"


class _Unresolved(Exception):
    """A template value could not be resolved to a literal; the message says which."""


def problems(settings, template, batch_size):
    """Check one stage; return ``(errors, warnings)``, each a list of one-line messages.

    Pure: reads only its arguments.

    Args:
        settings (dict): ``infra.stage.load(stage)``; uses ``stage``, ``queue_name`` and
            ``functions["worker"]`` (``timeout`` in seconds, ``reserved_concurrency``,
            ``environment`` with optional ``LONG_API_TIMEOUT_SECONDS`` and
            ``HEARTBEAT_SECONDS``, in seconds).
        template (dict): the rendered merge template; the gate queue's
            ``VisibilityTimeout`` (seconds) and ``RedrivePolicy`` may be literals or
            ``Ref``s to parameters with a ``Default``.
        batch_size (int | None): the worker's SQS event source batch size from the app
            (``None``: no SQS event source named ``worker``); a ``BatchSize`` the template
            sets on the ``Worker``'s events wins, as it would when merged.

    Returns:
        tuple[list[str], list[str]]: errors (unsafe: fail) and warnings (advice).
    """
    errors, warnings = [], []
    stage = settings.get("stage", "?")
    worker = settings["functions"][WORKER]
    timeout = worker["timeout"]
    env = worker.get("environment") or {}
    resources = template.get("Resources") or {}

    queue_id = _queue_id(settings, resources)
    if queue_id is None:
        errors.append(
            "no AWS::SQS::Queue named %r (or with logical id 'Queue') in the template: nothing "
            "to check; render it with `python -m infra.render %s merge OUT.json` and look at "
            "infra/template.json" % (settings.get("queue_name"), stage))
        return errors, warnings
    queue = resources[queue_id].get("Properties") or {}

    # 1. visibility timeout against the worker's timeout
    visibility = None
    try:
        raw = queue.get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_SECONDS)
        visibility = _number(_resolve(raw, template), "VisibilityTimeout of %s" % queue_id)
    except _Unresolved as exc:
        errors.append("%s; give it a literal value or a Ref to a parameter with a Default "
                      "(infra/template.json, infra/stages.json)" % exc)
    needed = timeout + VISIBILITY_MARGIN_SECONDS
    if visibility is not None and visibility < needed:
        errors.append(
            "queue VisibilityTimeout is %s s, below the worker's Lambda timeout %s s + %s s margin "
            "= %s s: the poller's receive starts the clock before the function starts, so a run "
            "near its timeout can reappear and run twice; set visibility_timeout_seconds >= %s "
            "for %s in infra/stages.json (or lower the worker's lambda_timeout in "
            ".chalice/config.json)" % (_fmt(visibility), _fmt(timeout), VISIBILITY_MARGIN_SECONDS,
                                       _fmt(needed), _fmt(needed), stage))
    if visibility is not None and visibility < RECOMMENDED_VISIBILITY_FACTOR * timeout:
        recommended = RECOMMENDED_VISIBILITY_FACTOR * timeout
        warnings.append(
            "warning: queue VisibilityTimeout %s s is below %d x the worker timeout (%s s), AWS's "
            "recommendation for SQS event sources; trade-off: a longer visibility tolerates "
            "throttled receives, a shorter one frees the gate sooner after a crash (the worker's "
            "heartbeat keeps a live run invisible either way); to follow AWS, set "
            "visibility_timeout_seconds >= %s for %s in infra/stages.json"
            % (_fmt(visibility), RECOMMENDED_VISIBILITY_FACTOR, _fmt(timeout), _fmt(recommended),
               stage))

    # 2./3. dead-letter queue and maxReceiveCount
    _check_redrive(queue_id, queue, template, stage, errors)

    # 4. batch size (a BatchSize in the merge template overrides Chalice's when merged)
    batch_size = _effective_batch_size(template, batch_size)
    if batch_size is None:
        errors.append("the app has no SQS event source named %r: the gate queue has no consumer; "
                      "keep @app.on_sqs_message(..., batch_size=1, name=%r) in app.py"
                      % (WORKER, WORKER))
    elif batch_size != 1:
        errors.append(
            "worker SQS batch size is %s, not 1: one failed run would return the whole batch and "
            "runs would queue inside one invocation past the visibility timeout; set batch_size=1 "
            "in app.py's @app.on_sqs_message" % batch_size)

    # 5. reserved concurrency
    if worker.get("reserved_concurrency") is not None:
        errors.append(
            "worker reserved_concurrency is %s: throttled receives count toward maxReceiveCount "
            "and can send good messages to the dead-letter queue; remove reserved_concurrency "
            "(worker, stage or top level of .chalice/config.json) - the FIFO message group "
            "already runs one message at a time" % worker["reserved_concurrency"])

    # 6. the long call's deadline against the worker's timeout
    long_api = _env_seconds(env, "LONG_API_TIMEOUT_SECONDS", errors, stage)
    if long_api is not None and long_api >= timeout:
        errors.append(
            "LONG_API_TIMEOUT_SECONDS is %s s, not below the worker's Lambda timeout %s s: Lambda "
            "would kill the run before the call's own deadline; set it below %s s (or unset it, "
            "the worker then derives it from the remaining time) in .chalice/config.json, stage "
            "%s, worker environment_variables" % (_fmt(long_api), _fmt(timeout), _fmt(timeout),
                                                  stage))

    # 7. heartbeat against the visibility timeout
    heartbeat = _env_seconds(env, "HEARTBEAT_SECONDS", errors, stage)
    if heartbeat is not None and visibility is not None and heartbeat >= visibility:
        errors.append(
            "HEARTBEAT_SECONDS is %s s, not below the queue's VisibilityTimeout %s s: the message "
            "would reappear mid-run before the next beat; set it below %s s (or unset it: a third "
            "of the visibility timeout) in .chalice/config.json, stage %s"
            % (_fmt(heartbeat), _fmt(visibility), _fmt(visibility), stage))
    elif heartbeat is not None and visibility is not None and heartbeat > visibility / 2:
        warnings.append(
            "HEARTBEAT_SECONDS is %s s, more than half the VisibilityTimeout %s s: one slow or "
            "retried ChangeMessageVisibility call could let the message reappear mid-run"
            % (_fmt(heartbeat), _fmt(visibility)))

    # 8. every function's environment as the app itself will read it, and one gate for all
    _check_environments(settings, errors, warnings)

    return errors, warnings


def _check_environments(settings, errors, warnings):
    """Validate each function's environment with the app's own ``Settings`` (the values a
    deploy would only reject at the first invocation), and check that every producer uses
    the same message group and overlap policy: two groups are two gates."""
    from chalicelib.config import Settings
    from chalicelib.errors import ConfigError

    stage = settings.get("stage", "?")
    seen = {}
    for name, function in sorted(settings["functions"].items()):
        try:
            parsed = Settings.from_env(function.get("environment") or {}, app_name=settings.get("app_name", "fifo-gate"))
            if name == WORKER:
                parsed.require_long_api_url()
        except ConfigError as exc:
            errors.append("function %s of stage %s would stop at its first invocation: %s; fix "
                          ".chalice/config.json" % (name, stage, exc))
            continue
        seen[name] = parsed
    for field, label in (("message_group_id", "MESSAGE_GROUP_ID"), ("overlap_policy", "OVERLAP_POLICY"),
                         ("queue_name", "QUEUE_NAME")):
        values = {name: getattr(parsed, field) for name, parsed in seen.items()}
        if len(set(values.values())) > 1:
            errors.append("%s differs between functions of stage %s (%s): every trigger must use one "
                          "queue, message group and policy, or there is more than one gate; set it once, "
                          "at stage level, in .chalice/config.json"
                          % (label, stage, ", ".join("%s=%s" % item for item in sorted(values.items()))))
    if any(parsed.overlap_policy == "allow_all" for parsed in seen.values()):
        warnings.append("OVERLAP_POLICY is allow_all in stage %s: runs may overlap (no gate), by design" % stage)


def summary(settings, template, batch_size):
    """The ``ok:`` line for a stage that passed (values in seconds where timed)."""
    stage = settings.get("stage", "?")
    worker = settings["functions"][WORKER]
    env = worker.get("environment") or {}
    resources = template.get("Resources") or {}
    queue = resources[_queue_id(settings, resources)].get("Properties") or {}
    batch_size = _effective_batch_size(template, batch_size)
    visibility = _number(_resolve(queue.get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_SECONDS),
                                  template), "VisibilityTimeout")
    redrive = _redrive(queue)
    max_receive = _number(_resolve(redrive["maxReceiveCount"], template), "maxReceiveCount")
    long_api = (env.get("LONG_API_TIMEOUT_SECONDS") or "").strip()
    heartbeat = (env.get("HEARTBEAT_SECONDS") or "").strip()
    return ("ok: stage %s is safe (visibility %s s, worker timeout %s s, maxReceiveCount %s, "
            "batch size %s, reserved concurrency none, long call deadline %s, heartbeat %s)"
            % (stage, _fmt(visibility), _fmt(worker["timeout"]), _fmt(max_receive), batch_size,
               "%s s" % long_api if long_api else "derived",
               "%s s" % heartbeat if heartbeat else "%s s (a third of visibility)"
               % _fmt(round(visibility / 3.0, 3))))


def worker_batch_size():
    """The ``batch_size`` of the app's SQS event source named ``worker``, or ``None``.

    Imports ``app`` (which touches neither AWS nor the environment's validity) and
    reads ``app.app.event_sources`` (chalice 1.34: ``SQSEventConfig.batch_size``).
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app  # noqa: E402 (deferred: the import builds the Chalice app)

    for source in app.app.event_sources:
        if source.name == WORKER and hasattr(source, "queue"):  # SQSEventConfig
            return source.batch_size
    return None


def main(argv):
    """``python -m infra.check STAGE``: 0 safe (warnings allowed), 1 unsafe, 2 bad usage/stage."""
    if len(argv) != 1:
        print("usage: python -m infra.check STAGE   (STAGE: %s)" % ", ".join(stage_module.STAGES),
              file=sys.stderr)
        return 2
    stage = argv[0]
    if stage not in stage_module.STAGES:
        print("error: unknown stage %r; use one of: %s" % (stage, ", ".join(stage_module.STAGES)),
              file=sys.stderr)
        return 2
    try:
        settings = stage_module.load(stage)
        template = render_module.render(stage, "merge")
    except stage_module.StageError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    batch_size = worker_batch_size()
    errors, warnings = problems(settings, template, batch_size)
    for line in warnings:
        print(line, file=sys.stderr)
    for line in errors:
        print("error: stage %s: %s" % (stage, line), file=sys.stderr)
    if errors:
        return 1
    print(summary(settings, template, batch_size))
    return 0


# -- helpers ---------------------------------------------------------------------------

def _queue_id(settings, resources):
    """Logical id of the gate queue: the SQS queue named ``settings["queue_name"]``, else ``Queue``."""
    wanted = settings.get("queue_name")
    template = {"Resources": resources}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::SQS::Queue":
            continue
        try:
            name = _resolve((resource.get("Properties") or {}).get("QueueName"), template)
        except _Unresolved:
            continue
        if wanted and name == wanted:
            return logical_id
    queue = resources.get("Queue")
    if queue and queue.get("Type") == "AWS::SQS::Queue":
        return "Queue"
    return None


def _effective_batch_size(template, batch_size):
    """``BatchSize`` the merge template gives the worker's SQS event, if any, else ``batch_size``."""
    resources = template.get("Resources") or {}
    worker = resources.get(render_module.FUNCTION_RESOURCES[WORKER]) or {}
    events = (worker.get("Properties") or {}).get("Events") or {}
    for event in events.values():
        size = (event.get("Properties") or {}).get("BatchSize")
        if size is not None:
            return size
    return batch_size


def _redrive(queue):
    """The queue's ``RedrivePolicy`` as a dict (CloudFormation also takes a JSON string), or None."""
    redrive = queue.get("RedrivePolicy")
    if isinstance(redrive, str):
        try:
            redrive = json.loads(redrive)
        except ValueError:
            return None
    return redrive if isinstance(redrive, dict) else None


def _check_redrive(queue_id, queue, template, stage, errors):
    """Append redrive problems (checks 2 and 3) to ``errors``; return maxReceiveCount or None."""
    resources = template.get("Resources") or {}
    redrive = _redrive(queue)
    if redrive is None:
        errors.append(
            "queue %s has no RedrivePolicy (no dead-letter queue): a message that always fails "
            "blocks its FIFO message group forever and the gate never reopens; add a RedrivePolicy "
            "with deadLetterTargetArn {\"Fn::GetAtt\": [<FIFO DLQ>, \"Arn\"]} and maxReceiveCount "
            "in infra/template.json" % queue_id)
        return None
    target = redrive.get("deadLetterTargetArn")
    target_id = _arn_target(target)
    if target is None:
        errors.append(
            "queue %s's RedrivePolicy has no deadLetterTargetArn (no dead-letter queue): a message "
            "that always fails blocks the gate forever; set it to {\"Fn::GetAtt\": [<FIFO DLQ>, "
            "\"Arn\"]} in infra/template.json" % queue_id)
    elif target_id is None or target_id not in resources:
        errors.append(
            "queue %s's deadLetterTargetArn %s does not point at a queue resource in the template, "
            "so the dead-letter queue cannot be checked; use {\"Fn::GetAtt\": [<FIFO DLQ>, "
            "\"Arn\"]} in infra/template.json" % (queue_id, _short(target)))
    else:
        dlq = resources[target_id]
        fifo = _resolve_or_none((dlq.get("Properties") or {}).get("FifoQueue"), template)
        if dlq.get("Type") != "AWS::SQS::Queue" or str(fifo).lower() != "true":
            errors.append(
                "queue %s's deadLetterTargetArn points at %s (%s, FifoQueue=%s), not a FIFO queue: "
                "SQS needs a FIFO dead-letter queue for a FIFO queue; make %s an AWS::SQS::Queue "
                "with FifoQueue: true in infra/template.json"
                % (queue_id, target_id, dlq.get("Type"), fifo, target_id))
        elif target_id == queue_id:
            errors.append("queue %s is its own dead-letter queue: failed messages would never "
                          "leave the gate; point deadLetterTargetArn at a separate FIFO queue "
                          "in infra/template.json" % queue_id)
    if "maxReceiveCount" not in redrive:
        errors.append("queue %s's RedrivePolicy has no maxReceiveCount; set max_receive_count >= 1 "
                      "for %s in infra/stages.json" % (queue_id, stage))
        return None
    try:
        max_receive = _number(_resolve(redrive["maxReceiveCount"], template), "maxReceiveCount")
    except _Unresolved as exc:
        errors.append("%s; set max_receive_count >= 1 for %s in infra/stages.json" % (exc, stage))
        return None
    if max_receive < 1:
        errors.append(
            "queue %s's maxReceiveCount is %s, below 1: redrive cannot work (SQS requires 1 to "
            "1000), so a failing message is never moved to the dead-letter queue; set "
            "max_receive_count >= 1 (5 is usual) for %s in infra/stages.json"
            % (queue_id, _fmt(max_receive), stage))
    return max_receive


def _arn_target(value):
    """Logical id an ARN expression refers to (``Fn::GetAtt [X, Arn]``, ``"X.Arn"``, ``Fn::Sub ${X.Arn}``)."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (key, arg), = value.items()
    if key == "Fn::GetAtt":
        parts = arg.split(".", 1) if isinstance(arg, str) else arg
        if isinstance(parts, list) and len(parts) == 2 and parts[1] == "Arn":
            return parts[0]
    if key == "Fn::Sub" and isinstance(arg, str) and arg.startswith("${") and arg.endswith(".Arn}"):
        return arg[2:-len(".Arn}")]
    return None


def _resolve(value, template):
    """Resolve ``{"Ref": Parameter}`` to that parameter's ``Default``; literals pass through."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            name = value["Ref"]
            parameter = (template.get("Parameters") or {}).get(name)
            if parameter is None:
                raise _Unresolved("Ref %r is not a template parameter" % name)
            if "Default" not in parameter:
                raise _Unresolved("parameter %r has no Default" % name)
            return parameter["Default"]
        raise _Unresolved("cannot resolve %s" % _short(value))
    return value


def _resolve_or_none(value, template):
    try:
        return _resolve(value, template)
    except _Unresolved:
        return None


def _number(value, what):
    if isinstance(value, bool):
        raise _Unresolved("%s is %r, not a number" % (what, value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Unresolved("%s is %r, not a number" % (what, value)) from None
    return int(number) if number.is_integer() else number


def _env_seconds(env, name, errors, stage):
    """A worker environment variable in seconds; None if unset; appends an error if not a number."""
    raw = env.get(name)
    if raw is None or not str(raw).strip():
        return None
    try:
        return _number(str(raw).strip(), name)
    except _Unresolved:
        errors.append("%s=%r is not a number of seconds; fix it in .chalice/config.json, stage %s"
                      % (name, raw, stage))
        return None


def _fmt(number):
    return "%g" % number


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
