"""/caption: new caption variants for the last session, or captions from text alone.

`/caption` and `/caption <tone>` rewrite the captions of the user's last session from its
stored analysis; `/caption <text>` writes captions for the user's default platforms from the
text. The provider writes them when AI is configured, the offline templates otherwise (and
whenever the provider fails). Providers are synchronous, so writing runs in an executor.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import keyboards
from bot.callbacks import CAPTIONS
from bot.context import BotContext
from bot.formatting import content_message, escape, local_time
from pipeline import captions, hashtags, niches
from pipeline.errors import ProviderError
from pipeline.models import TONES, ImageAnalysis, Niche, PlatformContent, Usage
from pipeline.platforms import get_spec
from pipeline.providers.base import ContentRequest
from pipeline.serialize import analysis_from_dict, niche_from_dict
from storage.records import SessionRecord

log = logging.getLogger(__name__)

NO_SESSION = (
    "I have no finished photo of yours yet. Send a photo first, or write "
    "<code>/caption your text</code> to get captions from text alone."
)


@dataclass
class Captions:
    """What a /caption run produced: content per platform and a note for the user."""

    contents: dict[str, PlatformContent]
    notice: str = ""


# -- building requests from stored sessions (no Telegram here) ------------------------------


def text_analysis(text: str) -> ImageAnalysis:
    """A neutral analysis for captions written from text alone: it knows only the words."""
    words = [w.strip(".,!?;:\"'()").lower() for w in text.split()]
    return ImageAnalysis(
        width=0,
        height=0,
        orientation="square",
        brightness=0.5,
        contrast=0.5,
        sharpness=0.0,
        is_blurry=False,
        colors=[],
        faces=0,
        face_boxes=[],
        product_likeness=0.0,
        is_product=False,
        product_reason="",
        description=text.strip(),
        keywords=[w for w in words if len(w) > 2][:12],
    )


def _niche(item: Any) -> Niche | None:
    if isinstance(item, Niche):
        return item
    if isinstance(item, dict) and item.get("key"):
        return niche_from_dict(item)
    if isinstance(item, str) and item:
        info = niches.niche_info(item)
        return Niche(info.key, info.name, 1.0) if info else Niche(item, item.title(), 1.0)
    return None


def session_niches(results: dict[str, Any], text: str = "") -> list[Niche]:
    """The niches a session found (top level or per platform), else matched from `text`."""
    raw = list(results.get("niches") or [])
    if not raw:
        for data in (results.get("platforms") or {}).values():
            raw.extend(data.get("niches") or [])
    found: list[Niche] = []
    for item in raw:
        niche = _niche(item)
        if niche and niche.key not in {n.key for n in found}:
            found.append(niche)
    return found or niches.match_niches(text, None)


def session_analysis(session: SessionRecord) -> ImageAnalysis:
    """The analysis stored with a session, or a text-only one from its description."""
    data = (session.results or {}).get("analysis")
    if isinstance(data, dict):
        try:
            return analysis_from_dict(data)
        except (TypeError, KeyError, ValueError):
            log.warning("session %s: stored analysis unreadable, using text", session.id)
    return text_analysis(session.description)


def content_request(
    analysis: ImageAnalysis,
    found: list[Niche],
    platforms: tuple[str, ...],
    *,
    description: str,
    language: str,
    tone: str,
    limits: dict[str, int],
) -> ContentRequest:
    """A ContentRequest with hashtag candidates from the knowledge base for each platform."""
    candidates = {
        p: hashtags.suggest_hashtags(found, analysis, description, get_spec(p, limits))
        for p in platforms
    }
    return ContentRequest(
        analysis,
        found,
        platforms,
        description,
        language,
        tone,
        candidates,
        limits,
    )


def _offline(request: ContentRequest, variant: int) -> dict[str, PlatformContent]:
    if "variant" in inspect.signature(captions.compile_content).parameters:
        return captions.compile_content(request, variant=variant)
    return captions.compile_content(request)  # pragma: no cover - older signature


def write_captions(services: Any, request: ContentRequest, variant: int) -> Captions:
    """Captions from the provider when AI is on, else (or on ProviderError) offline. Sync."""
    notice = ""
    contents: dict[str, PlatformContent] | None = None
    provider = getattr(services, "provider", None)
    if provider is not None and getattr(services, "ai_enabled", False):
        try:
            contents = provider.write_content(request, Usage())
        except ProviderError as exc:
            log.warning("caption provider failed (%s): offline captions", exc.code)
            notice = f"AI is unavailable right now ({exc.code}); these are offline captions."
    if contents is None:
        contents = _offline(request, variant)
    limits = dict(request.hashtag_limits)
    out: dict[str, PlatformContent] = {}
    for platform in request.platforms:
        item = contents.get(platform)
        if item is None:
            item = _offline(request, variant)[platform]
        spec = get_spec(platform, limits)
        item = captions.fit_content(item, spec)
        item.hashtags = hashtags.finalize_hashtags(item.hashtags, spec)
        out[platform] = item
    return Captions(out, notice)


# -- Telegram ---------------------------------------------------------------------------------


async def _typing(context: BotContext, chat_id: int) -> None:
    """Show "typing…"; it is cosmetic, so a failure is logged and the command goes on."""
    try:
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError as exc:
        log.info("could not show typing in chat %s: %s", chat_id, exc)


def _next_variant(context: BotContext, key: str) -> int:
    """1, 2, 3 ... per session (variant 0 is what the job already wrote)."""
    counters = context.user_data.setdefault("caption_variants", {})
    counters[key] = counters.get(key, 0) + 1
    return counters[key]


async def _run(context: BotContext, request: ContentRequest, variant: int) -> Captions:
    services = context.svc.services
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, partial(write_captions, services, request, variant))


async def _send(
    context: BotContext,
    chat_id: int,
    result: Captions,
    header: str,
    markup: InlineKeyboardMarkup | None,
) -> None:
    await context.bot.send_message(chat_id, header)
    for platform, content in result.contents.items():
        for chunk in content_message(platform, content):
            await context.bot.send_message(chat_id, chunk)
    hint = "Want another take? Pick a tone:" if markup else "Send it again for another take."
    closing = escape(result.notice) + "\n" + hint if result.notice else hint
    await context.bot.send_message(chat_id, closing, reply_markup=markup)


async def _for_session(
    context: BotContext, chat_id: int, uid: int, session: SessionRecord | None, tone: str
) -> None:
    if session is None or not session.results:
        await context.bot.send_message(chat_id, NO_SESSION)
        return
    user = await context.svc.repo.ensure_user(uid)
    await _typing(context, chat_id)
    analysis = session_analysis(session)
    request = content_request(
        analysis,
        session_niches(session.results, session.description),
        session.platforms,
        description=session.description,
        language=user.language,
        tone=tone,
        limits=dict(context.svc.settings.hashtag_limits),
    )
    variant = _next_variant(context, session.id)
    result = await _run(context, request, variant)
    label = f", {tone}" if tone else ""
    header = (
        f"✍️ <b>Another version</b> (variant {variant}{label}) of the captions for your "
        f"photo from "
        f"{escape(local_time(session.started, user.timezone))}:"
    )
    await _send(context, chat_id, result, header, keyboards.tones(session.id))


async def _from_text(context: BotContext, chat_id: int, uid: int, text: str) -> None:
    user = await context.svc.repo.ensure_user(uid)
    platforms = user.default_platforms or tuple(context.svc.settings.default_platforms)
    await _typing(context, chat_id)
    request = content_request(
        text_analysis(text),
        niches.match_niches(text, None),
        tuple(platforms),
        description=text,
        language=user.language,
        tone="",
        limits=dict(context.svc.settings.hashtag_limits),
    )
    result = await _run(context, request, _next_variant(context, "text"))
    header = f"✍️ <b>Captions</b> for “{escape(text[:80])}”:"
    await _send(context, chat_id, result, header, None)


async def caption_command(update: Update, context: BotContext) -> None:
    """/caption [tone] rewrites the last session's captions; /caption <text> writes new ones."""
    chat_id, uid = update.effective_chat.id, update.effective_user.id
    args = context.args or []
    if not args or (len(args) == 1 and args[0].lower() in TONES):
        tone = args[0].lower() if args else ""
        session = await context.svc.repo.last_session(uid)
        await _for_session(context, chat_id, uid, session, tone)
    else:  # the text as typed, line breaks kept
        text = (update.effective_message.text or "").split(maxsplit=1)[1]
        await _from_text(context, chat_id, uid, text.strip())


async def caption_button_pressed(update: Update, context: BotContext) -> None:
    """`c:<sid>` or `c:<tone>:<sid>`: new variants for that session."""
    query = update.callback_query
    await query.answer()
    tone, _, sid = CAPTIONS.rest(query.data).rpartition(":")
    tone = tone if tone in TONES else ""
    uid = update.effective_user.id
    session = await context.svc.repo.get_session(uid, sid) if sid else None
    await _for_session(context, update.effective_chat.id, uid, session, tone)


def handlers() -> list[BaseHandler]:
    """The /caption command and its buttons."""
    return [
        CommandHandler("caption", caption_command),
        CallbackQueryHandler(caption_button_pressed, pattern=CAPTIONS.pattern()),
    ]
