"""Command line: `socialopt optimize|compile|history|bot|api|api-key|worker|migrate|setup-models|
doctor`.

Exit codes: 0 success; 1 unexpected failure; 2 bad input or options; 3 some platforms failed
(their outputs are still written). Errors are one line: `error: <sentence> (<CODE>)`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.errors import SocialOptError
from pipeline.models import (
    CAPTION_VARIANTS,
    FITS,
    LOGO_POSITIONS,
    OUTPUT_FORMATS,
    PRODUCT_STYLES,
    TONES,
    ProgressEvent,
)
from pipeline.platforms import PLATFORMS, portrait_ratios
from socialopt.settings import Settings, SettingsError

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_PARTIAL = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="socialopt", description="One photo in, ready-to-post content for every platform."
    )
    parser.add_argument("--env-file", default=".env", help="settings file to read (default .env)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    opt = sub.add_parser("optimize", help="optimise one image for the chosen platforms")
    opt.add_argument(
        "image",
        nargs="+",
        help="local path or http(s) URL; several, or a folder of images, make one carousel "
        "per platform",
    )
    opt.add_argument(
        "--platforms",
        nargs="+",
        default=["all"],
        help="instagram facebook linkedin pinterest x tiktok threads bluesky mastodon, or all",
    )
    opt.add_argument(
        "--instagram-portrait",
        default="4:5",
        choices=tuple(portrait_ratios(PLATFORMS["instagram"])),
        help="Instagram's shape for portrait photos: 4:5 (1080x1350, default: what the "
        "publishing API and scheduling tools take) or 3:4 (1080x1440, the app's profile grid)",
    )
    opt.add_argument("--description", default="", help="what the photo shows, in your words")
    opt.add_argument("--use-ai", action="store_true", help="use the configured AI provider")
    opt.add_argument("--language", default=None, help="caption language: en es pt de fr ru")
    opt.add_argument("--timezone", default=None, help="IANA zone for posting times")
    opt.add_argument("--tone", default="", choices=("", *TONES), help="caption tone")
    opt.add_argument(
        "--variant",
        type=int,
        default=0,
        metavar="N",
        help=f"caption version to use, 0 to {CAPTION_VARIANTS - 1} (all are in results.json)",
    )
    opt.add_argument(
        "--output-format", default=None, type=str.upper, choices=[*OUTPUT_FORMATS, "JPG"]
    )
    opt.add_argument(
        "--output-dir", type=Path, default=None, help="default ./socialopt_output/<session_id>/"
    )
    opt.add_argument("--max-workers", type=int, default=None)
    opt.add_argument(
        "--fit",
        default="auto",
        type=str.lower,
        choices=FITS,
        help="crop to each platform's shape, pad (the whole photo over a blurred copy), or "
        "auto: pad only when a crop would cut the subject (default)",
    )
    opt.add_argument("--json", action="store_true", help="print results.json to stdout")
    opt.add_argument(
        "--product-photography",
        nargs="*",
        default=None,
        metavar="STYLE",
        help=f"product photos in these styles (all when none named): {', '.join(PRODUCT_STYLES)}",
    )
    opt.add_argument(
        "--product-anyway",
        action="store_true",
        help="make the product photos even when the photo does not look like a product shot",
    )
    opt.add_argument("--logo", type=Path, default=None, help="PNG/JPEG logo for every output")
    opt.add_argument(
        "--logo-position",
        default="auto",
        choices=LOGO_POSITIONS,
        help="auto: the emptiest corner, never over the subject",
    )
    opt.add_argument(
        "--logo-size",
        type=float,
        default=15.0,
        metavar="PERCENT",
        help="logo width in percent of the image width (1 to 50)",
    )
    opt.add_argument("--db", type=Path, default=None, help="record this run in a SQLite file")

    comp = sub.add_parser("compile", help="rebuild caption files from results.json")
    comp.add_argument("results", type=Path, help="results.json or its folder")
    comp.add_argument("--output-dir", type=Path, default=None)

    hist = sub.add_parser("history", help="list runs recorded with --db")
    hist.add_argument(
        "--db", type=Path, default=None, help="a SQLite file; default the configured database"
    )
    hist.add_argument("--limit", type=int, default=20)

    bot = sub.add_parser("bot", help="run the Telegram bot")
    bot.add_argument(
        "--webhook",
        default=None,
        metavar="URL",
        help="run a webhook at this public URL instead of long polling",
    )
    bot.add_argument("--listen", default="0.0.0.0", help="webhook listen address")
    bot.add_argument("--port", type=int, default=8443, help="webhook port")

    api = sub.add_parser("api", help="serve the REST API (FastAPI on uvicorn)")
    api.add_argument("--host", default=None, help="default API_HOST (127.0.0.1)")
    api.add_argument("--port", type=int, default=None, help="default API_PORT (8000)")
    web = sub.add_parser(
        "web", help="the playground and Mini App at http://127.0.0.1:8000/app/ (the API serves it)"
    )
    web.add_argument("--host", default=None, help="default API_HOST (127.0.0.1)")
    web.add_argument("--port", type=int, default=None, help="default API_PORT (8000)")
    work = sub.add_parser(
        "worker", help="run photo jobs from the Celery queue (JOB_BACKEND=celery)"
    )
    work.add_argument("--concurrency", type=int, default=1, help="jobs at once (processes)")
    work.add_argument("--name", default="", help="this worker's name in Celery")
    sub.add_parser(
        "migrate", help="bring the database (DATABASE_URL, else DATA_DIR's SQLite) up to date"
    )
    keys = sub.add_parser("api-key", help="create, list or revoke REST API keys")
    keys_sub = keys.add_subparsers(dest="key_command", required=True)
    create = keys_sub.add_parser("create", help="a new key (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--telegram-id", type=int, default=None, help="act as this Telegram user (shared history)"
    )
    keys_sub.add_parser("list", help="every key: name, prefix, user, revoked or not")
    revoke = keys_sub.add_parser("revoke", help="revoke keys by name or prefix")
    revoke.add_argument("name_or_prefix")

    models = sub.add_parser(
        "setup-models", help="install the u2netp and EfficientNet-Lite2 models (no torch)"
    )
    models.add_argument("--dir", type=Path, default=None, help="default MODELS_DIR")
    doctor = sub.add_parser("doctor", help="list the models that are present and what they enable")
    doctor.add_argument(
        "--ai",
        action="store_true",
        help="check the configured AI server in 3 calls: models, a JSON answer, an image",
    )
    return parser


class _Reporter:
    """A rich progress bar on a terminal, plain lines otherwise (both on stderr)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress: Any = None
        self.task: Any = None
        if not quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )

    def __enter__(self) -> _Reporter:
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task("Starting", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, event: ProgressEvent) -> None:
        if self.progress is not None:
            self.progress.update(
                self.task,
                description=event.message,
                completed=event.done,
                total=event.total or None,
            )
        elif not self.quiet:
            print(f"[{event.done}/{event.total}] {event.message}", file=sys.stderr, flush=True)


def _read_logo(args: argparse.Namespace) -> Any:
    if args.logo is None:
        return None
    from pipeline.models import LogoOptions
    from pipeline.rules import logo_size_pct

    try:
        data = args.logo.read_bytes()
    except OSError as exc:
        raise SocialOptError(
            f"Cannot read the logo {args.logo}: {exc.strerror}.", code="INVALID_LOGO"
        ) from None
    size_pct = logo_size_pct(args.logo_size)  # the one rule, also used by storage
    return LogoOptions(image=data, position=args.logo_position, size_pct=size_pct)


def _print_summary(doc: dict[str, Any], files: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"socialopt session {doc['session_id']}")
    for col in ("platform", "status", "size", "tags", "caption", "by"):
        table.add_column(col, no_wrap=True)
    for key, data in doc["platforms"].items():
        img = data.get("image") or {}
        size = f"{img.get('width')}x{img.get('height')}" if img else "-"
        status = (
            data["status"]
            if data["status"] == "completed"
            else (f"failed: {(data.get('error') or {}).get('code', '')}")
        )
        table.add_row(
            key,
            status,
            size,
            str(len(data["hashtag_list"])),
            f"{len(data['caption'])} chars",
            data.get("provider", ""),
        )
    console = Console()
    console.print(table)
    console.print(f"Outputs: {files.directory}")
    console.print(f"Preview: {files.preview}")
    console.print(f"Results: {files.results_json}")
    for warning in doc.get("warnings", []):
        console.print(f"note: {warning}")
    for notice in doc.get("usage", {}).get("notices", []):
        console.print(f"note: {notice}")


def cmd_optimize(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.intake import check_input, read_input
    from pipeline.job import run_job, validate_options
    from pipeline.models import JobOptions
    from pipeline.outputs import prepare_output_dir, results_to_dict, write_outputs
    from pipeline.platforms import size_choice
    from socialopt.wiring import build_services, job_defaults

    # Everything a person can get wrong is checked before any work (issue 12 #12).
    inputs = image_inputs(args.image)
    for item in inputs:
        check_input(item)
    args.image = inputs[0]
    prepare_output_dir(args.output_dir or Path("socialopt_output"))
    defaults = job_defaults(settings)
    styles: tuple[str, ...] = ()
    if args.product_photography is not None:
        styles = tuple(args.product_photography) or PRODUCT_STYLES
    options = JobOptions(
        platforms=tuple(args.platforms),
        description=args.description,
        use_ai=args.use_ai,
        language=args.language or defaults.language,
        timezone=args.timezone or defaults.timezone,
        output_format=(args.output_format or defaults.output_format),
        max_workers=args.max_workers or defaults.max_workers,
        tone=args.tone,
        variant=args.variant,
        product_styles=styles,
        product_force=args.product_anyway,
        logo=_read_logo(args),
        source_name=args.image,
        fit=args.fit,
        # platform overrides travel with the hashtag caps (pipeline.platforms.get_spec)
        hashtag_limits=size_choice("instagram", args.instagram_portrait),
    )
    validate_options(options)
    cache = None
    if args.use_ai and args.db is not None:
        from storage.cache import SqliteCache

        cache = SqliteCache(args.db)
    services = build_services(settings, cache=cache)
    if args.use_ai and not services.ai_enabled:
        print("note: no AI key is configured; using the offline analyser.", file=sys.stderr)
    if len(inputs) > 1:
        return _optimize_set(args, options, services, inputs)
    data, source_name = read_input(args.image, services.intake_limits)
    options = replace(options, source_name=source_name)
    with _Reporter(quiet=args.json) as reporter:
        result = run_job(data, options, services, progress=reporter)
    return _finish(args, result, result, write_outputs, results_to_dict)


def _finish(
    args: argparse.Namespace,
    result: Any,
    job: Any,
    write: Callable[[Any, Path], Any],
    to_doc: Callable[[Any], dict[str, Any]],
) -> int:
    """Write a run's files, record it (--db), print the summary or the JSON, and the exit
    code: EXIT_PARTIAL when a platform of `job` (the JobResult) failed."""
    out_dir = args.output_dir or Path("socialopt_output") / job.session_id
    files = write(result, out_dir)
    doc = to_doc(result)
    if args.db is not None:
        from storage.cli_records import record_cli_run

        record_cli_run(args.db, doc, out_dir)
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        _print_summary(doc, files)
        for key, data in doc["platforms"].items():
            if "slides" in data:
                print(f"{key}: {len(data['slides'])} slides at {data['aspect']}", file=sys.stderr)
    failed = [k for k, r in job.platforms.items() if r.status != "completed"]
    if failed:
        print(f"error: {len(failed)} platform(s) failed: {', '.join(failed)}", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
)


def image_inputs(values: str | list[str]) -> list[str]:
    """The images named on the command line: a folder stands for its image files (by suffix,
    sorted by name, not recursive); NOT_A_FILE for a folder with none."""
    out: list[str] = []
    for value in [values] if isinstance(values, str) else values:
        path = Path(value).expanduser()
        if "://" in value or not path.is_dir():
            out.append(value)
            continue
        found = sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not found:
            raise SocialOptError(
                f"{value} is a folder with no image files in it; give image files or a folder "
                "of them.",
                code="NOT_A_FILE",
            )
        out.extend(str(p) for p in found)
    return out


def _optimize_set(args: argparse.Namespace, options: Any, services: Any, inputs: list[str]) -> int:
    """Several images: one carousel per platform (pipeline.carousel)."""
    from pipeline.carousel import check_set, run_set, set_results_to_dict, write_set_outputs
    from pipeline.intake import read_input

    check_set(inputs)  # too many photos is said before anything is read
    images, names = [], []
    for item in inputs:
        data, name = read_input(item, services.intake_limits)
        images.append(data)
        names.append(name)
    with _Reporter(quiet=args.json) as reporter:
        result = run_set(images, options, services, progress=reporter, names=names)
    del images
    return _finish(args, result, result.job, write_set_outputs, set_results_to_dict)


def cmd_compile(args: argparse.Namespace) -> int:
    from pipeline.outputs import compile_captions

    written = compile_captions(args.results, args.output_dir)
    for key, path in written.items():
        print(f"{key}: {path}")
    return EXIT_OK


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from socialopt.wiring import database_target
    from storage.cli_records import list_history

    db = args.db or database_target(settings)
    if isinstance(db, Path) and not db.is_file():
        raise SocialOptError(
            f"No database at {db}; run optimize with --db first.", code="DB_NOT_FOUND"
        )
    rows = list_history(db)[: args.limit]
    if not rows:
        print("No runs recorded yet.")
    for row in rows:
        print(f"{row.id}  {row.started_at}  {','.join(row.platforms)}  {row.status}")
    return EXIT_OK


def cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    from bot.run import run_bot

    run_bot(settings, webhook_url=args.webhook, listen=args.listen, port=args.port)
    return EXIT_OK


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app
    from api.logs import configure_logging

    configure_logging(settings)  # JSON lines, session_id bound in jobs, secrets redacted
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through the JSON handler above
    )
    return EXIT_OK


def cmd_migrate(settings: Settings) -> int:
    """Bring the configured database up to date; say which versions this run applied."""
    from socialopt.wiring import migrate_database

    version, applied = migrate_database(settings)
    done = ", ".join(str(v) for v in applied) if applied else "none (already up to date)"
    print(f"schema version {version}; applied now: {done}")
    return EXIT_OK


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from socialopt.worker import run_worker

    run_worker(settings, concurrency=args.concurrency, name=args.name)
    return EXIT_OK


def cmd_api_key(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from socialopt.wiring import open_repository
    from storage.api import ApiStore

    async def run() -> int:
        async with await open_repository(settings) as repo:
            store = ApiStore(repo)
            if args.key_command == "create":
                new = await store.create_key(args.name, telegram_id=args.telegram_id)
                print(f"key:            {new.key}")
                print(f"webhook secret: {new.record.webhook_secret}")
                print(f"user id:        {new.record.user_id}")
                print("Keep both now: the key is stored only as a hash and is not shown again.")
            elif args.key_command == "list":
                for k in await store.list_keys():
                    state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
                    print(f"{k.prefix}…  {k.name:<20} user {k.user_id:<12} {state}")
            else:
                revoked = await store.revoke_key(args.name_or_prefix)
                if not revoked:
                    raise SocialOptError(
                        f"No active key named or starting with {args.name_or_prefix!r}.",
                        code="KEY_NOT_FOUND",
                    )
                print(f"revoked {revoked} key(s)")
        return EXIT_OK

    return asyncio.run(run())


def cmd_setup_models(args: argparse.Namespace, settings: Settings) -> int:
    from socialopt.models_setup import setup_models

    if args.dir:
        return setup_models(args.dir.expanduser().resolve())
    return setup_models(settings.models_dir, settings.rembg_home)


def cmd_doctor(settings: Settings, ai: bool = False) -> int:
    from socialopt.models_setup import doctor_lines

    if ai:
        return cmd_doctor_ai(settings)
    for line in doctor_lines(settings.models_dir, settings.rembg_home, settings.rembg_model):
        print(line)
    return EXIT_OK


def cmd_doctor_ai(settings: Settings) -> int:
    """Three calls to the configured server; what it can do and what socialopt uses it for."""
    import io

    from PIL import Image

    from socialopt.wiring import provider

    name = settings.resolved_ai_provider()
    if name == "offline":
        print("AI: off (no OPENAI_API_KEY / GEMINI_API_KEY, or AI_PROVIDER=offline)")
        return EXIT_OK
    ai = provider(name, settings)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (220, 30, 30)).save(buf, "JPEG")
    checks = {check: (ok, said) for check, ok, said in ai.probe(buf.getvalue())}
    print(f"AI: {ai.label}  (timeout {ai.config.timeout_s:g} s)")
    for check, (ok, said) in checks.items():
        print(f"  {check:<7} {'ok  ' if ok else 'FAIL'}  {said}")
    uses = []
    if checks["vision"][0]:
        uses.append("image analysis")
    if checks["json"][0]:
        uses += ["captions, hashtags and alt text", "account suggestions"]
    print("socialopt will use it for: " + (", ".join(uses) or "nothing (offline results)"))
    if not checks["vision"][0] and checks["json"][0]:
        print("  the photo itself is analysed offline (the model can't see images)")
    return EXIT_OK if checks["json"][0] else EXIT_FAILED


@contextlib.contextmanager
def _library_noise(verbose: bool) -> Iterator[None]:
    """Hold back what libraries print (Python warnings from Pillow or numpy; libtiff and
    other C code writing to stderr directly): the user sees our one coded line, and `-v`
    shows the rest after it. Only when stderr is the process's real stderr (fd 2)."""
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.WARNING if verbose else logging.ERROR)
    try:
        real_fd = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        real_fd = False
    if not real_fd:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    sink = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finally
    os.dup2(sink.fileno(), 2)  # C libraries write here now
    old = sys.stderr
    ours = open(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.stream is old
    ]
    sys.stderr = ours
    for handler in handlers:
        handler.setStream(ours)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr = old
        for handler in handlers:
            handler.setStream(old)
        ours.close()
        sink.seek(0)
        noise = sink.read().decode("utf-8", "replace").strip()
        sink.close()
        if noise and verbose:
            print(f"library output:\n{noise}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "bot":  # the bot logs with timestamps at LOG_LEVEL (bot.run)
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
    try:
        from socialopt.wiring import load_settings

        settings = load_settings(args.env_file)
        if args.command == "optimize":
            with _library_noise(args.verbose):
                return cmd_optimize(args, settings)
        if args.command == "compile":
            with _library_noise(args.verbose):
                return cmd_compile(args)
        if args.command == "history":
            return cmd_history(args, settings)
        if args.command == "bot":
            return cmd_bot(args, settings)
        if args.command == "doctor":
            return cmd_doctor(settings, ai=args.ai)
        if args.command == "api":
            return cmd_api(args, settings)
        if args.command == "web":  # the same server; say where the page is
            host, port = args.host or settings.api_host, args.port or settings.api_port
            print(f"playground: http://{host}:{port}/app/", flush=True)
            return cmd_api(args, settings)
        if args.command == "api-key":
            return cmd_api_key(args, settings)
        if args.command == "worker":
            return cmd_worker(args, settings)
        if args.command == "migrate":
            return cmd_migrate(settings)
        return cmd_setup_models(args, settings)
    except SettingsError as exc:
        print(f"error: {exc} (INVALID_SETTING)", file=sys.stderr)
        return EXIT_INPUT
    except SocialOptError as exc:
        print(f"error: {exc.user_text()}", file=sys.stderr)
        return EXIT_FAILED if exc.code in {"INTERNAL_ERROR", "PROCESSING_FAILED"} else EXIT_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, for a person
        logging.getLogger("socialopt").info("unexpected failure", exc_info=True)
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (INTERNAL_ERROR); "
            "run with -v for details",
            file=sys.stderr,
        )
        return EXIT_FAILED
