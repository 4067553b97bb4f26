"""CLI records: a finished run (user 0) from a results.json-shaped dict, and the history."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from storage.cli_records import CLI_USER_ID, list_history, record_cli_run


def _run(out_dir: Path, sid: str, ts: str, statuses: dict[str, str]) -> dict:
    out_dir.mkdir(parents=True)
    platforms = {}
    for name, status in statuses.items():
        image = out_dir / f"{name}_1080x1080.jpg"
        image.write_bytes(b"\xff" * 500)
        (out_dir / f"{name}_caption.txt").write_text("caption")
        platforms[name] = {
            "status": status,
            "processed_image": str(image),
            "niches": [{"key": "coffee", "name": "Coffee", "score": 0.9}],
            "hashtags": ["#Coffee", "#LatteArt"],
            "caption": f"Latte on {name}",
            "profile_results": [{"handle": "@cafe", "source": "saved"}],
            "processing_time": 0.42,
            "product_photography_used": name == "instagram",
            "provider": "offline",
        }
    result = {
        "session_id": sid,
        "timestamp": ts,
        "source_image": "samples/coffee.jpg",
        "platforms": platforms,
    }
    (out_dir / "results.json").write_text(json.dumps(result))
    (out_dir / "product_floating_instagram_1080x1080.png").write_bytes(b"\x89" * 300)
    return result


def test_record_and_list_history(
    tmp_path: Path, db_target: Path | str, run_sql: Callable[..., list]
) -> None:
    db = db_target
    assert list_history(db) == []
    if isinstance(db, Path):
        assert not db.exists()  # listing does not create a database

    first = _run(
        tmp_path / "run1",
        "run-1",
        "2026-11-20T09:00:00+00:00",
        {"instagram": "completed", "x": "completed"},
    )
    record = record_cli_run(db, first, tmp_path / "run1")
    assert record.id == "run-1" and record.user_id == CLI_USER_ID
    assert record.status == "completed"
    assert record.platforms == ("instagram", "x")
    assert record.source_path == "samples/coffee.jpg"
    assert record.started_at.startswith("2026-11-20T09:00:00")
    assert record.results == first

    failed = _run(tmp_path / "run2", "run-2", "2026-11-21T09:00:00+00:00", {"x": "failed"})
    assert record_cli_run(db, failed, tmp_path / "run2").status == "failed"

    history = list_history(db)
    assert [(h.id, h.status) for h in history] == [("run-2", "failed"), ("run-1", "completed")]

    # Recording the same run again replaces it.
    record_cli_run(db, first, tmp_path / "run1")
    assert len(list_history(db)) == 2

    rows = run_sql(
        db,
        "SELECT platform, hashtags, product_photography_used, processing_seconds "
        "FROM platform_results WHERE session_id = 'run-1' ORDER BY platform",
    )
    assert rows == [
        ("instagram", '["#Coffee","#LatteArt"]', 1, 0.42),
        ("x", '["#Coffee","#LatteArt"]', 0, 0.42),
    ]
    files = dict(
        run_sql(
            db,
            "SELECT type, COUNT(*) FROM generated_files WHERE session_id = 'run-1' GROUP BY type",
        )
    )
    assert files == {"caption": 2, "image": 2, "json": 1, "product_photo": 1}


def test_record_without_session_id(tmp_path: Path, db_target: Path | str) -> None:
    db = db_target
    result = _run(tmp_path / "out", "", "", {"tiktok": "completed"})
    record = record_cli_run(db, result, tmp_path / "out")
    assert len(record.id) == 32 and record.status == "completed"
    assert [h.id for h in list_history(db)] == [record.id]
