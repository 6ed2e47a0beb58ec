"""The deploy/ files stay true to the code: valid YAML, every LISTINGFLOW_* name a real setting,
every command a real `listingflow` command, the KEDA triggers on exactly the job queues, and the
API and workers behind PgBouncer in transaction mode."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from listingflow.cli.main import app as cli
from listingflow.config import Settings
from listingflow.worker.broker import QUEUES

yaml = pytest.importorskip("yaml")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
COMMANDS = set(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]


def _documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _k8s(kind: str) -> list[dict[str, Any]]:
    return [
        doc
        for path in YAML_FILES
        if path.parent.name == "k8s"
        for doc in _documents(path)
        if doc.get("kind") == kind
    ]


def _assert_listingflow_command(argv: list[str]) -> None:
    assert Path(argv[0]).name == "listingflow", argv
    assert argv[1] in COMMANDS, f"{argv[1]!r} is not a listingflow command ({sorted(COMMANDS)})"


def test_there_are_deploy_files() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in YAML_FILES}
    assert "docker-compose.yml" in names
    assert {"k8s/api.yaml", "k8s/worker.yaml", "k8s/keda-redis.yaml"} <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_yaml_parses_and_manifests_are_well_formed(path: Path) -> None:
    documents = _documents(path)
    assert documents
    if path.parent.name == "k8s":
        for doc in documents:
            assert {"apiVersion", "kind"} <= set(doc), doc
            if doc["kind"] != "Kustomization":
                assert doc["metadata"]["name"], doc


def test_every_listingflow_setting_named_in_deploy_exists() -> None:
    fields = set(Settings.model_fields)
    names: set[str] = set()
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            names |= set(re.findall(r"\bLISTINGFLOW_([A-Z0-9_]+)", path.read_text()))
    names -= {"PORT"}  # the compose file's own variable for the published port
    assert names
    unknown = sorted(n for n in names if n.lower() not in fields)
    assert unknown == [], f"not settings: {unknown}"


def test_compose_runs_api_replicas_and_workers_behind_pgbouncer() -> None:
    compose = _documents(DEPLOY / "docker-compose.yml")[0]
    services = compose["services"]
    assert {"postgres", "redis", "pgbouncer", "api", "worker"} <= set(services)
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    assert services["api"]["deploy"]["replicas"] > 1
    for name in ("api", "worker"):
        env = services[name]["environment"]
        assert "@pgbouncer:" in env["LISTINGFLOW_DATABASE_URL"]
        assert env["LISTINGFLOW_REDIS_URL"].startswith("redis://redis:")
        assert env["LISTINGFLOW_BROKER_URL"].startswith("redis://redis:")
    for service in services.values():
        command = service.get("command")
        if command and command[0] == "listingflow":
            _assert_listingflow_command(command)


def test_kubernetes_containers_run_real_commands() -> None:
    containers = [
        container
        for kind in ("Deployment", "Job")
        for doc in _k8s(kind)
        for container in doc["spec"]["template"]["spec"]["containers"]
        if container["image"].startswith("listingflow")
    ]
    assert len(containers) >= 3
    for container in containers:
        _assert_listingflow_command(container["command"])


@pytest.mark.parametrize(
    ("trigger", "key", "prefix"),
    [("redis", "listName", "dramatiq:"), ("rabbitmq", "queueName", "")],
)
def test_keda_scales_workers_on_every_job_queue(trigger: str, key: str, prefix: str) -> None:
    scaled = [
        doc
        for doc in _k8s("ScaledObject")
        if any(t["type"] == trigger for t in doc["spec"]["triggers"])
    ]
    assert len(scaled) == 1
    spec = scaled[0]["spec"]
    assert spec["scaleTargetRef"]["name"] == "listingflow-worker"
    queues = sorted(t["metadata"][key].removeprefix(prefix) for t in spec["triggers"])
    assert queues == sorted(QUEUES)


def test_systemd_units_run_real_commands() -> None:
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert len(units) >= 3
    for unit in units:
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                command = line.removeprefix("ExecStart=")
                if command.startswith("/bin/sh -c "):
                    command = shlex.split(command)[2].removeprefix("exec ")
                _assert_listingflow_command(shlex.split(command))
