"""The REST API, served by uvicorn on 127.0.0.1 and called with httpx: the whole flow, every
error status in the seed's shape, keys and scoping, limits, idempotency and the URL guard."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.api_helpers import api_settings, create_key, serve, wait_done

ROOT = Path(__file__).resolve().parents[1]
COFFEE = (ROOT / "samples" / "coffee.jpg").read_bytes()

pytestmark = pytest.mark.timeout(180)


def optimize(client: httpx.Client, image: bytes = COFFEE, **fields: str) -> httpx.Response:
    data = {"platforms": "instagram,x", **fields}
    return client.post(
        "/api/v1/optimize/image", data=data, files={"image": ("coffee.jpg", image, "image/jpeg")}
    )


def assert_error(resp: httpx.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error_code"] == code
    assert body["message"] and body["error"]
    return body


@pytest.fixture
def api(tmp_path: Path):
    settings = api_settings(tmp_path)
    ana, ben = create_key(settings, "ana"), create_key(settings, "ben")
    with serve(settings) as served:
        yield served, ana.key, ben.key


def test_submit_status_results_files_and_zip(api) -> None:
    served, ana, _ = api
    with served.client(ana) as client:
        resp = optimize(client, description="Latte art in a white cup")
        assert resp.status_code == 202, resp.text
        accepted = resp.json()
        assert accepted["status"] == "accepted"
        assert accepted["processing_status"] == "started"
        assert accepted["estimated_completion"]
        sid = accepted["session_id"]
        status = wait_done(client, sid)
        assert status["status"] == "completed"
        assert status["progress"]["completed_platforms"] == status["progress"]["total_platforms"]
        assert status["progress"]["percentage"] == 100.0

        results = client.get(f"/api/v1/optimize/results/{sid}").json()
        assert set(results["results"]["platforms"]) == {"instagram", "x"}
        files = results["files"]
        assert set(files["optimized_images"]) == {"instagram", "x"}
        assert set(files["compiled_captions"]) == {"instagram", "x"}
        for platform, url in files["optimized_images"].items():
            got = client.get(url)
            assert got.status_code == 200
            size = Image.open(io.BytesIO(got.content)).size
            image = results["results"]["platforms"][platform]["image"]
            assert size == (image["width"], image["height"])
        doc = client.get(files["json_results"]).json()
        assert doc["session_id"] == sid
        caption = client.get(files["compiled_captions"]["x"]).text
        assert results["results"]["platforms"]["x"]["caption"][:40] in caption
        bundle = zipfile.ZipFile(io.BytesIO(client.get(files["zip"]).content))
        assert "results.json" in bundle.namelist()
        assert not any(n.startswith("source.") for n in bundle.namelist())

        listed = client.get("/api/v1/sessions").json()
        assert [s["session_id"] for s in listed["sessions"]] == [sid]
        assert client.delete(f"/api/v1/sessions/{sid}").status_code == 204
        assert_error(client.get(f"/api/v1/optimize/status/{sid}"), 404, "SESSION_NOT_FOUND")
        assert_error(client.get(files["json_results"]), 404, "SESSION_NOT_FOUND")


def test_keys_are_required_and_sessions_are_scoped(api) -> None:
    served, ana, ben = api
    with served.client() as anonymous:
        assert_error(anonymous.get("/api/v1/sessions"), 401, "UNAUTHORIZED")
    with served.client("sk_not-a-real-key") as forged:
        assert_error(forged.get("/api/v1/sessions"), 401, "UNAUTHORIZED")
    with served.client(ana) as client:
        sid = optimize(client).json()["session_id"]
        wait_done(client, sid)
        name = Path(client.get(f"/api/v1/optimize/results/{sid}").json()["files"]["json_results"])
    with served.client(ben) as other:  # Ben sees nothing of Ana's, not even that it exists
        assert_error(other.get(f"/api/v1/optimize/status/{sid}"), 404, "SESSION_NOT_FOUND")
        assert_error(other.get(f"/api/v1/optimize/results/{sid}"), 404, "SESSION_NOT_FOUND")
        assert_error(other.get(f"/api/v1/files/{sid}/{name.name}"), 404, "SESSION_NOT_FOUND")
        assert_error(other.get(f"/api/v1/files/{sid}/zip"), 404, "SESSION_NOT_FOUND")
        assert_error(other.delete(f"/api/v1/sessions/{sid}"), 404, "SESSION_NOT_FOUND")
        assert other.get("/api/v1/sessions").json()["sessions"] == []
    with served.client(ana) as client:  # only the session's outputs are served
        for name in ("socialopt.sqlite3", "source.jpg", "..%2F..%2Fsocialopt.sqlite3"):
            resp = client.get(f"/api/v1/files/{sid}/{name}")
            assert resp.status_code == 404
            assert resp.json()["error_code"] in ("FILE_NOT_FOUND", "NOT_FOUND")


def test_bad_requests_get_their_own_codes(api) -> None:
    served, ana, _ = api
    with served.client(ana) as client:
        assert_error(optimize(client, image=b"not an image at all"), 415, "INVALID_IMAGE_FORMAT")
        assert_error(optimize(client, platforms="instagram,myspace"), 400, "UNKNOWN_PLATFORM")
        assert_error(optimize(client, options="{not json"), 400, "INVALID_OPTIONS")
        assert_error(optimize(client, options='{"colour": "red"}'), 400, "UNKNOWN_OPTION")
        assert_error(
            optimize(client, options='{"timezone": "Mars/Base"}'), 400, "UNKNOWN_TIMEZONE"
        )
        missing = client.post("/api/v1/optimize/image", data={"description": "x"})
        assert_error(missing, 422, "INVALID_REQUEST")
        both_missing = client.post("/api/v1/optimize/image", data={"platforms": "x"})
        assert_error(both_missing, 400, "NO_IMAGE")
        small = io.BytesIO()
        Image.new("RGB", (40, 40), "red").save(small, "PNG")
        assert_error(optimize(client, image=small.getvalue()), 400, "IMAGE_TOO_SMALL")
        assert_error(client.get("/api/v1/optimize/status/nope"), 404, "SESSION_NOT_FOUND")
        assert_error(client.get("/api/v1/no-such-route"), 404, "NOT_FOUND")
        assert_error(client.get("/api/v1/sessions?limit=0"), 400, "INVALID_PAGE")


def test_a_body_over_the_upload_limit_is_refused_while_streaming(tmp_path: Path) -> None:
    settings = api_settings(tmp_path, max_upload_mb=1)
    key = create_key(settings, "ana").key
    big = bytes(9 * 1024 * 1024)
    with serve(settings) as served, served.client(key) as client:
        assert_error(optimize(client, image=big), 413, "UPLOAD_TOO_LARGE")

        def chunks():  # no Content-Length: the limit must hold while the body streams in
            boundary = b"--b\r\n"
            yield boundary + b'Content-Disposition: form-data; name="platforms"\r\n\r\nx\r\n'
            yield boundary + (
                b'Content-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
                b"Content-Type: image/jpeg\r\n\r\n"
            )
            for _ in range(9):
                yield bytes(1024 * 1024)
            yield b"\r\n--b--\r\n"

        resp = client.post(
            "/api/v1/optimize/image",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert_error(resp, 413, "UPLOAD_TOO_LARGE")


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    settings = api_settings(tmp_path, api_rate_optimize="2/minute")
    key = create_key(settings, "ana").key
    with serve(settings) as served, served.client(key) as client:
        assert optimize(client).status_code == 202
        assert optimize(client).status_code == 202
        third = optimize(client)
        body = assert_error(third, 429, "RATE_LIMITED")
        assert 1 <= int(third.headers["Retry-After"]) <= 60
        assert body["retry_after"] == int(third.headers["Retry-After"])
        assert client.get("/api/v1/sessions").status_code == 200  # other calls still pass


def test_idempotency_key_returns_the_first_session_or_409(api) -> None:
    served, ana, ben = api
    with served.client(ana) as client:
        headers = {"Idempotency-Key": "order-42"}
        data = {"platforms": "x", "description": "one"}
        files = {"image": ("c.jpg", COFFEE, "image/jpeg")}
        first = client.post("/api/v1/optimize/image", data=data, files=files, headers=headers)
        again = client.post("/api/v1/optimize/image", data=data, files=files, headers=headers)
        assert first.status_code == again.status_code == 202
        assert again.json()["session_id"] == first.json()["session_id"]
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert len(client.get("/api/v1/sessions").json()["sessions"]) == 1
        changed = {"platforms": "x", "description": "two"}
        conflict = client.post(
            "/api/v1/optimize/image", data=changed, files=files, headers=headers
        )
        assert_error(conflict, 409, "IDEMPOTENCY_CONFLICT")
    with served.client(ben) as other:  # keys are per user: Ben's "order-42" is his own
        mine = other.post("/api/v1/optimize/image", data=data, files=files, headers=headers)
        assert mine.status_code == 202
        assert mine.json()["session_id"] != first.json()["session_id"]


def test_results_before_the_job_ends_is_409(tmp_path: Path) -> None:
    settings = api_settings(tmp_path, max_concurrent_jobs=1)
    ana, ben = create_key(settings, "ana").key, create_key(settings, "ben").key
    big = io.BytesIO()
    Image.open(io.BytesIO(COFFEE)).resize((4000, 3000)).save(big, "JPEG")
    with serve(settings) as served, served.client(ana) as a, served.client(ben) as b:
        slow = optimize(a, image=big.getvalue(), platforms="all")
        assert slow.status_code == 202
        queued = optimize(b).json()["session_id"]  # waits: one job at a time on this server
        assert_error(b.get(f"/api/v1/optimize/results/{queued}"), 409, "SESSION_NOT_READY")
        assert_error(b.delete(f"/api/v1/sessions/{queued}"), 409, "SESSION_NOT_READY")
        assert wait_done(b, queued)["status"] == "completed"


def test_url_input_and_webhooks_go_through_the_url_guard(api) -> None:
    served, ana, _ = api
    with served.client(ana) as client:
        resp = client.post(
            "/api/v1/optimize/image",
            data={"platforms": "x", "image_url": served.base_url + "/api/v1/health"},
        )
        assert_error(resp, 400, "URL_NOT_ALLOWED")
        resp = optimize(client, webhook_url="http://169.254.169.254/latest/meta-data/")
        assert_error(resp, 400, "URL_NOT_ALLOWED")
        resp = optimize(client, webhook_url="http://127.0.0.1:1\\@example.com/hook")
        assert_error(resp, 400, "URL_NOT_ALLOWED")


def test_captions_for_a_session_and_for_text(api) -> None:
    served, ana, _ = api
    with served.client(ana) as client:
        sid = optimize(client, description="Latte art").json()["session_id"]
        wait_done(client, sid)
        first = client.get(f"/api/v1/optimize/results/{sid}").json()["results"]["platforms"]
        again = client.post("/api/v1/captions", json={"session_id": sid, "variant": 1})
        assert again.status_code == 200, again.text
        body = again.json()
        assert set(body["platforms"]) == {"instagram", "x"}
        assert body["platforms"]["instagram"]["caption"] != first["instagram"]["caption"]
        text = client.post(
            "/api/v1/captions", json={"text": "Sourdough loaf", "platforms": ["linkedin"]}
        ).json()
        assert list(text["platforms"]) == ["linkedin"]
        assert "sourdough" in text["platforms"]["linkedin"]["caption"].lower()
        assert_error(client.post("/api/v1/captions", json={}), 400, "NO_INPUT")
        assert_error(
            client.post("/api/v1/captions", json={"session_id": "nope"}), 404, "SESSION_NOT_FOUND"
        )


def test_health_reports_every_service(api) -> None:
    served, _, _ = api
    with served.client() as client:  # no key needed: load balancers call it
        resp = client.get("/api/v1/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] in ("healthy", "degraded")
    services = body["services"]
    assert services["database"]["status"] == "healthy"
    assert services["queue"] == {
        "status": "healthy",
        "backend": "local",
        "running": 0,
        "waiting": 0,
    }
    assert services["ai_providers"]["status"] == "offline"
    assert set(body["system"]) == {"memory", "cpu", "disk"}
    json.dumps(body)
