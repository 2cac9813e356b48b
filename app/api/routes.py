"""The endpoints, with the original backend's names, fields and defaults. No image math here: each handler
checks its inputs, builds the engine's options and runs the engine in the inference pool."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response

from app import __version__
from app.api.errors import ERROR_RESPONSES, ApiError, describe_note, scrub
from app.api.forms import options_dependency
from app.api.security import api_key_dependency
from app.api.settings import ApiSettings
from app.api.state import ApiState
from app.api.uploads import Upload, check_header, decode, read_upload
from app.core.engine import SourceFace
from app.core.identity import source_from_images
from app.core.image_io import encode_image
from app.core.options import RESTORE_FORM, SWAP_FORM, SwapOptions
from app.core.ort_runtime import available_providers
from app.core.processor import FrameProcessor
from app.core.types import Frame
from app.errors import NoFaceError

API_NAME = "Deep Live Cam API"
MAX_SOURCE_PHOTOS = 8  # several photos of one person make one identity; the body limit allows this many
SOURCE_HELP = ("photo with the face to use; several source_face parts (photos of one person, up to "
               f"{MAX_SOURCE_PHOTOS}, together within the request size limit) make one identity, each photo's "
               "quality in X-Source-Quality")
JPEG_QUALITY = 90

swap_options = options_dependency(SWAP_FORM)
restore_options = options_dependency(RESTORE_FORM)


def _png(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"image/png": {}}, "description": description}, **ERROR_RESPONSES}


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.dlc
    return state


async def _uploads(state: ApiState, *files: tuple[UploadFile, str]) -> list[Upload]:
    """Read and header-check every file before the request takes a place in the pool."""
    settings = state.settings
    uploads = [await read_upload(f, name, settings.max_upload_bytes) for f, name in files]
    for upload in uploads:
        check_header(upload, settings.max_pixels)
    return uploads


@dataclass(frozen=True, eq=False)
class PreparedSource:
    source: SourceFace
    report: tuple[str, ...]  # each photo's quality, when several made one identity


def _source(state: ApiState, uploads: list[Upload], options: SwapOptions) -> tuple[PreparedSource, bool]:
    """The prepared source of the uploaded photo(s): several photos of one person make one identity, each photo
    scored. The same bytes again are not even decoded."""
    key = b"".join(state.upload_key(u.data) for u in uploads)

    def make() -> PreparedSource:
        images = [(f"photo {i + 1}", decode(u, state.settings.max_pixels)) for i, u in enumerate(uploads)]
        source, identity = source_from_images(state.engine, images, options)
        return PreparedSource(source, tuple(identity.report_lines()) if identity is not None else ())

    return state.sources.get_or_make(key, make)


async def _swap(state: ApiState, sources: list[UploadFile], target: tuple[UploadFile, str], options: SwapOptions,
                encode: Callable[[Frame], bytes], require_face: bool) -> tuple[bytes, dict[str, str]]:
    """The swap endpoints' work: the encoded result and its headers (how many faces were swapped, whether the
    source came from the cache, the source photos' quality, notes). Decoding, the swap and encoding run in the
    inference pool."""
    if not sources:
        raise ApiError(422, "missing_field", "source_face: field required")
    if len(sources) > MAX_SOURCE_PHOTOS:
        raise ApiError(422, "invalid_parameter", f"source_face: at most {MAX_SOURCE_PHOTOS} photos")
    state.require(state.engine.roles_for(options))
    *srcs, tgt = await _uploads(state, *[(f, "source_face") for f in sources], target)

    def job() -> tuple[bytes, dict[str, str]]:
        prepared, hit = _source(state, srcs, options)
        result = FrameProcessor(state.engine).process(decode(tgt, state.settings.max_pixels), prepared.source,
                                                      options)
        if require_face and not result.faces:
            raise NoFaceError(f"no face found in {target[1]}")
        headers = {"X-Faces-Swapped": str(len(result.faces)), "X-Source-Cache": "hit" if hit else "miss"}
        if prepared.report:
            headers["X-Source-Quality"] = _header_text(" | ".join(prepared.report))
        if result.notes:
            headers["X-Notes"] = _header_text(" | ".join(describe_note(n.text, n.fetch) for n in result.notes))
        return encode(result.frame), headers

    return await state.pool.run(job)


def _header_text(text: str) -> str:
    """A header value: no server paths, plain ASCII."""
    return scrub(text).encode("ascii", "replace").decode("ascii")


def _image(data: bytes, media_type: str, started: float, **headers: str) -> Response:
    headers["X-Process-Ms"] = f"{(time.perf_counter() - started) * 1000.0:.1f}"
    return Response(content=data, media_type=media_type, headers=headers)


def build_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter()
    api = APIRouter(prefix="/api", tags=["processing"], dependencies=[Depends(api_key_dependency(settings))]
                    if settings.api_key else [])

    @router.get("/", tags=["status"], summary="API name, version and the models")
    async def root(request: Request) -> dict[str, Any]:
        state = _state(request)
        return {
            "name": API_NAME,
            "version": __version__,
            "models": {m["name"]: m["loaded"] for m in state.model_status()},
            "docs": "/docs",
        }

    @router.get("/health", tags=["status"], summary="Status, device and per-model status")
    async def health(request: Request) -> dict[str, Any]:
        state = _state(request)
        available = available_providers()
        return {
            "status": "ok" if state.ready() else "degraded",
            "version": __version__,
            "device": {
                "providers": state.models.providers,
                "available_providers": available,
                "cuda": "CUDAExecutionProvider" in available,
                "cpu_count": os.cpu_count() or 1,
            },
            "models": state.model_status(),
            "pool": state.pool.stats(),
            "source_cache": state.sources.stats(),
        }

    @api.post("/face-swap", response_class=Response, responses=_png("the target image with its faces swapped"),
              summary="Put the face of source_face onto every face of target_image")
    async def face_swap(
        request: Request,
        source_face: Annotated[list[UploadFile], File(description=SOURCE_HELP)],
        target_image: Annotated[UploadFile, File(description="photo whose faces are replaced")],
        options: Annotated[SwapOptions, Depends(swap_options)],
    ) -> Response:
        started = time.perf_counter()
        data, headers = await _swap(_state(request), source_face, (target_image, "target_image"), options,
                                    lambda frame: encode_image(frame, ".png"), require_face=True)
        headers.pop("X-Source-Cache")
        return _image(data, "image/png", started, **headers)

    @api.post("/face-restore", response_class=Response, responses=_png("the image with its faces restored"),
              summary="Restore every face of an image (GFPGAN v1.4)")
    async def face_restore(
        request: Request,
        image: Annotated[UploadFile, File(description="photo whose faces are restored")],
        options: Annotated[SwapOptions, Depends(restore_options)],
    ) -> Response:
        started = time.perf_counter()
        state = _state(request)
        state.require(state.engine.roles_for(options, swapping=False))
        (upload,) = await _uploads(state, (image, "image"))
        max_px = state.settings.max_pixels

        def job() -> tuple[bytes, int]:
            result = FrameProcessor(state.engine, restore_only=True).process(decode(upload, max_px), None, options)
            if not result.faces:
                raise NoFaceError("no face found in image")
            return encode_image(result.frame, ".png"), len(result.faces)

        data, count = await state.pool.run(job)
        return _image(data, "image/png", started, **{"X-Faces-Restored": str(count)})

    @api.post("/face-swap-video-frame", response_class=Response,
              responses={200: {"content": {"image/jpeg": {}}, "description": "the frame, swapped (JPEG)"},
                         **ERROR_RESPONSES},
              summary="The fast path for streaming: one video frame; a source face already seen is reused")
    async def face_swap_video_frame(
        request: Request,
        source_face: Annotated[list[UploadFile], File(description=SOURCE_HELP + " (send the same bytes)")],
        frame: Annotated[UploadFile, File(description="the video frame")],
        options: Annotated[SwapOptions, Depends(swap_options)],
    ) -> Response:
        started = time.perf_counter()
        # A frame without a face is normal in a stream: it comes back unchanged (X-Faces-Swapped: 0).
        data, headers = await _swap(_state(request), source_face, (frame, "frame"), options,
                                    lambda out: encode_image(out, ".jpg", JPEG_QUALITY), require_face=False)
        return _image(data, "image/jpeg", started, **headers)

    router.include_router(api)
    return router
