"""Cloudinary uploads with the real SDK, configured per call (no global config touched)."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipeline.errors import OptionsError, ProviderError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CloudinaryAccount:
    cloud_name: str
    api_key: str
    api_secret: str
    upload_prefix: str = ""


def parse_cloudinary_url(url: str) -> CloudinaryAccount:
    """`cloudinary://KEY:SECRET@CLOUD[?upload_prefix=...]` -> its parts (OptionsError if bad)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "cloudinary" or not parts.hostname or not parts.username:
        raise OptionsError(
            "CLOUDINARY_URL must look like cloudinary://API_KEY:API_SECRET@CLOUD_NAME.",
            code="INVALID_CLOUDINARY_URL",
        )
    query = parse_qs(parts.query)
    prefix = (query.get("upload_prefix") or [""])[0]
    return CloudinaryAccount(
        cloud_name=parts.netloc.rsplit("@", 1)[-1],
        api_key=unquote(parts.username),
        api_secret=unquote(parts.password or ""),
        upload_prefix=prefix,
    )


class CloudinaryUploader:
    """Uploads image bytes and returns the `secure_url`. Synchronous: run it in a thread."""

    def __init__(
        self,
        cloudinary_url: Any,
        upload_prefix: str | None = None,
        *,
        timeout_s: float = 60.0,
    ) -> None:
        raw = cloudinary_url.get() if hasattr(cloudinary_url, "get") else str(cloudinary_url)
        self._account = parse_cloudinary_url(raw)
        self.upload_prefix = upload_prefix or self._account.upload_prefix or None
        self.timeout_s = timeout_s

    @property
    def cloud_name(self) -> str:
        return self._account.cloud_name

    def __repr__(self) -> str:  # never shows the secret
        return f"CloudinaryUploader(cloud_name={self.cloud_name!r})"

    def upload(self, data: bytes, folder: str, public_id: str) -> str:
        """Upload one image; ProviderError(UPLOAD_FAILED) on any failure."""
        import cloudinary.uploader  # lazy: the SDK builds an HTTP pool on import
        from cloudinary import exceptions as cex

        options: dict[str, Any] = {
            "folder": folder,
            "public_id": public_id,
            "resource_type": "image",
            "overwrite": True,
            "cloud_name": self._account.cloud_name,
            "api_key": self._account.api_key,
            "api_secret": self._account.api_secret,
            "timeout": self.timeout_s,
            "filename": f"{public_id}",
        }
        if self.upload_prefix:
            options["upload_prefix"] = self.upload_prefix
        try:
            result = cloudinary.uploader.upload(io.BytesIO(data), **options)
        except Exception as exc:  # SDK errors, sockets, bad JSON: all the same to callers
            log.warning("Cloudinary upload of %s/%s failed: %s", folder, public_id, exc)
            raise ProviderError(
                f"Cloudinary upload failed ({type(exc).__name__}: {exc}); the file is kept "
                "locally.",
                code="UPLOAD_FAILED",
                retryable=not isinstance(
                    exc, (cex.AuthorizationRequired, cex.BadRequest, cex.NotAllowed, cex.NotFound)
                ),
            ) from exc
        url = result.get("secure_url") if isinstance(result, dict) else None
        if not url:
            raise ProviderError(
                "Cloudinary answered without a secure_url; the file is kept locally.",
                code="UPLOAD_FAILED",
            )
        return str(url)
