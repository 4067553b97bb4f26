"""`AIProvider`: the one base class that writes analyse / write_content / find_accounts once
for every AI backend.

A backend supplies only its transport (`_send`: one `Call` -> one `Reply`) and its error
mapping (`_classify`: client exception -> ProviderError). Everything else lives here:
- the expected JSON is described in the prompt itself (keys, types, limits), so a server that
  ignores `response_format` can still answer, and the repair prompt says what was wrong;
- output modes degrade json_schema -> json_object -> text when a server refuses one, and what
  works is remembered per (server, model) for the life of the process;
- a model that cannot see images is remembered too, and never sent an image again;
- token budgets come from the schema (maxLength / maxItems), shrunk to the server's context;
- a cut-off answer (finish_reason "length") is asked again once for less, never repaired;
- every request is counted in `usage`, retries, repairs and failures included.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from pipeline.errors import ProviderError
from pipeline.models import Account, ImageAnalysis, PlatformContent, Usage
from pipeline.ports import AccountsRequest, AnalysisRequest, ContentRequest, ProgressHook
from pipeline.providers import common, prompts
from pipeline.providers.configs import host_port, is_local

__all__ = ["AIProvider", "Call", "Capabilities", "Reply", "capabilities", "forget_capabilities"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# --------------------------------------------------------------------------- capabilities

FORMATS = ("json_schema", "json_object", "text")  # best first

# What a server says when the model has no vision (llama.cpp without --mmproj, Ollama with a
# text-only model, vLLM, OpenRouter): deterministic, whatever the HTTP status.
_NO_VISION = re.compile(
    r"image input is not supported|mmproj|does(?:n't| not) support (?:image|vision)"
    r"|(?:image|vision|multimodal)[\w ]{0,20}(?:not|isn't) (?:supported|enabled)"
    r"|not a (?:multimodal|vision) model|image_url[\w ]{0,20}not supported",
    re.IGNORECASE,
)
# ... and when it does not take an output mode (response_format json_schema / json_object)
_NO_FORMAT = re.compile(
    r"response_format|json_schema|json schema|json_object|structured output",
    re.IGNORECASE,
)


@dataclass
class Capabilities:
    """What one model on one server can do, learnt from its answers (process-wide)."""

    vision: bool | None = None  # None: not known yet
    vision_reason: str = ""
    formats: list[str] = field(default_factory=lambda: list(FORMATS))
    stream: bool = True
    context_tokens: int | None = None  # the server's context size, when it reports one
    probed: bool = False  # the server's /props (or equivalent) was read
    confirmed: bool = False  # the server accepted `output` once
    # held by the first structured request until the server accepts its output mode, so two
    # requests at the same time (content and accounts) never both hit a refused mode
    gate: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def output(self) -> str:
        return self.formats[0]

    def downgrade(self, mode: str) -> bool:
        """Stop using `mode`; False when there is nothing left to try."""
        with _CAPS_LOCK:
            if mode in self.formats and len(self.formats) > 1:
                self.formats.remove(mode)
                return True
            return mode not in self.formats and bool(self.formats)


_CAPS: dict[tuple[str, str], Capabilities] = {}
_CAPS_LOCK = threading.RLock()


def capabilities(server: str, model: str) -> Capabilities:
    """The remembered capabilities of `model` on `server` (created on first use)."""
    with _CAPS_LOCK:
        return _CAPS.setdefault((server.rstrip("/"), model), Capabilities())


def forget_capabilities() -> None:
    """Forget every server (a new process would; tests use this)."""
    with _CAPS_LOCK:
        _CAPS.clear()


# --------------------------------------------------------------------------- transport


@dataclass(frozen=True)
class Call:
    """One request to a model, in backend-neutral terms."""

    step: str  # analysis | content | accounts | probe
    system: str
    text: str
    image_jpeg: bytes | None = None
    schema_name: str = ""
    schema: dict[str, Any] | None = None  # None: a free-text answer
    max_tokens: int = 1000
    output: str = "json_schema"  # json_schema | json_object | text
    search: bool = False  # ground the answer with web search (Gemini)
    shape: str = ""  # the expected JSON in words (prompts.describe_json), also in `text`
    previous: str = ""  # the rejected answer, for a repair
    problem: str = ""  # why it was rejected
    progress: ProgressHook | None = None
    on_accepted: Callable[[], None] | None = None  # the server took the request (headers)
    # strings whose appearance in a streamed answer marks progress (the platform keys)
    milestones: tuple[str, ...] = ()

    def repair_text(self) -> str:
        """What the model is told after a rejected answer: why, and the shape again."""
        return prompts.repair_prompt(self.problem, self.shape)


@dataclass
class Reply:
    """One answer: its text, why it stopped, and the tokens it cost."""

    text: str
    finish_reason: str = "stop"  # stop | length | refusal | content_filter
    refusal: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    raw: Any = None  # the client's response (Gemini's grounding metadata)


# --------------------------------------------------------------------------- base class


class AIProvider:
    """Provider Protocol written once over `_send` and `_classify`."""

    name = "ai"
    vendor = "AI"  # the label of the vendor's own service ("OpenAI", "Gemini")
    default_server = ""  # the vendor's own endpoint, for the capability memory

    def __init__(self, config: Any, policy: common.RetryPolicy | None = None) -> None:
        self.config = config
        self.model: str = config.model
        self.policy = policy or common.RetryPolicy.with_retries(config.max_retries)
        self.server = (config.base_url or self.default_server).rstrip("/")
        self.local = is_local(self.server)
        self.label: str = getattr(config, "label", "") or self.default_label()
        self.caps = capabilities(self.server or self.name, self.model)

    # ----------------------------------------------------------------- backend hooks

    def _send(self, call: Call) -> Reply:
        """One request over the backend's client; raises the client's own exceptions."""
        raise NotImplementedError

    def _classify(self, exc: Exception) -> ProviderError:
        """The ProviderError for a client exception."""
        raise NotImplementedError

    def _probe_server(self) -> dict[str, Any]:
        """What the server reports about itself ({"context": int, "vision": bool}); {}."""
        return {}

    def list_models(self) -> list[str]:
        """The model names the server offers."""
        raise NotImplementedError

    def _grounded_accounts(self, request: AccountsRequest, usage: Usage) -> list[Account] | None:
        """Accounts found with web search, or None when the backend has no search."""
        return None

    def default_label(self) -> str:
        if not self.config.base_url:
            return self.vendor
        return f"{self.model} at {host_port(self.server)} ({self.vendor}-compatible)"

    # ----------------------------------------------------------------- requests

    def _error(self, exc: Exception) -> ProviderError:
        """Classify, then spot deterministic capability answers by their message."""
        err = exc if isinstance(exc, ProviderError) else self._classify(exc)
        text = err.message
        if _NO_VISION.search(text):
            return common.provider_error(text, common.AI_NO_VISION)
        if err.code == common.AI_BAD_REQUEST and _NO_FORMAT.search(text):
            return common.provider_error(text, common.AI_UNSUPPORTED_FORMAT)
        return err

    def _request(self, call: Call, usage: Usage) -> Reply:
        """One call with bounded retries; every attempt is counted in `usage`."""

        def attempt() -> Reply:
            try:
                reply = self._send(call)
            except Exception as exc:
                usage.record(self.name)  # a failed request is a request too
                raise self._error(exc) from exc
            usage.record(self.name, reply.prompt_tokens, reply.completion_tokens)
            return reply

        reply = self.policy.run(attempt, self._error)
        if reply.refusal or reply.finish_reason in ("content_filter", "refusal"):
            reason = (reply.refusal or reply.finish_reason).strip()[:200]
            raise common.provider_error(
                f"The AI model declined to answer ({reason}).", common.AI_REFUSED
            )
        return reply

    def _ask(self, call: Call, usage: Usage) -> Reply:
        """`_request` in the best output mode this server takes, degrading when refused.
        Until the server has accepted a mode once, one request at a time finds it out."""
        while True:
            gate = self.caps.gate if call.schema is not None and not self.caps.confirmed else None
            if gate is not None:
                gate.acquire()
            held = [gate is not None]

            def accepted(held: list[bool] = held, gate: threading.Lock | None = gate) -> None:
                if held[0] and gate is not None:
                    self.caps.confirmed = True
                    held[0] = False
                    gate.release()

            if self.caps.confirmed:
                accepted()
            mode = self.caps.output if call.schema is not None else "text"
            try:
                reply = self._request(replace(call, output=mode, on_accepted=accepted), usage)
                accepted()
                return reply
            except ProviderError as err:
                if err.code != common.AI_UNSUPPORTED_FORMAT or mode == "text":
                    raise
                log.warning("%s refused %s (%s); trying the next mode", self.label, mode, err)
                if not self.caps.downgrade(mode):
                    raise
            finally:
                if held[0] and gate is not None:
                    held[0] = False
                    gate.release()

    def _structured(self, call: Call, validate: Callable[[dict[str, Any]], T], usage: Usage) -> T:
        """A validated JSON answer: one repair try for invalid JSON; a cut-off answer raises
        AI_TRUNCATED (the caller asks for less) instead of being repaired."""
        reply = self._ask(call, usage)
        self._check_cut(reply, call)
        try:
            return validate(common.parse_json_object(reply.text))
        except common.InvalidAnswer as first:
            log.warning("%s answer invalid (%s); asking once more", self.label, first)
            repair = replace(call, previous=reply.text[:2000], problem=str(first))
            reply2 = self._ask(repair, usage)
            self._check_cut(reply2, call)
            try:
                return validate(common.parse_json_object(reply2.text))
            except common.InvalidAnswer as second:
                raise common.provider_error(
                    f"{self.label} returned an unusable answer twice ({second}).",
                    common.AI_BAD_RESPONSE,
                ) from second

    def _check_cut(self, reply: Reply, call: Call) -> None:
        if reply.finish_reason == "length":
            raise common.provider_error(
                f"{self.label} ran out of tokens ({call.max_tokens}) before the answer ended.",
                common.AI_TRUNCATED,
            )

    def _sized(
        self,
        build: Callable[[bool], Call],
        validate: Callable[[dict[str, Any]], T],
        usage: Usage,
    ) -> T:
        """`build(compact)` -> Call; a cut-off answer is asked once more for less."""
        try:
            return self._structured(self._fit(build(False)), validate, usage)
        except ProviderError as err:
            if err.code != common.AI_TRUNCATED:
                raise
            log.warning("%s: %s Asking for shorter fields.", self.label, err.message)
            return self._structured(self._fit(build(True)), validate, usage)

    def _fit(self, call: Call) -> Call:
        """The call's token budget within the server's context (when it reports one)."""
        context = self._context()
        if not context:
            return call
        prompt = prompts.estimate_tokens(call.system + call.text) + (800 if call.image_jpeg else 0)
        room = max(64, context - prompt - 32)
        return replace(call, max_tokens=min(call.max_tokens, room))

    def _context(self) -> int | None:
        if not self.caps.probed:
            try:
                found = self._probe_server()
            except Exception as exc:  # noqa: BLE001 - a server that says nothing is normal
                log.debug("%s: no server properties (%s)", self.label, exc)
                found = {}
            with _CAPS_LOCK:
                self.caps.probed = True
                if found.get("context"):
                    self.caps.context_tokens = int(found["context"])
                if found.get("vision") is False and self.caps.vision is None:
                    self.caps.vision = False
                    self.caps.vision_reason = "the server reports no image input"
        return self.caps.context_tokens

    # ----------------------------------------------------------------- Provider Protocol

    def analyse(self, request: AnalysisRequest, usage: Usage) -> ImageAnalysis:
        """Describe the photo; the measured numbers stay from the offline baseline. A model
        known to have no vision is never sent the image (AI_NO_VISION at once)."""
        self._context()
        if self.caps.vision is False:
            raise common.provider_error(
                f"{self.label} can't see images ({self.caps.vision_reason}).",
                common.AI_NO_VISION,
            )

        def build(compact: bool) -> Call:
            schema = prompts.analysis_schema(compact=compact)
            text = prompts.analysis_prompt(
                request.description, request.language, common.niche_keys()
            )
            return self._json_call(
                "analysis",
                prompts.ANALYSIS_SYSTEM,
                text,
                prompts.ANALYSIS_SCHEMA_NAME,
                schema,
                image_jpeg=request.image_jpeg,
                progress=request.progress,
                milestones=tuple(f'"{k}"' for k in schema["properties"]),
            )

        try:
            answer = self._sized(build, common.validate_analysis, usage)
        except ProviderError as err:
            if err.code == common.AI_NO_VISION:
                with _CAPS_LOCK:
                    self.caps.vision = False
                    self.caps.vision_reason = err.message[:200]
            raise
        with _CAPS_LOCK:
            self.caps.vision = True
        return common.merge_analysis(request.baseline, answer, self.label)

    def write_content(self, request: ContentRequest, usage: Usage) -> dict[str, PlatformContent]:
        """Captions, hashtags, alt text (+ titles) for every platform in ONE call."""
        platforms = list(request.platforms)
        limits = common.limits_for(platforms, request.hashtag_limits)

        def build(compact: bool) -> Call:
            return self._json_call(
                "content",
                prompts.CONTENT_SYSTEM,
                common.content_prompt_for(request),
                prompts.CONTENT_SCHEMA_NAME,
                prompts.content_schema(platforms, limits, compact=compact),
                progress=request.progress,
                milestones=tuple(f'"{p}"' for p in platforms) if len(platforms) > 1 else (),
            )

        answer = self._sized(build, lambda d: common.validate_content(d, platforms), usage)
        return common.build_contents(answer, request, self.label)

    def find_accounts(self, request: AccountsRequest, usage: Usage) -> list[Account]:
        """ONE call for every requested platform: suggested handles, validated per
        platform, de-duplicated, marked unverified. Saved accounts are the job's to merge."""
        grounded = self._grounded_accounts(request, usage)
        if grounded is not None:
            return common.cap_per_platform(grounded, request.limit)
        platforms = list(request.all_platforms)

        def build(compact: bool) -> Call:
            limit = max(1, request.limit // 2) if compact else request.limit
            schema = prompts.accounts_schema_for(platforms, limit)
            text = prompts.accounts_prompt(
                platforms, [n.name or n.key for n in request.niches], request.description, limit
            )
            return self._json_call(
                "accounts", prompts.ACCOUNTS_SYSTEM, text, prompts.ACCOUNTS_SCHEMA_NAME, schema
            )

        answer = self._sized(build, common.validate_accounts, usage)
        niche = request.niches[0].key if request.niches else ""
        return common.suggested_accounts(answer, platforms, niche, self.name, request.limit)

    def _json_call(
        self,
        step: str,
        system: str,
        text: str,
        schema_name: str,
        schema: dict[str, Any],
        **extra: Any,
    ) -> Call:
        """A JSON call: the expected shape is written in the prompt too (for servers that
        ignore response_format), and the token budget comes from the schema's limits."""
        shape = prompts.describe_json(schema)
        return Call(
            step=step,
            system=system,
            text=text + "\n\n" + shape,
            shape=shape,
            schema_name=schema_name,
            schema=self._schema(schema),
            max_tokens=prompts.answer_tokens(schema),
            **extra,
        )

    def _schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema as this backend sends it (hook: a backend may strip keywords)."""
        return schema

    # ----------------------------------------------------------------- doctor

    def probe(self, image_jpeg: bytes) -> list[tuple[str, bool, str]]:
        """Three checks (`socialopt doctor --ai`): the model list, a tiny JSON-schema answer,
        a tiny image. (check, passed, what was found) each; never raises."""
        out: list[tuple[str, bool, str]] = []
        try:
            models = self.list_models()
            listed = self.model in models
            if listed:
                said = f"{len(models)} model(s); {self.model} is one of them"
            elif len(models) == 1:  # llama-server answers with its one model whatever the name
                said = f"serves one model ({models[0]}); the name {self.model} is only a label"
            else:
                said = f"{self.model} is NOT among: " + ", ".join(models[:8])
            out.append(("models", listed or len(models) <= 1, said))
        except Exception as exc:  # noqa: BLE001 - doctor reports every failure
            out.append(("models", False, self._error(exc).message))
        usage = Usage()
        schema = {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}, "word": {"type": "string", "maxLength": 20}},
            "required": ["ok", "word"],
            "additionalProperties": False,
        }
        shape = prompts.describe_json(schema)
        call = Call(
            step="probe",
            system="You answer with JSON only.",
            text='Answer {"ok": true, "word": "hello"}.\n\n' + shape,
            shape=shape,
            schema_name="probe",
            schema=schema,
            max_tokens=40,
        )
        try:
            self._structured(call, lambda d: d, usage)
            out.append(("json", True, f"JSON answers work ({self.caps.output})"))
        except ProviderError as err:
            out.append(("json", False, f"{err.message} ({err.code})"))
        image_call = replace(
            call,
            text='Is there an image? Answer {"ok": true, "word": "<its main colour>"}.\n\n'
            + shape,
            image_jpeg=image_jpeg,
        )
        try:
            answer = self._structured(image_call, lambda d: d, usage)
            with _CAPS_LOCK:
                self.caps.vision = True
            out.append(("vision", True, f"the model sees images (it said {answer.get('word')!r})"))
        except ProviderError as err:
            if err.code == common.AI_NO_VISION:
                with _CAPS_LOCK:
                    self.caps.vision = False
                    self.caps.vision_reason = err.message[:200]
            out.append(("vision", False, f"{err.message} ({err.code})"))
        return out
