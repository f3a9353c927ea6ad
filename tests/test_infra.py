"""Deploy artefacts, verified offline: chalice package + merged infra per stage, cfn-lint, IAM, CloudFormation in moto."""
import json
import os
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from infra import bytecode, deploy, policies, render, stage
from tests.conftest import ROOT

CHALICE = os.path.join(os.path.dirname(sys.executable), "chalice")
CFN_LINT = os.path.join(os.path.dirname(sys.executable), "cfn-lint")


def run(args, env=None, cwd=ROOT):
    full_env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1", **(env or {}))
    return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    """``chalice package --merge-template`` output (sam.json as a dict) for every stage."""
    out = {}
    for name in stage.STAGES:
        folder = tmp_path_factory.mktemp("package-" + name)
        merge = folder / "merge.json"
        merge.write_text(json.dumps(render.render(name, "merge")))
        result = run([CHALICE, "package", "--stage", name, "--merge-template", str(merge), str(folder / "out")])
        assert result.returncode == 0, result.stderr
        bytecode.add_bytecode(folder / "out")  # as `make package` does
        out[name] = (folder / "out", json.loads((folder / "out" / "sam.json").read_text()))
    return out


@pytest.mark.parametrize("name", stage.STAGES)
def test_packaged_template_has_no_cfn_lint_errors(packaged, name):
    folder, _ = packaged[name]
    result = run([CFN_LINT, "--format", "parseable", str(folder / "sam.json")])
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == [] and result.returncode & 2 == 0, result.stdout + result.stderr


def test_cfn_lint_does_catch_errors_in_a_packaged_template(packaged, tmp_path):
    # The lint above must be able to fail: break the redrive target and lint again.
    _, template = packaged["dev"]
    broken = json.loads(json.dumps(template))
    broken["Resources"]["Queue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] = {
        "Fn::GetAtt": ["NoSuchQueue", "Arn"]}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = run([CFN_LINT, "--format", "parseable", str(path)])
    assert result.returncode & 2, result.stdout
    assert "NoSuchQueue" in result.stdout


@pytest.mark.parametrize("name", stage.STAGES)
def test_packaged_stage_has_its_own_queue_and_settings(packaged, name):
    folder, template = packaged[name]
    resources = template["Resources"]
    settings = stage.load(name)
    assert template["Parameters"]["QueueName"]["Default"] == "fifo-gate-%s.fifo" % name
    assert template["Parameters"]["DeadLetterQueueName"]["Default"] == "fifo-gate-%s-dlq.fifo" % name
    worker = resources["Worker"]["Properties"]
    assert worker["Events"]["WorkerSqsEventSource"]["Properties"] == {
        "Queue": {"Fn::Sub": "${Queue.Arn}"}, "BatchSize": 1, "MaximumBatchingWindowInSeconds": 0}
    assert worker["Timeout"] == 300 and worker["MemorySize"] == 128 and worker["Architectures"] == ["arm64"]
    assert "ReservedConcurrentExecutions" not in worker
    for resource, function in render.FUNCTION_RESOURCES.items():
        properties = resources[function]["Properties"]
        assert properties["FunctionName"] == render.function_name(settings, resource)
        assert properties["Environment"]["Variables"]["QUEUE_URL"] == {"Ref": "Queue"}
        assert properties["Environment"]["Variables"]["SCHEDULE_ENABLED"] == ("true" if name == "dev" else "false")
    assert resources["StateMachine"]["Properties"]["StateMachineType"] == "STANDARD"
    assert resources["StateMachineSchedule"]["Type"] == "AWS::Events::Rule"
    assert (folder / "deployment.zip").stat().st_size < 200_000  # code only: no boto3 vendored


@pytest.mark.parametrize("name", ["stg", "prod"])
def test_chalice_deploy_path_gives_each_stage_its_own_worker_queue(tmp_path, name):
    # `make chalice-deploy` sets QUEUE_NAME from the stage before chalice imports app.py.
    queue_name = run([sys.executable, "-m", "infra.stage", name, "queue-name"]).stdout.strip()
    assert queue_name == "fifo-gate-%s.fifo" % name
    result = run([CHALICE, "package", "--stage", name, str(tmp_path / "out")], env={"QUEUE_NAME": queue_name})
    assert result.returncode == 0, result.stderr
    template = json.loads((tmp_path / "out" / "sam.json").read_text())
    source = template["Resources"]["Worker"]["Properties"]["Events"]["WorkerSqsEventSource"]["Properties"]
    assert source["Queue"]["Fn::Sub"].endswith(":" + queue_name)


def test_checked_in_policies_match_the_generator():
    for path, document in policies.expected_files().items():
        assert path.exists(), "%s is missing: run python -m infra.policies" % path.name
        assert json.loads(path.read_text()) == document, "%s is stale: run python -m infra.policies" % path.name


@pytest.mark.parametrize("name", stage.STAGES)
def test_policies_are_least_privilege(name):
    settings = stage.load(name)
    for function in stage.FUNCTIONS:
        document = policies.policy(settings, function)
        for statement in document["Statement"]:
            assert statement["Resource"] != "*"
            assert all("*" not in action for action in statement["Action"])
            if statement["Sid"].startswith("Sqs"):
                assert statement["Resource"].endswith(":" + (settings["queue_name"] if statement["Sid"] == "SqsGateQueue"
                                                             else settings["dlq_name"]))
    worker = {s["Sid"]: set(s["Action"]) for s in policies.policy(settings, "worker")["Statement"]}
    assert "sqs:SendMessage" not in worker["SqsGateQueue"]
    tick = {s["Sid"]: set(s["Action"]) for s in policies.policy(settings, "tick")["Statement"]}
    assert "SqsDeadLetterQueue" not in tick and "sqs:ReceiveMessage" not in tick["SqsGateQueue"]


@pytest.mark.parametrize("name", stage.STAGES)
def test_standalone_infra_deploys_through_cloudformation_in_moto(name):
    template = json.dumps(render.render(name, "standalone"))
    settings = stage.load(name)
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        outputs = deploy.deploy_stack(cloudformation, deploy.stack_name(name, "infra"), template_body=template)
        sqs = boto3.client("sqs", region_name="us-east-1")
        attributes = sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["All"])["Attributes"]
        assert outputs["QueueUrl"].endswith("/fifo-gate-%s.fifo" % name)
        assert attributes["FifoQueue"] == "true"
        assert attributes["ContentBasedDeduplication"] == "false"
        assert int(attributes["VisibilityTimeout"]) == settings["infra"]["visibility_timeout_seconds"]
        assert int(attributes["VisibilityTimeout"]) >= settings["functions"]["worker"]["timeout"] + 30
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"].endswith(":fifo-gate-%s-dlq.fifo" % name)
        assert int(redrive["maxReceiveCount"]) == settings["infra"]["max_receive_count"]
        dlq = sqs.get_queue_attributes(QueueUrl=outputs["DeadLetterQueueUrl"], AttributeNames=["FifoQueue"])
        assert dlq["Attributes"]["FifoQueue"] == "true"
        machine = boto3.client("stepfunctions", region_name="us-east-1").describe_state_machine(
            stateMachineArn=outputs["StateMachineArn"])
        assert machine["type"] == "STANDARD"
        definition = json.loads(machine["definition"])
        assert ":function:fifo-gate-%s-enqueue" % name in json.dumps(definition)
        rules = boto3.client("events", region_name="us-east-1").list_rules()["Rules"]
        assert [r["State"] for r in rules] == ["DISABLED"]
        # A second deploy of the same template is a no-op, and destroy removes the stack.
        assert deploy.deploy_stack(cloudformation, deploy.stack_name(name, "infra"), template_body=template) == outputs
        assert deploy.destroy(cloudformation, name) == [deploy.stack_name(name, "infra")]


class _NoManagedPolicies:
    """aws-sam-translator's policy loader, offline: the template names no managed policies."""

    def load(self):
        return {}


def test_packaged_app_deploys_through_cloudformation_in_moto_after_sam_expansion(packaged):
    # moto has no SAM transform, so expand it the way CloudFormation would, with
    # aws-sam-translator. moto's CloudFormation cannot create a REST API from a
    # swagger Body (it wants a Name, then methods), so the API Gateway resources,
    # which are Chalice's own, are left out; everything fifo-gate adds is kept.
    from samtranslator.translator.transform import transform

    folder, template = packaged["dev"]
    template = json.loads(json.dumps(template))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/fifo-gate-dev.zip"
    expanded = transform(template, {}, _NoManagedPolicies())
    assert expanded["Resources"]["Worker"]["Properties"]["Architectures"] == ["arm64"]
    for name in [k for k, v in expanded["Resources"].items()
                 if v["Type"].startswith("AWS::ApiGateway::") or k == "APIHandlerInvokePermission"]:
        del expanded["Resources"][name]
    expanded["Outputs"] = {k: v for k, v in expanded.get("Outputs", {}).items() if "RestAPI" not in json.dumps(v)}
    with mock_aws(config={"lambda": {"use_docker": False}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        s3.put_object(Bucket="artifacts", Key="fifo-gate-dev.zip", Body=(folder / "deployment.zip").read_bytes())
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        outputs = deploy.deploy_stack(cloudformation, "fifo-gate-dev", template_body=json.dumps(expanded))
        lambda_client = boto3.client("lambda", region_name="us-east-1")
        functions = {f["FunctionName"]: f for f in lambda_client.list_functions()["Functions"]}
        assert set(functions) == {"fifo-gate-dev", "fifo-gate-dev-tick", "fifo-gate-dev-enqueue", "fifo-gate-dev-worker"}
        worker = functions["fifo-gate-dev-worker"]
        assert worker["Timeout"] == 300 and worker["MemorySize"] == 128
        queue_url = boto3.client("sqs", region_name="us-east-1").get_queue_url(QueueName="fifo-gate-dev.fifo")["QueueUrl"]
        assert all(f["Environment"]["Variables"]["QUEUE_URL"] == queue_url for f in functions.values())
        (mapping,) = lambda_client.list_event_source_mappings()["EventSourceMappings"]
        assert mapping["EventSourceArn"].endswith(":fifo-gate-dev.fifo") and mapping["BatchSize"] == 1
        assert mapping["FunctionArn"].endswith(":function:fifo-gate-dev-worker")
        assert outputs["StateMachineArn"].endswith(":stateMachine:fifo-gate-dev")


def test_package_ships_bytecode_that_loads_without_its_source_timestamps(packaged, tmp_path):
    import importlib.util
    import zipfile

    folder, _ = packaged["dev"]
    with zipfile.ZipFile(folder / "deployment.zip") as archive:
        names = set(archive.namelist())
        sources = [n for n in names if n.endswith(".py")]
        assert sources and all(importlib.util.cache_from_source(n) in names for n in sources)
        header = archive.read(importlib.util.cache_from_source("app.py"))[:8]
        archive.extractall(tmp_path)
    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, source not checked (PEP 552)
    # The unpacked package imports from its bytecode: break the source and it still loads.
    (tmp_path / "chalicelib" / "gate.py").write_text("raise SystemExit('source was compiled')\n")
    result = run([sys.executable, "-B", "-c", "import sys; sys.path.insert(0, '.'); import app; print(app.app.app_name)"],
                 cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fifo-gate"


def test_bytecode_refuses_a_package_for_another_python(packaged, tmp_path):
    import shutil

    folder, template = packaged["dev"]
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    changed = json.loads(json.dumps(template))
    for resource in changed["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["Runtime"] = "python3.9"
    (other / "sam.json").write_text(json.dumps(changed))
    with pytest.raises(bytecode.BytecodeError, match="targets python3.9 but this is python3"):
        bytecode.add_bytecode(other)
