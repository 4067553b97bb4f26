"""Every API error in the seed's shape, `{"error", "message", "error_code", "retry_after"?}`,
with the code the CLI prints and the HTTP status that code means."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import IntakeError, OptionsError, SocialOptError

# The HTTP status of each code that is not a plain 400.
STATUS_BY_CODE: dict[str, int] = {
    "UNAUTHORIZED": 401,
    "SESSION_NOT_FOUND": 404,
    "FILE_NOT_FOUND": 404,
    "NOT_FOUND": 404,
    "IDEMPOTENCY_CONFLICT": 409,
    "SESSION_NOT_READY": 409,
    "IMAGE_TOO_LARGE": 413,
    "UPLOAD_TOO_LARGE": 413,
    "INVALID_IMAGE_FORMAT": 415,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "INVALID_REQUEST": 422,
    "RATE_LIMITED": 429,
    "QUEUE_FULL": 429,
    "QUOTA_EXCEEDED": 429,
    "SHUTTING_DOWN": 503,
    "SERVICE_UNAVAILABLE": 503,
    "DATABASE_UNAVAILABLE": 503,
    "DISK_FULL": 503,
}


class ApiError(SocialOptError):
    """An error raised by the API layer itself (auth, limits, idempotency, not found)."""

    def __init__(self, message: str, *, code: str, retry_after: int | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


def status_for(exc: SocialOptError) -> int:
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    if isinstance(exc, IntakeError | OptionsError):
        return 400
    return 500


def error_body(status: int, message: str, code: str, retry_after: int | None = None) -> dict:
    body: dict[str, Any] = {
        "error": HTTPStatus(status).phrase,
        "message": message,
        "error_code": code,
    }
    if retry_after is not None:
        body["retry_after"] = retry_after
    return body


def error_response(
    status: int, message: str, code: str, retry_after: int | None = None
) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(error_body(status, message, code, retry_after), status, headers=headers)


async def _coded(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SocialOptError)
    status = status_for(exc)
    if status == 500:  # a coded failure we did not plan for: say so, hide nothing else
        return error_response(500, "Something went wrong on our side.", "INTERNAL_ERROR")
    return error_response(status, exc.message, exc.code, getattr(exc, "retry_after", None))


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{where}: {first.get('msg', 'invalid value')}" if where else "Invalid request."
    return error_response(422, message, "INVALID_REQUEST")


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return error_response(exc.status_code, str(exc.detail), code)


# Connection failures of Redis, the broker or PostgreSQL: a service is down, not a bug.
_UNAVAILABLE = frozenset(
    {
        "ConnectionError",
        "OperationalError",
        "TimeoutError",
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "InterfaceError",
        "ConnectionRefusedError",
    }
)
_SERVICE_MODULES = ("redis", "kombu", "amqp", "celery", "asyncpg", "psycopg", "limits")


def unavailable(exc: BaseException) -> bool:
    """True for a connection failure of one of the services we depend on."""
    module = type(exc).__module__.split(".")[0]
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & _UNAVAILABLE) and (module in _SERVICE_MODULES or module == "builtins")


def _service_errors() -> list[type[BaseException]]:
    """The connection errors of the clients we use, where they are installed."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, names in (
        ("redis.exceptions", ("ConnectionError", "TimeoutError")),
        ("kombu.exceptions", ("OperationalError",)),
        ("asyncpg.exceptions", ("ConnectionDoesNotExistError", "CannotConnectNowError")),
        ("asyncpg", ("InterfaceError",)),
        ("psycopg", ("OperationalError", "InterfaceError")),
    ):
        try:
            mod = __import__(module, fromlist=list(names))
        except ImportError:
            continue
        found += [getattr(mod, n) for n in names if hasattr(mod, n)]
    return found


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if unavailable(exc):
        return error_response(
            503,
            "A service we depend on is not answering; please try again shortly.",
            "SERVICE_UNAVAILABLE",
            retry_after=5,
        )
    return error_response(500, "Something went wrong on our side.", "INTERNAL_ERROR")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the seed's error shape."""
    app.add_exception_handler(SocialOptError, _coded)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    for cls in _service_errors():  # handled inside the app: the connection stays usable
        app.add_exception_handler(cls, _unexpected)
    app.add_exception_handler(Exception, _unexpected)
