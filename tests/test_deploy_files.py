"""What can be checked here without a Docker engine: docker-compose.yml parses, and every
command in it, the Dockerfile and the Procfile is one our CLI accepts."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from socialopt.cli import _parser

ROOT = Path(__file__).resolve().parents[1]


def _accepted(argv: list[str]) -> None:
    assert argv[0].endswith("socialopt"), argv
    try:
        _parser().parse_args(argv[1:])
    except SystemExit as exc:  # argparse's way of refusing
        pytest.fail(f"the CLI refuses {argv}: exit {exc.code}")


def test_compose_file_parses_and_runs_our_commands() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"api", "worker", "bot", "postgres", "redis"} <= set(services)
    for name in ("migrate", "api", "worker", "bot"):
        _accepted(services[name]["command"])
        assert services[name]["environment"]["JOB_BACKEND"] == "celery"
    assert services["worker"]["deploy"]["replicas"] == 2


def test_dockerfile_command_is_ours() -> None:
    text = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", text, flags=re.M)
    assert cmd is not None
    _accepted(json.loads(cmd.group(1)))
    assert "socialopt setup-models" in text  # models come from their packages at build time


def test_procfile_runs_the_api_two_workers_and_the_bot() -> None:
    lines = [
        line.split(":", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    names = [name for name, _ in lines]
    assert names == ["api", "worker1", "worker2", "bot"]
    for _, command in lines:
        _accepted(shlex.split(command))
