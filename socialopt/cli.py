"""Command line: `socialopt optimize|compile|history|bot|setup-models|doctor`.

Exit codes: 0 success; 1 unexpected failure; 2 bad input or options; 3 some platforms failed
(their outputs are still written). Errors are one line: `error: <sentence> (<CODE>)`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
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
    opt.add_argument("image", help="local path or http(s) URL")
    opt.add_argument(
        "--platforms",
        nargs="+",
        default=["all"],
        help="instagram facebook linkedin pinterest x tiktok, or all",
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
    hist.add_argument("--db", type=Path, default=None, help="default DATA_DIR/socialopt.sqlite3")
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

    models = sub.add_parser(
        "setup-models", help="install the u2netp and EfficientNet-Lite2 models (no torch)"
    )
    models.add_argument("--dir", type=Path, default=None, help="default MODELS_DIR")
    sub.add_parser("doctor", help="list the models that are present and what they enable")
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
    from pipeline.intake import read_input
    from pipeline.job import run_job
    from pipeline.models import JobOptions
    from pipeline.outputs import results_to_dict, write_outputs
    from socialopt.wiring import build_services, job_defaults

    cache = None
    if args.use_ai and args.db is not None:
        from storage.cache import SqliteCache

        cache = SqliteCache(args.db)
    services = build_services(settings, cache=cache)
    if args.use_ai and not services.ai_enabled:
        print("note: no AI key is configured; using the offline analyser.", file=sys.stderr)
    data, source_name = read_input(args.image, services.intake_limits)
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
        source_name=source_name,
        fit=args.fit,
    )
    with _Reporter(quiet=args.json) as reporter:
        result = run_job(data, options, services, progress=reporter)
    out_dir = args.output_dir or Path("socialopt_output") / result.session_id
    files = write_outputs(result, out_dir)
    doc = results_to_dict(result)
    if args.db is not None:
        from storage.cli_records import record_cli_run

        record_cli_run(args.db, doc, out_dir)
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        _print_summary(doc, files)
    failed = [k for k, r in result.platforms.items() if r.status != "completed"]
    if failed:
        print(f"error: {len(failed)} platform(s) failed: {', '.join(failed)}", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    from pipeline.outputs import compile_captions

    written = compile_captions(args.results, args.output_dir)
    for key, path in written.items():
        print(f"{key}: {path}")
    return EXIT_OK


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from storage.cli_records import list_history

    db = args.db or settings.db_path
    if not Path(db).is_file():
        raise SocialOptError(
            f"No database at {db}; run optimize with --db first.", code="DB_NOT_FOUND"
        )
    rows = list_history(Path(db))[: args.limit]
    if not rows:
        print("No runs recorded yet.")
    for row in rows:
        print(f"{row.id}  {row.started_at}  {','.join(row.platforms)}  {row.status}")
    return EXIT_OK


def cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    from bot.run import run_bot

    run_bot(settings, webhook_url=args.webhook, listen=args.listen, port=args.port)
    return EXIT_OK


def cmd_setup_models(args: argparse.Namespace, settings: Settings) -> int:
    from socialopt.models_setup import setup_models

    if args.dir:
        return setup_models(args.dir.expanduser().resolve())
    return setup_models(settings.models_dir, settings.rembg_home)


def cmd_doctor(settings: Settings) -> int:
    from socialopt.models_setup import doctor_lines

    for line in doctor_lines(settings.models_dir, settings.rembg_home, settings.rembg_model):
        print(line)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        from socialopt.wiring import load_settings

        settings = load_settings(args.env_file)
        if args.command == "optimize":
            return cmd_optimize(args, settings)
        if args.command == "compile":
            return cmd_compile(args)
        if args.command == "history":
            return cmd_history(args, settings)
        if args.command == "bot":
            return cmd_bot(args, settings)
        if args.command == "doctor":
            return cmd_doctor(settings)
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
