"""The OpenAPI spec checked property-based with schemathesis against the real app under uvicorn
(no 500 for any input the spec allows or almost allows), and /docs working offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.app import create_app
from socialopt.settings import Settings
from tests.api_helpers import Served, api_settings, create_key, serve, wait_done
from tests.test_api import optimize

pytestmark = pytest.mark.timeout(120)

EXAMPLES = 30  # per operation (10 operations): ~15 s on 2 cores


@dataclass
class Fuzzed:
    app: Served
    key: str
    session_id: str  # a completed session, so results, files and captions are reached too


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    tmp: Path = tmp_path_factory.mktemp("schema")
    config = api_settings(tmp, api_rate_optimize="10000/minute", api_rate_overall="100000/hour")
    key = create_key(config, "fuzz").key
    with serve(config) as app, app.client(key) as client:
        sid = optimize(client).json()["session_id"]
        assert wait_done(client, sid)["status"] == "completed"
        yield Fuzzed(app, key, sid)


# The spec comes from the app itself at collection time (create_app opens nothing until its
# lifespan starts); the calls go to the same app served by uvicorn. schemathesis' lazy
# `from_fixture` loader does not run on pytest 9 (it reads a private pytest attribute).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_the_spec_describes_gets_a_500(case, served: Fuzzed) -> None:
    """Each generated (valid or almost valid) request, then the same request about a real
    completed session (a random id only ever reaches the 404)."""

    def call() -> None:
        case.call_and_validate(
            base_url=served.app.base_url,
            headers={"Authorization": f"Bearer {served.key}"},
            checks=[not_a_server_error],
        )

    call()
    if case.method == "DELETE":  # keep the session for the other operations
        return
    if "session_id" in (case.path_parameters or {}):
        case.path_parameters["session_id"] = served.session_id
        call()
    elif isinstance(case.body, dict) and "session_id" in case.body:
        case.body["session_id"] = served.session_id
        call()


def test_the_spec_covers_every_route(served: Fuzzed) -> None:
    """The fuzzing above only reaches what the spec lists."""
    app = served.app
    with app.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/optimize/image",
        "/api/v1/optimize/status/{session_id}",
        "/api/v1/optimize/results/{session_id}",
        "/api/v1/files/{session_id}/{name}",
        "/api/v1/files/{session_id}/zip",
        "/api/v1/sessions",
        "/api/v1/sessions/{session_id}",
        "/api/v1/captions",
        "/api/v1/health",
        "/metrics",
    ):
        assert path in paths


ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']|url:\s*'([^']+)'""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_another_host(served: Fuzzed, page: str) -> None:
    app = served.app
    with app.client() as client:
        resp = client.get(page)
        assert resp.status_code == 200
        html = resp.text
        assert "http://" not in html and "https://" not in html and "//cdn" not in html
        assets = [a or b for a, b in ASSET.findall(html)]
        assert any(a.endswith(".js") for a in assets)  # the page does load its script
        for asset in assets:
            assert asset.startswith("/"), asset
            got = client.get(asset)
            assert got.status_code == 200, asset
            assert got.content


def test_the_bundled_swagger_ui_renders_openapi_3_1(served: Fuzzed) -> None:
    """FastAPI writes OpenAPI 3.1, which Swagger UI renders from version 5 on (4.x shows
    'Unable to render this definition')."""
    app = served.app
    with app.client() as client:
        version = client.get("/openapi.json").json()["openapi"]
        html = client.get("/docs").text
        script = next(a for a, _ in ASSET.findall(html) if a.endswith("swagger-ui-bundle.js"))
        bundle = client.get(script).text
    assert version.startswith("3.1")
    found = re.search(r'PACKAGE_VERSION:"(\d+)\.', bundle)
    assert found and int(found.group(1)) >= 5
