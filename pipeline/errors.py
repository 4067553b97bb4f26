"""Typed errors with a stable code and a sentence a person understands."""

from __future__ import annotations


class SocialOptError(Exception):
    """Base error: `code` is stable (for logs, tests, users); `message` is for a person."""

    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def user_text(self) -> str:
        return f"{self.message} ({self.code})"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class IntakeError(SocialOptError):
    """The input image cannot be used. Codes: INVALID_IMAGE_FORMAT, IMAGE_TOO_LARGE,
    IMAGE_TOO_SMALL, CORRUPT_IMAGE, DECOMPRESSION_BOMB, URL_NOT_ALLOWED, URL_FETCH_FAILED,
    FILE_NOT_FOUND, EMPTY_FILE, NOT_A_FILE, FILE_UNREADABLE, INVALID_URL."""

    code = "INVALID_IMAGE"


class OptionsError(SocialOptError):
    """A job option is invalid. Codes: UNKNOWN_PLATFORM, NO_PLATFORMS, UNKNOWN_FORMAT,
    UNKNOWN_TIMEZONE, UNKNOWN_LANGUAGE, UNKNOWN_STYLE, INVALID_LOGO."""

    code = "INVALID_OPTION"


class OutputError(SocialOptError):
    """Results could not be written. Codes: DISK_FULL (disk or quota full; the partial files
    are removed), OUTPUT_DIR_UNUSABLE, OUTPUT_FAILED, UNSAFE_PATH."""

    code = "OUTPUT_FAILED"


class ProcessingError(SocialOptError):
    """A stage failed on a valid input (for example one platform's render)."""

    code = "PROCESSING_FAILED"


class ProviderError(SocialOptError):
    """An AI provider could not answer. `retryable` says whether trying later may help;
    `quota` marks an exhausted quota (fall back at once, do not retry)."""

    code = "PROVIDER_FAILED"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = False,
        quota: bool = False,
    ) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable
        self.quota = quota


class ModelUnavailableError(SocialOptError):
    """Model weights are missing and will not be downloaded."""

    code = "MODEL_UNAVAILABLE"
