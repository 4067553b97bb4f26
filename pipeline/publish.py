"""The publish step of a job: product photos per style and platform, and uploads.

Both are optional (asked for, and wired: a background remover, an uploader); neither fails
the job: what could not be made or uploaded is said in a warning.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from pipeline.errors import SocialOptError
from pipeline.intake import SourceImage
from pipeline.models import (
    ImageAnalysis,
    JobOptions,
    PlatformResult,
    ProductDecision,
    ProductPhoto,
    RenderedImage,
)
from pipeline.platforms import PlatformSpec
from pipeline.services import Services


def product_photos(
    source: SourceImage,
    analysis: ImageAnalysis,
    options: JobOptions,
    services: Services,
    specs: dict[str, PlatformSpec],
    results: dict[str, PlatformResult],
) -> tuple[ProductDecision | None, list[str]]:
    """Product photos per style and platform, when asked for, added to `results`; the
    decision and the warnings (why none were made, how the cut-out was done)."""
    if not options.product_styles:
        return None, []
    from pipeline.product.photos import decision_warning, make_product_photos

    if services.remover is None:
        return None, ["Product photography is not available on this installation."]
    targets = [
        (key, spec.choose_size(source.info.width, source.info.height))
        for key, spec in specs.items()
    ]
    decision, photos = make_product_photos(
        source.image,
        analysis,
        options.product_styles,
        targets,
        options.output_format,
        services.remover,
        logo=options.logo,
        openai_editor=services.image_editor,
        max_file_bytes={k: s.max_file_bytes for k, s in specs.items()},
        force=options.product_force,
        alpha=getattr(source, "alpha", None),
    )
    for photo in photos:
        if photo.platform in results:
            results[photo.platform].product_photos.append(photo)
    notes = list(services.remover.notes)
    said = decision_warning(decision)  # why none were made (or that they were made anyway)
    return decision, notes + ([said] if said else [])


def upload_all(
    results: dict[str, PlatformResult], session_id: str, services: Services
) -> list[str]:
    """Upload every generated image when an uploader is wired; the URLs go into `results`.
    Returns the warnings (a failed upload keeps the local files and says so)."""
    uploader = services.uploader
    if uploader is None:
        return []
    jobs: list[tuple[PlatformResult | ProductPhoto, RenderedImage, str]] = []
    for key, res in results.items():
        if res.image is not None:
            jobs.append((res, res.image, res.image.filename(key).rsplit(".", 1)[0]))
        for photo in res.product_photos:
            jobs.append((photo, photo.image, photo.filename.rsplit(".", 1)[0]))

    def upload(job: tuple[PlatformResult | ProductPhoto, RenderedImage, str]) -> str | None:
        target, image, public_id = job
        try:
            url = uploader.upload(image.data, f"socialopt/{session_id}", public_id)
        except SocialOptError as exc:
            return f"{public_id}: {exc.message}"
        if isinstance(target, PlatformResult):
            target.image_url = url
        else:
            target.url = url
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(upload, jobs) if f]
    if failures:
        return [f"Cloudinary upload failed for {len(failures)} file(s); the local files are kept."]
    return []
