"""Deploy, and remove, a stage's CloudFormation stacks with boto3.

Commands (the Makefile's ``deploy``, ``infra`` and ``destroy`` call these)::

    python -m infra.deploy package-deploy STAGE BUCKET PACKAGE_DIR
        # the whole app: upload PACKAGE_DIR/deployment.zip and the template to
        # BUCKET, then create or update stack fifo-gate-STAGE (CloudFormation
        # expands the SAM transform Chalice emits)
    python -m infra.deploy infra STAGE TEMPLATE
        # queues + state machine only (stack fifo-gate-STAGE-infra), before `chalice deploy`
    python -m infra.deploy destroy STAGE
        # delete whichever of the two stacks exists, and wait

What ``aws cloudformation package`` + ``deploy`` do, in a few boto3 calls:
https://docs.aws.amazon.com/cli/latest/reference/cloudformation/package.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
"""
import hashlib
import json
import pathlib
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
RETRIES = Config(retries={"mode": "standard"})


def stack_name(stage, form):
    """``fifo-gate-<stage>`` for the whole app, ``fifo-gate-<stage>-infra`` for infra alone."""
    return "fifo-gate-%s" % stage if form == "app" else "fifo-gate-%s-infra" % stage


def upload_package(s3, bucket, package_dir, stage):
    """Upload ``deployment.zip`` and point every function's ``CodeUri`` at it.

    Args:
        s3: boto3 S3 client.
        bucket (str): an existing bucket.
        package_dir (str | Path): output of ``chalice package`` (``sam.json``, ``deployment.zip``).
        stage (str): used in the object keys.

    Returns:
        str: the template's S3 URL (https), for ``TemplateURL``.
    """
    package_dir = pathlib.Path(package_dir)
    archive = (package_dir / "deployment.zip").read_bytes()
    key = "fifo-gate/%s/%s.zip" % (stage, hashlib.sha256(archive).hexdigest()[:16])
    s3.put_object(Bucket=bucket, Key=key, Body=archive)
    template = json.loads((package_dir / "sam.json").read_text())
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://%s/%s" % (bucket, key)
    body = json.dumps(template)
    template_key = "fifo-gate/%s/template-%s.json" % (stage, hashlib.sha256(body.encode()).hexdigest()[:16])
    s3.put_object(Bucket=bucket, Key=template_key, Body=body.encode())
    return "https://%s.s3.amazonaws.com/%s" % (bucket, template_key)


def deploy_stack(cloudformation, name, template_body=None, template_url=None):
    """Create the stack, or update it if it exists, and wait until it is complete.

    Args:
        cloudformation: boto3 CloudFormation client.
        name (str): stack name.
        template_body (str | None) / template_url (str | None): one of them.

    Returns:
        dict: the stack's outputs, ``{OutputKey: OutputValue}``.

    Raises:
        botocore.exceptions.WaiterError: the stack did not reach a complete state
            (CloudFormation rolls a failed create or update back).
    """
    source = {"TemplateBody": template_body} if template_body is not None else {"TemplateURL": template_url}
    if _stack_exists(cloudformation, name):
        try:
            cloudformation.update_stack(StackName=name, Capabilities=CAPABILITIES, **source)
        except ClientError as exc:
            if "No updates are to be performed" in str(exc):
                print("%s: no changes" % name)
                return _outputs(cloudformation, name)
            raise
        waiter = "stack_update_complete"
    else:
        cloudformation.create_stack(StackName=name, Capabilities=CAPABILITIES, **source)
        waiter = "stack_create_complete"
    cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 360})
    return _outputs(cloudformation, name)


def destroy(cloudformation, stage):
    """Delete the stage's stacks that exist; return the names deleted (list of str)."""
    deleted = []
    for form in ("app", "infra"):
        name = stack_name(stage, form)
        if _stack_exists(cloudformation, name):
            cloudformation.delete_stack(StackName=name)
            cloudformation.get_waiter("stack_delete_complete").wait(
                StackName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 360})
            deleted.append(name)
    return deleted


def _stack_exists(cloudformation, name):
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    return bool(stacks) and stacks[0]["StackStatus"] not in ("REVIEW_IN_PROGRESS", "DELETE_COMPLETE")


def _outputs(cloudformation, name):
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main(argv):
    """Entry point; returns the exit status."""
    usage = ("usage: python -m infra.deploy package-deploy STAGE BUCKET PACKAGE_DIR | "
             "infra STAGE TEMPLATE | destroy STAGE")
    if not argv or argv[0] not in ("package-deploy", "infra", "destroy"):
        print(usage, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    if len(args) != {"package-deploy": 3, "infra": 2, "destroy": 1}[command]:
        print(usage, file=sys.stderr)
        return 2
    stage = args[0]
    if stage not in ("dev", "stg", "prod"):
        print("error: unknown stage %r; use dev, stg or prod" % stage, file=sys.stderr)
        return 2
    cloudformation = boto3.client("cloudformation", config=RETRIES)
    if command == "destroy":
        print("deleted: %s" % (", ".join(destroy(cloudformation, stage)) or "nothing (no stacks)"))
        return 0
    if command == "infra":
        outputs = deploy_stack(cloudformation, stack_name(stage, "infra"),
                               template_body=pathlib.Path(args[1]).read_text())
    else:
        url = upload_package(boto3.client("s3", config=RETRIES), args[1], args[2], stage)
        outputs = deploy_stack(cloudformation, stack_name(stage, "app"), template_url=url)
    for key, value in sorted(outputs.items()):
        print("%s=%s" % (key, value))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
