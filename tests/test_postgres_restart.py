"""PostgreSQL stops and starts again while the API runs: calls answer 503 with a coded error
meanwhile, and the same API process carries on afterwards, with no restart of ours."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from socialopt.settings import Secret
from tests.api_helpers import api_settings, create_key, serve, wait_done
from tests.test_api import optimize

pytestmark = pytest.mark.timeout(180)


def _pg(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
    )


def _answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/etc/postgresql"), reason="no local PostgreSQL cluster")
def test_api_answers_503_while_postgres_is_down_and_recovers(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = api_settings(tmp_path, database_url=Secret(postgres_url))
    key = create_key(settings, "shop").key
    with serve(settings) as served, served.client(key) as client:
        sid = optimize(client).json()["session_id"]
        assert wait_done(client, sid)["status"] == "completed"
        _pg("stop")
        try:
            down = client.get("/api/v1/sessions")
            assert down.status_code == 503, down.text
            assert down.json()["error_code"] in ("DATABASE_UNAVAILABLE", "SERVICE_UNAVAILABLE")
            assert client.get("/api/v1/health").status_code == 503
        finally:
            _pg("start")
            deadline = time.monotonic() + 30
            while not _answers():
                assert time.monotonic() < deadline, "PostgreSQL did not come back"
                time.sleep(0.2)
        deadline = time.monotonic() + 30
        while (resp := client.get("/api/v1/sessions")).status_code != 200:
            assert time.monotonic() < deadline, resp.text
            time.sleep(0.5)
        assert [s["session_id"] for s in resp.json()["sessions"]] == [sid]
        again = optimize(client).json()["session_id"]
        assert wait_done(client, again)["status"] == "completed"
