"""Helpers shared by the OpenAI and Gemini providers.

Retry policy (tenacity), JSON parsing/validation with one repair try, trimming answers to
platform limits, handle extraction/validation, and (de)serialising results for the cache.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from pipeline import accounts
from pipeline.captions import fit_content
from pipeline.errors import ProviderError
from pipeline.hashtags import finalize_hashtags, known_tag
from pipeline.lexicon import fold
from pipeline.models import Account, ImageAnalysis, PlatformContent
from pipeline.platforms import get_spec
from pipeline.ports import ContentRequest

log = logging.getLogger(__name__)
T = TypeVar("T")

# Stable error codes (ProviderError.code)
AI_RATE_LIMITED = "AI_RATE_LIMITED"
AI_QUOTA_EXCEEDED = "AI_QUOTA_EXCEEDED"
AI_AUTH_FAILED = "AI_AUTH_FAILED"
AI_SERVER_ERROR = "AI_SERVER_ERROR"
AI_TIMEOUT = "AI_TIMEOUT"
AI_UNREACHABLE = "AI_UNREACHABLE"
AI_BAD_REQUEST = "AI_BAD_REQUEST"
AI_BAD_RESPONSE = "AI_BAD_RESPONSE"
AI_REFUSED = "AI_REFUSED"
AI_NO_VISION = "AI_NO_VISION"  # the model cannot see images: a capability, never retried
AI_UNSUPPORTED_FORMAT = "AI_UNSUPPORTED_FORMAT"  # the server refuses an output mode
AI_TRUNCATED = "AI_TRUNCATED"  # the answer was cut off (finish_reason "length")
AI_STALLED = "AI_STALLED"  # a streamed answer went silent

# codes that say something about the model or server, not about this moment: never retried,
# and the job tells the user what fell back and why
DETERMINISTIC = {
    AI_AUTH_FAILED,
    AI_QUOTA_EXCEEDED,
    AI_BAD_REQUEST,
    AI_REFUSED,
    AI_NO_VISION,
    AI_UNSUPPORTED_FORMAT,
}


def provider_error(
    message: str,
    code: str,
    *,
    retryable: bool = False,
    quota: bool = False,
    retry_after: float | None = None,
) -> ProviderError:
    """A ProviderError carrying an optional `retry_after` (seconds) for the retry policy."""
    err = ProviderError(message, code=code, retryable=retryable, quota=quota)
    err.retry_after = retry_after  # type: ignore[attr-defined]
    return err


TIMEOUT_ERROR = "The AI service did not answer in time."
UNREACHABLE_ERROR = "The AI service could not be reached."


def timeout_error(generating: bool, timeout_s: float = 0.0) -> ProviderError:
    """A timeout. One that hit a request the server had accepted (it was generating, or a
    stream went silent) is not retried: one long wait beats three short ones, and a retry
    throws away the generation. A connect timeout is retried."""
    if generating:
        return provider_error(
            f"The AI service went silent for {timeout_s:g} s while answering"
            if timeout_s
            else "The AI service did not finish its answer in time.",
            AI_STALLED if timeout_s else AI_TIMEOUT,
        )
    return provider_error(TIMEOUT_ERROR, AI_TIMEOUT, retryable=True)


def error_for_status(
    status: int, detail: str = "", *, retry_after: float | None = None, auth: bool = False
) -> ProviderError:
    """The ProviderError for an HTTP error status (quota cases are the provider's to spot
    first): 429 rate limited, 401/403 (or `auth`) bad key, 408/5xx server, else bad request."""
    detail = re.sub(r"^Error code: \d+ - ", "", detail or "")  # the openai client's prefix
    if status == 429:
        return provider_error(
            "The AI service is rate limiting requests.",
            AI_RATE_LIMITED,
            retryable=True,
            retry_after=retry_after,
        )
    if auth or status in (401, 403):
        return provider_error(f"The AI service rejected the API key ({status}).", AI_AUTH_FAILED)
    if status == 408 or status >= 500:
        return provider_error(
            f"The AI service had an error ({status}: {detail[:200]})."
            if detail
            else f"The AI service had an error ({status}).",
            AI_SERVER_ERROR,
            retryable=True,
            retry_after=retry_after,
        )
    return provider_error(
        f"The AI service refused the request ({status}: {detail[:200]}).", AI_BAD_REQUEST
    )


# --------------------------------------------------------------------------- retries


@dataclass
class RetryPolicy:
    """Bounded retries: `max_retries` extra attempts, Retry-After honoured up to `max_wait_s`
    (a longer Retry-After is not waited for: the call fails at once so the job falls back)."""

    max_retries: int = 2
    max_wait_s: float = 10.0
    backoff_s: float = 0.5
    waits: list[float] = field(default_factory=list)  # every wait actually slept, for tests
    sleeper: Callable[[float], None] = time.sleep
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def with_retries(cls, max_retries: int) -> RetryPolicy:
        """The default policy with `max_retries` extra attempts (never fewer than 0)."""
        return cls(max_retries=max(0, int(max_retries)))

    def should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, ProviderError) or not exc.retryable or exc.quota:
            return False
        after = getattr(exc, "retry_after", None)
        return after is None or after <= self.max_wait_s

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            return min(max(0.0, float(after)), self.max_wait_s)
        return min(self.backoff_s * (2 ** (state.attempt_number - 1)), self.max_wait_s)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
        self.sleeper(seconds)

    def run(self, fn: Callable[[], T], classify: Callable[[Exception], ProviderError]) -> T:
        """Call `fn`, mapping client exceptions through `classify`, retrying what may help."""

        def attempt() -> T:
            try:
                return fn()
            except ProviderError:
                raise
            except Exception as exc:  # noqa: BLE001 - every client error is classified
                raise classify(exc) from exc

        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            retry=retry_if_exception(self.should_retry),
            wait=self.wait,
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(attempt)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (number or HTTP date), else None."""
    if not headers:
        return None
    try:
        raw_ms = headers.get("retry-after-ms")
        if raw_ms:
            return max(0.0, float(raw_ms) / 1000)
        raw = headers.get("retry-after")
        if not raw:
            return None
        try:
            return max(0.0, float(raw))
        except ValueError:
            import email.utils

            when = email.utils.parsedate_to_datetime(raw)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------- JSON


class InvalidAnswer(ValueError):
    """The model's answer is not valid JSON or does not match the schema."""


def parse_json_object(text: str | None) -> dict[str, Any]:
    """Parse a JSON object, tolerating a ```json fence around it."""
    if not text or not text.strip():
        raise InvalidAnswer("the answer was empty")
    body = text.strip()
    fence = re.match(r"^```(?:json)?\s*(.*?)\s*```$", body, re.S)
    if fence:
        body = fence.group(1)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"the answer is not valid JSON ({exc.msg} at {exc.pos})") from exc
    if not isinstance(data, dict):
        raise InvalidAnswer("the answer is not a JSON object")
    return data


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidAnswer(f"{what} must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def _opt_str(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidAnswer(f"{what}.{key} must be a string")
    return value.strip()


def validate_content(data: Mapping[str, Any], platforms: Sequence[str]) -> dict[str, dict]:
    """Check the content answer: every platform an object with caption and hashtags."""
    out: dict[str, dict] = {}
    missing = [p for p in platforms if p not in data]
    if missing:
        raise InvalidAnswer(f"platforms missing from the answer: {', '.join(missing)}")
    for p in platforms:
        item = data[p]
        if not isinstance(item, dict):
            raise InvalidAnswer(f"{p} must be an object")
        caption = item.get("caption")
        if not isinstance(caption, str) or not caption.strip():
            raise InvalidAnswer(f"{p}.caption must be a non-empty string")
        out[p] = {
            "caption": caption.strip(),
            "hashtags": _str_list(item.get("hashtags"), f"{p}.hashtags"),
            "alt_text": _opt_str(item, "alt_text", p),
            "title": _opt_str(item, "title", p),
        }
    return out


def validate_analysis(data: Mapping[str, Any]) -> dict[str, Any]:
    desc = data.get("description")
    if not isinstance(desc, str) or not desc.strip():
        raise InvalidAnswer("description must be a non-empty string")
    is_product = data.get("is_product", False)
    if not isinstance(is_product, bool):
        raise InvalidAnswer("is_product must be true or false")
    return {
        "description": desc.strip(),
        "keywords": _str_list(data.get("keywords", []), "keywords"),
        "niches": _str_list(data.get("niches", []), "niches"),
        "is_product": is_product,
        "product_reason": _opt_str(data, "product_reason", "analysis"),
        "mood": _opt_str(data, "mood", "analysis"),
    }


def validate_accounts(data: Mapping[str, Any]) -> list[dict[str, str]]:
    items = data.get("accounts")
    if not isinstance(items, list):
        raise InvalidAnswer("accounts must be a list")
    out = []
    for item in items:
        if isinstance(item, str):
            out.append({"handle": item, "reason": "", "platform": ""})
        elif isinstance(item, dict) and isinstance(item.get("handle"), str):
            reason, plat = item.get("reason"), item.get("platform")
            out.append(
                {
                    "handle": item["handle"],
                    "reason": reason.strip() if isinstance(reason, str) else "",
                    "platform": plat.strip().lower() if isinstance(plat, str) else "",
                }
            )
        else:
            raise InvalidAnswer("each account must have a handle string")
    return out


# --------------------------------------------------------------------------- content


def photo_words(request: ContentRequest) -> set[str]:
    """Folded words that say what the photo is: the user's words, the analysis's keywords,
    subject and niches. A hashtag must relate to one of them (or be a known tag)."""
    a = request.analysis
    text = " ".join(
        [
            request.description,
            a.description,
            a.subject,
            *a.keywords,
            *a.subject_concepts,
            *a.niches,
            *(f"{n.key} {n.name}" for n in request.niches),
        ]
    )
    # words of 4+ letters: "and" or "the" would match half the junk (#ComingFromBrands)
    return {w for w in re.findall(r"\w+", fold(text).replace("_", " ")) if len(w) >= 4}


def _related(tag: str, words: set[str], candidates: set[str]) -> bool:
    key = re.sub(r"[^\w]", "", fold(tag.lstrip("#"))).replace("_", "")
    if key in candidates or known_tag(tag):
        return True
    for word in words:
        stem = word[: max(4, len(word) - 2)] if len(word) > 4 else word
        if stem in key or (len(key) >= 4 and key in word):
            return True
    return False


def clean_hashtags(
    tags: Sequence[str], request: ContentRequest, platform: str, words: set[str] | None = None
) -> list[str]:
    """An AI's hashtags for one platform: normalised (no URL fragments, at most 30
    characters, no banned tags), only those related to the photo's words or niches or known
    to the knowledge base, topped up from the offline candidates to as many as it gave (at
    least the platform's minimum), within the platform's cap."""
    spec = get_spec(platform, request.hashtag_limits)
    words = photo_words(request) if words is None else words
    cands = list(request.hashtag_candidates.get(platform, []))
    cand_keys = {re.sub(r"[^\w]", "", fold(c.lstrip("#"))).replace("_", "") for c in cands}
    given = finalize_hashtags(list(tags), replace(spec, hashtag_max=max(len(tags), 1)))
    kept = [t for t in given if _related(t, words, cand_keys)]
    dropped = len(given) - len(kept)
    if dropped:
        log.info("dropped %d unrelated AI hashtag(s) on %s", dropped, platform)
    want = min(spec.hashtag_max, max(len(tags), spec.hashtag_min))
    tags_out = finalize_hashtags(kept, spec)
    if len(tags_out) < want:
        tags_out = finalize_hashtags(tags_out + cands, replace(spec, hashtag_max=want))
    return tags_out


def build_contents(
    answer: Mapping[str, Mapping[str, Any]], request: ContentRequest, provider: str
) -> dict[str, PlatformContent]:
    """Validated answer -> PlatformContent per platform, trimmed to the platform's limits,
    hashtags cleaned (`clean_hashtags`)."""
    out: dict[str, PlatformContent] = {}
    words = photo_words(request)
    for p in request.platforms:
        spec = get_spec(p, request.hashtag_limits)
        item = answer[p]
        content = PlatformContent(
            caption=item["caption"],
            hashtags=clean_hashtags(item["hashtags"], request, p, words),
            alt_text=item.get("alt_text", ""),
            title=item.get("title", "") if spec.title_limit else "",
            provider=provider,
        )
        out[p] = fit_content(content, spec)
    return out


def limits_for(platforms: Iterable[str], hashtag_limits: Mapping[str, int]) -> dict[str, dict]:
    out = {}
    for p in platforms:
        s = get_spec(p, hashtag_limits)
        out[p] = {
            "caption": s.caption_limit,
            "hashtag_min": s.hashtag_min,
            "hashtag_max": s.hashtag_max,
            "alt_text": s.alt_text_limit,
            "title": s.title_limit,
        }
    return out


def niche_keys() -> list[str]:
    """The niche keys an AI answer may use."""
    from pipeline.niches import NICHES

    return list(NICHES)


def merge_analysis(base: ImageAnalysis, answer: Mapping[str, Any], provider: str) -> ImageAnalysis:
    """Keep the measured numbers; take description, keywords, niches, product call from AI."""
    from dataclasses import replace

    known = niche_keys()
    niches = [n.strip().lower().replace(" ", "_") for n in answer["niches"]]
    if known:
        niches = [n for n in niches if n in known]
    keywords = list(dict.fromkeys(k.lower() for k in answer["keywords"]))
    mood = answer.get("mood", "").lower()
    if mood and mood not in keywords:
        keywords.append(mood)
    reason = answer.get("product_reason")
    reason = f"{provider}: {reason}" if reason else base.product_reason
    return replace(
        base,
        description=answer["description"],
        keywords=keywords[:20],
        niches=niches[:3],
        is_product=bool(answer["is_product"]),
        product_reason=reason,
        warnings=list(base.warnings),
        provider=provider,
    )


# --------------------------------------------------------------------------- handles

RESERVED = {
    "p",
    "reel",
    "reels",
    "explore",
    "stories",
    "tv",
    "hashtag",
    "search",
    "share",
    "home",
    "about",
    "login",
    "signup",
    "i",
    "intent",
    "tag",
    "tags",
    "pin",
    "pins",
    "ideas",
    "company",
    "in",
    "watch",
    "groups",
    "pages",
    "video",
    "status",
    "accounts",
    "discover",
    "legal",
    "privacy",
    "help",
    "settings",
    "messages",
    "notifications",
    "web",
    "www",
}
_URL_PATTERNS = [
    ("instagram", re.compile(r"https?://(?:www\.)?instagram\.com/([A-Za-z0-9._]+)/?", re.I)),
    ("x", re.compile(r"https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/@?([A-Za-z0-9_]+)", re.I)),
    ("tiktok", re.compile(r"https?://(?:www\.)?tiktok\.com/@([A-Za-z0-9._]+)", re.I)),
    (
        "pinterest",
        re.compile(r"https?://(?:[a-z]{2}\.|www\.)?pinterest\.[a-z.]+/([A-Za-z0-9_]+)/?", re.I),
    ),
    ("facebook", re.compile(r"https?://(?:www\.|m\.)?facebook\.com/([A-Za-z0-9.]+)/?", re.I)),
    (
        "linkedin",
        re.compile(r"https?://(?:\w{2,3}\.)?linkedin\.com/(?:in|company)/([A-Za-z0-9-]+)", re.I),
    ),
]
_TEXT_HANDLE = re.compile(r"(?<![\w.@/])@([A-Za-z0-9_][A-Za-z0-9._-]{0,99})")
URL_IN_TEXT = re.compile(r"https?://[^\s<>()\[\]\"'*]+")


_DOMAIN_END = re.compile(r"\.(?:com|net|org|io|co)$", re.IGNORECASE)
DOMAIN_HANDLES = ("bluesky", "mastodon")  # handles that are (or end in) domain names


def normalize_handle(raw: str) -> str:
    """'@Name.' / 'name' / ' @name ' -> 'Name' (no @, no trailing punctuation)."""
    return raw.strip().lstrip("@").strip().rstrip(".,;:!?)-")


def valid_handle(platform: str, handle: str) -> bool:
    """A handle an AI named is usable: the platform's rules and not a reserved path word."""
    h = normalize_handle(handle)
    if platform not in DOMAIN_HANDLES and _DOMAIN_END.search(h):
        # "instagram.com" is a site a model copied, not an account
        return False
    return bool(h) and h.lower() not in RESERVED and accounts.valid_handle(platform, h)


def profile_url(platform: str, handle: str) -> str:
    return accounts.profile_url(platform, normalize_handle(handle))


def handle_from_url(url: str, platform: str) -> str:
    """The handle in a profile URL of `platform`, or ''."""
    for plat, pattern in _URL_PATTERNS:
        if plat != platform:
            continue
        m = pattern.match(url.strip())
        if m and m.group(1).lower() not in RESERVED:
            return normalize_handle(m.group(1))
    return ""


_PLATFORM_WORDS = {
    "instagram": r"instagram|insta|\big\b",
    "x": r"\btwitter\b|\bx\b(?:\s*\(twitter\))?|x\.com",
    "tiktok": r"tik\s*tok",
    "pinterest": r"pinterest",
    "facebook": r"facebook|\bfb\b",
    "linkedin": r"linked\s*in",
}


def platforms_in_text(text: str, platforms: Sequence[str]) -> list[str]:
    """Requested platforms named in `text` (a line of a model answer)."""
    low = text.lower()
    return [p for p in platforms if re.search(_PLATFORM_WORDS.get(p, re.escape(p)), low)]


def find_handles(text: str, platforms: Sequence[str]) -> list[tuple[int, str, str]]:
    """(position, handle, platform) for profile URLs and @handles in free text, in order.

    A URL names its platform; an @handle takes the platform named on its line, else the
    last platform heading above it, else the only requested platform; otherwise skipped."""
    out: list[tuple[int, str, str]] = []
    current = ""
    pos = 0
    for line in (text or "").splitlines(keepends=True):
        named = platforms_in_text(URL_IN_TEXT.sub(" ", line), platforms)
        if len(named) == 1:
            current = named[0]
        for m in URL_IN_TEXT.finditer(line):
            for p in platforms:
                h = handle_from_url(m.group(0), p)
                if h:
                    out.append((pos + m.start(), h, p))
                    break
        for m in _TEXT_HANDLE.finditer(line):
            plat = named[0] if len(named) == 1 else current
            if not plat and len(platforms) == 1:
                plat = platforms[0]
            if plat:
                out.append((pos + m.start(), normalize_handle(m.group(1)), plat))
        pos += len(line)
    return sorted(out)


def dedupe_accounts(accounts: Iterable[Account], limit: int | None = None) -> list[Account]:
    seen: set[tuple[str, str]] = set()
    out = []
    for a in accounts:
        key = (a.platform, a.handle.lower().lstrip("@"))
        if a.handle and key in seen:
            continue
        seen.add(key)
        out.append(a)
    return out[:limit] if limit is not None else out


def cap_per_platform(accounts: Iterable[Account], limit: int) -> list[Account]:
    """De-duplicated accounts, at most `limit` per platform, order kept."""
    counts: dict[str, int] = {}
    out = []
    for a in dedupe_accounts(accounts):
        if counts.get(a.platform, 0) < limit:
            counts[a.platform] = counts.get(a.platform, 0) + 1
            out.append(a)
    return out


UNVERIFIED_NOTE = "Suggested by the AI model from memory, not verified: check before tagging."


def suggested_accounts(
    answer: Sequence[Mapping[str, str]],
    platforms: Sequence[str],
    niche: str,
    source: str,
    limit: int,
) -> list[Account]:
    """Accounts from a validated JSON answer: handles checked per platform (invalid ones
    dropped), de-duplicated, at most `limit` per platform, each marked unverified."""
    suggested = []
    for item in answer:
        plat = item.get("platform") or (platforms[0] if len(platforms) == 1 else "")
        handle = normalize_handle(item["handle"])
        if plat not in platforms or not valid_handle(plat, handle):
            log.info("dropping invalid handle from %s: %r on %r", source, handle, plat)
            continue
        note = UNVERIFIED_NOTE + (f" {item['reason']}" if item.get("reason") else "")
        suggested.append(
            Account(
                handle=f"@{handle}",
                platform=plat,
                niche=niche,
                source=source,
                url=profile_url(plat, handle),
                note=note[:300],
            )
        )
    return cap_per_platform(suggested, limit)


def content_prompt_for(request: ContentRequest) -> str:
    """The one content prompt (all platforms, their limits and hashtag ideas) for a request."""
    from pipeline.providers import prompts

    platforms = list(request.platforms)
    return prompts.content_prompt(
        platforms=platforms,
        limits=limits_for(platforms, request.hashtag_limits),
        candidates=request.hashtag_candidates,
        description=request.description,
        analysis_description=request.analysis.description,
        keywords=request.analysis.keywords,
        niches=[n.key for n in request.niches],
        language=request.language,
        tone=request.tone,
        feedback=request.feedback,
    )
