"""One stage's deploy settings, read from ``.chalice/config.json`` and ``infra/stages.json``.

Command line (used by the Makefile)::

    python -m infra.stage dev queue-name     # prints fifo-gate-dev.fifo
"""
import json
import pathlib
import sys

from chalice.config import Config as ChaliceConfig

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
STAGES_FILE = ROOT / "infra" / "stages.json"
STAGES = ("dev", "stg", "prod")
FUNCTIONS = ("tick", "enqueue", "worker", "api_handler")
DEFAULT_TIMEOUT = 60  # Chalice's default lambda_timeout, seconds
DEFAULT_MEMORY = 128  # Chalice's default lambda_memory_size, MB


class StageError(Exception):
    """The stage is unknown or its settings are incomplete; the message says which."""


def load(stage, chalice_config=None, stages_file=None):
    """Return the merged settings of ``stage``.

    Args:
        stage (str): ``dev``, ``stg`` or ``prod``.
        chalice_config (dict | None): parsed ``.chalice/config.json`` (read from disk if None).
        stages_file (dict | None): parsed ``infra/stages.json`` (read from disk if None).

    Returns:
        dict: ``{"stage", "app_name", "environment" (stage-level env vars),
        "functions": {name: {"timeout", "memory", "environment", "reserved_concurrency",
        "iam_policy_file"}}, "infra": {...stages.json entry}, "queue_name", "dlq_name"}``.

    Raises:
        StageError: unknown stage or missing queue names.
    """
    config = chalice_config if chalice_config is not None else json.loads(CHALICE_CONFIG.read_text())
    infra = stages_file if stages_file is not None else json.loads(STAGES_FILE.read_text())
    if stage not in config.get("stages", {}) or stage not in infra:
        raise StageError("unknown stage %r; use one of: %s" % (stage, ", ".join(STAGES)))
    stage_config = config["stages"][stage]
    environment = dict(config.get("environment_variables", {}))
    environment.update(stage_config.get("environment_variables", {}))
    functions = {}
    for name in FUNCTIONS:
        # Chalice's own lookup (stage function, stage, top-level function, top level),
        # so this reads exactly what `chalice package` / `chalice deploy` will use.
        scoped = ChaliceConfig(chalice_stage=stage, function_name=name, config_from_disk=config)
        functions[name] = {
            "timeout": scoped.lambda_timeout if scoped.lambda_timeout is not None else DEFAULT_TIMEOUT,
            "memory": scoped.lambda_memory_size if scoped.lambda_memory_size is not None else DEFAULT_MEMORY,
            "reserved_concurrency": scoped.reserved_concurrency,
            "iam_policy_file": scoped.iam_policy_file,
            "environment": dict(scoped.environment_variables),
        }
    for name in ("QUEUE_NAME", "DLQ_NAME"):
        if not environment.get(name):
            raise StageError("stage %r sets no %s in .chalice/config.json" % (stage, name))
    return {
        "stage": stage,
        "app_name": config["app_name"],
        "environment": environment,
        "functions": functions,
        "infra": infra[stage],
        "queue_name": environment["QUEUE_NAME"],
        "dlq_name": environment["DLQ_NAME"],
    }


def main(argv):
    """``python -m infra.stage STAGE queue-name|dlq-name``: print one setting."""
    if len(argv) != 2 or argv[1] not in ("queue-name", "dlq-name"):
        print("usage: python -m infra.stage STAGE queue-name|dlq-name", file=sys.stderr)
        return 2
    try:
        settings = load(argv[0])
    except StageError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    print(settings["queue_name"] if argv[1] == "queue-name" else settings["dlq_name"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
