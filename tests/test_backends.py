"""What a Celery job message carries and how a finished session is read back: a job run on
another machine must reach the bot exactly as one run here."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.job import run_job
from pipeline.models import Account, JobOptions, LogoOptions
from pipeline.outputs import results_to_dict, write_outputs
from socialopt.celery_app import job_payload, options_from_payload
from socialopt.usecases.history import stored_result
from socialopt.usecases.sessions import Started
from socialopt.wiring import offline_services
from storage.records import SessionRecord

ROOT = Path(__file__).resolve().parents[1]
COFFEE = (ROOT / "samples" / "coffee.jpg").read_bytes()
LOGO = (ROOT / "samples" / "logo.png").read_bytes()


def test_a_job_message_is_json_without_images_and_rebuilds_the_options(tmp_path: Path) -> None:
    options = JobOptions(
        platforms=("instagram", "x"),
        description="Latte art",
        language="de",
        timezone="Europe/Berlin",
        product_styles=("floating",),
        logo=LogoOptions(image=LOGO, position="top-left", size_pct=12.0),
        saved_accounts=(Account(handle="@cafe", platform="instagram", niche="coffee"),),
        session_id="abc123abc123",
        fit="pad",
    )
    started = Started("abc123abc123", tmp_path, options, tmp_path / "source.jpg")
    payload = job_payload(7, started, source="source.jpg", logo="logo.png")
    wire = json.dumps(payload)
    assert len(wire) < 4000 and "PNG" not in wire  # references, never the bytes
    assert payload["source"] == "source.jpg" and payload["logo"] == "logo.png"
    back = options_from_payload(json.loads(wire)["options"], LOGO)
    assert back == options
    no_logo = options_from_payload(json.loads(wire)["options"], None)
    assert no_logo.logo is None


def test_a_stored_session_reads_back_as_the_result_its_job_returned(tmp_path: Path) -> None:
    options = JobOptions(platforms=("instagram", "pinterest"), description="Latte art")
    live = run_job(COFFEE, options, offline_services())
    write_outputs(live, tmp_path)
    doc = results_to_dict(live)
    session = SessionRecord(
        id=live.session_id,
        user_id=1,
        status="completed",
        source_path="",
        source_hash="",
        platforms=options.platforms,
        description=options.description,
        use_ai=False,
        options={},
        started_at="",
        completed_at="",
        error_code=None,
        error_message=None,
        results=json.loads(json.dumps(doc)),
    )
    back = stored_result(session, tmp_path)
    assert list(back.platforms) == list(live.platforms)
    assert back.contact_sheet == (tmp_path / "preview.jpg").read_bytes() != b""
    for key, result in live.platforms.items():
        again = back.platforms[key]
        assert again.status == result.status
        assert again.image is not None and result.image is not None
        assert again.image.data == result.image.data
        assert (again.image.width, again.image.height) == (result.image.width, result.image.height)
        assert again.content is not None and result.content is not None
        assert again.content.caption == result.content.caption
        assert again.content.hashtags == result.content.hashtags
        assert again.posting_times == result.posting_times
    assert back.analysis.width == live.analysis.width
    assert [n.key for n in back.niches] == [n.key for n in live.niches]
    assert back.usage.notices == live.usage.notices and back.warnings == live.warnings
