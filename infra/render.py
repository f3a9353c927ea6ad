"""Render the stage's CloudFormation template from ``infra/template.json``.

Two forms, from one source:

* ``merge``: the file given to ``chalice package --merge-template``. It also
  points the worker's SQS event at the queue this template creates (as
  ``{"Fn::Sub": "${Queue.Arn}"}``: a ``Fn::GetAtt`` there would be deep-merged
  next to Chalice's own ``Fn::Sub`` into an invalid object), gives every
  function ``QUEUE_URL`` (saving a GetQueueUrl call per container) and the
  name ``chalice deploy`` would give it, so the state machine's ARN and the
  log-group policies hold in both deploy paths.
* ``standalone``: the queues and the state machine alone, for ``make infra``
  before ``chalice deploy``.

In both, the parameters default to the stage's settings and the state
machine's definition (``infra/statemachine.asl.json``) is inlined as a
``DefinitionString`` (moto, and CloudFormation without transforms, read that
form; ``${EnqueueFunctionArn}`` is filled in by ``Fn::Sub``).

Command line: ``python -m infra.render STAGE merge|standalone OUT.json``.
"""
import copy
import json
import pathlib
import sys

from infra import stage as stage_module

INFRA = pathlib.Path(__file__).resolve().parent
TEMPLATE = INFRA / "template.json"
DEFINITION = INFRA / "statemachine.asl.json"
FUNCTION_RESOURCES = {"tick": "Tick", "enqueue": "Enqueue", "worker": "Worker", "api_handler": "APIHandler"}


def function_name(settings, function):
    """The Lambda function name ``chalice deploy`` gives ``function`` (``fifo-gate-dev-worker``, API: ``fifo-gate-dev``)."""
    base = "%s-%s" % (settings["app_name"], settings["stage"])
    return base if function == "api_handler" else "%s-%s" % (base, function)


def render(stage, form, template=None, definition=None):
    """Return the rendered template (dict).

    Args:
        stage (str): ``dev``, ``stg`` or ``prod``.
        form (str): ``merge`` or ``standalone``.
        template (dict | None): the source template (read from disk if None).
        definition (str | None): the ASL text (read from disk if None).

    Raises:
        ValueError: unknown form.
        infra.stage.StageError: unknown stage.
    """
    if form not in ("merge", "standalone"):
        raise ValueError("unknown form %r; use merge or standalone" % form)
    settings = stage_module.load(stage)
    rendered = copy.deepcopy(template if template is not None else json.loads(TEMPLATE.read_text()))
    infra = settings["infra"]
    defaults = {
        "Stage": stage,
        "QueueName": settings["queue_name"],
        "DeadLetterQueueName": settings["dlq_name"],
        "VisibilityTimeout": infra["visibility_timeout_seconds"],
        "MaxReceiveCount": infra["max_receive_count"],
        "MessageRetentionPeriod": infra["message_retention_seconds"],
        "StateMachineScheduleState": "ENABLED" if infra["state_machine_schedule_enabled"] else "DISABLED",
    }
    for name, value in defaults.items():
        rendered["Parameters"][name]["Default"] = value
    asl = definition if definition is not None else DEFINITION.read_text()
    json.loads(asl)  # fail early on a broken definition file
    rendered["Resources"]["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"][0] = asl
    if form == "merge":
        resources = rendered["Resources"]
        for function, resource in FUNCTION_RESOURCES.items():
            resources[resource] = {"Properties": {
                "FunctionName": function_name(settings, function),
                "Environment": {"Variables": {"QUEUE_URL": {"Ref": "Queue"}}},
            }}
        resources["Worker"]["Properties"]["Events"] = {
            "WorkerSqsEventSource": {"Properties": {"Queue": {"Fn::Sub": "${Queue.Arn}"}}}
        }
    return rendered


def main(argv):
    """Write the rendered template; exit 2 with a message on bad arguments."""
    if len(argv) != 3:
        print("usage: python -m infra.render STAGE merge|standalone OUT.json", file=sys.stderr)
        return 2
    try:
        rendered = render(argv[0], argv[1])
    except (ValueError, stage_module.StageError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    out = pathlib.Path(argv[2])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rendered, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
