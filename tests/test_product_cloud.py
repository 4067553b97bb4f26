"""Cloudinary uploads through the real SDK against a local fake server (upload_prefix)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.errors import OptionsError, ProviderError
from pipeline.product.cloud import CloudinaryUploader, parse_cloudinary_url
from socialopt.settings import Secret
from tests.fakes.cloudinary import FakeCloudinary


@pytest.fixture
def fake() -> Iterator[FakeCloudinary]:
    server = FakeCloudinary().start()
    yield server
    server.stop()


def test_upload_returns_secure_url(fake: FakeCloudinary) -> None:
    uploader = CloudinaryUploader(fake.cloudinary_url, upload_prefix=fake.url)
    url = uploader.upload(b"\x89PNG fake bytes", "socialopt/s1", "product_floating_x_1x1")
    assert url == (
        "https://res.cloudinary.test/demo/image/upload/v1/socialopt/s1/product_floating_x_1x1"
    )
    (up,) = fake.uploads
    assert up.file == b"\x89PNG fake bytes"
    assert up.fields["folder"] == "socialopt/s1"
    assert up.fields["public_id"] == "product_floating_x_1x1"
    assert up.fields["api_key"] == "1234" and up.fields["signature"]


def test_secret_and_prefix_in_the_url(fake: FakeCloudinary) -> None:
    uploader = CloudinaryUploader(Secret(f"{fake.cloudinary_url}?upload_prefix={fake.url}"))
    assert uploader.upload(b"data", "f", "p").endswith("/f/p")
    assert "s3cr3t" not in repr(uploader)


def test_global_cloudinary_config_is_left_alone(fake: FakeCloudinary) -> None:
    import cloudinary

    before = (cloudinary.config().cloud_name, cloudinary.config().api_key)
    CloudinaryUploader(fake.cloudinary_url, upload_prefix=fake.url).upload(b"d", "f", "p")
    assert (cloudinary.config().cloud_name, cloudinary.config().api_key) == before


@pytest.mark.parametrize("status", [500, 401])
def test_server_failures_become_upload_failed(fake: FakeCloudinary, status: int) -> None:
    fake.fail_status = status
    uploader = CloudinaryUploader(fake.cloudinary_url, upload_prefix=fake.url)
    with pytest.raises(ProviderError) as err:
        uploader.upload(b"data", "f", "p")
    assert err.value.code == "UPLOAD_FAILED"
    assert "kept locally" in err.value.message
    assert err.value.retryable is (status == 500)
    assert fake.uploads == []


def test_wrong_secret_is_rejected(fake: FakeCloudinary) -> None:
    uploader = CloudinaryUploader("cloudinary://1234:wrong@demo", upload_prefix=fake.url)
    with pytest.raises(ProviderError, match="Invalid Signature"):
        uploader.upload(b"data", "f", "p")


def test_unreachable_server_is_upload_failed() -> None:
    uploader = CloudinaryUploader(
        "cloudinary://k:s@demo", upload_prefix="http://127.0.0.1:9", timeout_s=2
    )
    with pytest.raises(ProviderError) as err:
        uploader.upload(b"data", "f", "p")
    assert err.value.code == "UPLOAD_FAILED"


def test_parse_url() -> None:
    acc = parse_cloudinary_url("cloudinary://key:se%2Fcret@my-cloud")
    assert (acc.cloud_name, acc.api_key, acc.api_secret) == ("my-cloud", "key", "se/cret")
    with pytest.raises(OptionsError):
        parse_cloudinary_url("https://example.com")
