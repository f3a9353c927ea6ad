"""Least-privilege IAM policies, one per stage and function, written to ``.chalice/``.

Each function gets exactly the SQS actions it calls, on the ARNs of its
stage's queues (any region and account: the files are static), plus writing
its own CloudWatch Logs. ``python -m infra.policies`` rewrites the checked-in
files; a test fails when they drift from what this module generates.

Actions per function (what the code calls):

* ``tick``, ``enqueue``: GetQueueAttributes (counts), SendMessage, GetQueueUrl
  (when only QUEUE_NAME is set).
* ``worker``: ChangeMessageVisibility (heartbeat, back-off), GetQueueAttributes
  (visibility timeout), GetQueueUrl, and the event source mapping's
  ReceiveMessage and DeleteMessage; SendMessage and GetQueueUrl on the
  dead-letter queue (parking poison messages).
* ``api_handler``: the producer's calls, and GetQueueAttributes and GetQueueUrl
  on the dead-letter queue (``GET /status``).

https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-permissions
"""
import json
import sys

from infra import stage as stage_module

PRODUCER = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
ACTIONS = {
    "tick": {"queue": PRODUCER},
    "enqueue": {"queue": PRODUCER},
    "worker": {
        "queue": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                  "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
        "dlq": ["sqs:GetQueueUrl", "sqs:SendMessage"],
    },
    "api_handler": {"queue": PRODUCER, "dlq": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]},
}


def policy(settings, function):
    """Return the IAM policy document (dict) of one function of one stage.

    Args:
        settings (dict): from ``infra.stage.load``.
        function (str): one of ``infra.stage.FUNCTIONS``.
    """
    names = {"queue": settings["queue_name"], "dlq": settings["dlq_name"]}
    statements = [{
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "arn:*:logs:*:*:log-group:/aws/lambda/%s-%s*" % (settings["app_name"], settings["stage"]),
    }]
    for target, actions in ACTIONS[function].items():
        statements.append({
            "Sid": "Sqs" + ("GateQueue" if target == "queue" else "DeadLetterQueue"),
            "Effect": "Allow",
            "Action": actions,
            "Resource": "arn:*:sqs:*:*:%s" % names[target],
        })
    return {"Version": "2012-10-17", "Statement": statements}


def expected_files():
    """Return ``{path: policy dict}`` for every stage and function, as checked in."""
    files = {}
    for stage in stage_module.STAGES:
        settings = stage_module.load(stage)
        for function in stage_module.FUNCTIONS:
            name = settings["functions"][function]["iam_policy_file"]
            files[stage_module.CHALICE_CONFIG.parent / name] = policy(settings, function)
    return files


def main():
    """Write every policy file; print what was written."""
    for path, document in expected_files().items():
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
