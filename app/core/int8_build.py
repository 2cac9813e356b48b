"""Building the int8 swapper (`models optimize`, the model dialog's "Optimize for CPU"): calibrate, quantise,
check against fp32, save beside the model with its report. Finding and loading a build is `int8`'s; this
module is apart because it loads the face models (ModelSet) to calibrate, while ModelSet loads builds.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.atomic import temp_beside
from app.core.int8 import build_name_pattern, int8_path, report_path, write_report
from app.core.int8_report import DEFAULT_MIN_PSNR_DB, Int8Report, Progress
from app.errors import Cancelled, ModelError, OutputError
from app.models import manifest
from app.models.status import HashCancelled, sha256_file

log = logging.getLogger(__name__)

STALE_PART_S = 3600.0  # a hidden temporary file older than this is left over from a killed build


def _hash_progress(progress: Progress | None, name: str) -> Any:
    if progress is None:
        return None
    return lambda done, total: progress(f"reading {name}", done, total)


def build_int8_swapper(
    models_dir: Path,
    sources: Sequence[Path] = (),
    *,
    min_psnr_db: float = DEFAULT_MIN_PSNR_DB,
    progress: Progress | None = None,
) -> Int8Report:
    """Build the int8 copy of `<models_dir>/inswapper_128.onnx` calibrated on the shipped photos and `sources`
    (the user's own photos), check it against fp32 on held-back faces, and save it with its report.

    Always builds (it is what the user asked for); the int8 file is kept even when its quality is below
    `min_psnr_db`, and the report says it is not enabled. `progress(stage, done, total)` returning False
    cancels (Cancelled; nothing is left under a finished name).
    Errors: ModelError (a model file missing or not an inswapper), InputError (a photo cannot be read),
    NoFaceError (a photo without a face), OutputError (the models folder is not writable), Cancelled.
    """
    # The heavy parts (onnx, the quantiser, the face models) load only when a build is asked for.
    from app.core.ort_runtime import import_onnxruntime, onnxruntime_version

    import_onnxruntime()  # a clear ModelError, before the quantiser's import fails on it
    from app.core.int8_calibration import collect_faces, photo_labels, read_photos, shipped_photos, split
    from app.core.int8_quantize import compare, load_source, quantize
    from app.core.sessions import ModelSet, missing_files_message

    started = time.perf_counter()
    models_dir = Path(models_dir)
    source = models_dir / manifest.INSWAPPER.relpath
    if not source.is_file():
        raise ModelError(missing_files_message([source]), fetch=(manifest.INSWAPPER.key,))
    user_photos = read_photos(sources)
    models = ModelSet(models_dir, ["CPUExecutionProvider"])
    models.require(["detector", "recognizer"])
    st = source.stat()
    try:
        digest = sha256_file(source, progress=_hash_progress(progress, source.name))
    except HashCancelled as exc:
        raise Cancelled("cancelled while reading the model") from exc
    loaded = load_source(source)
    faces = split(collect_faces(models, loaded.emap, user_photos, progress))
    dst = int8_path(source, digest)
    _remove_leftovers(dst)
    tmp = temp_beside(dst)
    try:
        log.info("quantising %s on %d face(s)", source.name, len(faces.calibration))
        quantize(loaded, tmp, faces.calibration, progress)
        del loaded
        quality = compare(source, tmp, faces.held_out, progress)
        report = Int8Report(
            model=dst.name,
            source=source.name,
            source_sha256=digest,
            source_size=st.st_size,
            source_mtime_ns=st.st_mtime_ns,
            int8_size=tmp.stat().st_size,
            quality=quality,
            bound_db=float(min_psnr_db),
            calibration_faces=faces.calibration_labels,
            held_out_faces=faces.held_out_labels,
            user_photos=tuple(str(p) for p, _ in user_photos),
            seconds=round(time.perf_counter() - started, 1),
            onnxruntime=onnxruntime_version(),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            shipped_photos=photo_labels(shipped_photos()),
        )
        report_path(dst).unlink(missing_ok=True)  # the old report must not vouch for the new file
        os.replace(tmp, dst)
    except OSError as exc:  # a full disk while the quantiser writes, mostly
        raise OutputError(f"cannot write the int8 swapper {dst}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    write_report(report_path(dst), report)
    _remove_stale_builds(dst)
    log.info("int8 swapper %s: %s", "enabled" if report.enabled else "NOT enabled", report.summary())
    return report


def _remove_stale_builds(keep: Path) -> None:
    """Builds for earlier source files are ~140 MB each and never used again."""
    pattern = build_name_pattern(keep.parent / manifest.INSWAPPER.relpath)
    for other in keep.parent.iterdir():
        m = pattern.match(other.name)
        if m and other.name not in (keep.name, report_path(keep).name):
            try:
                other.unlink()
                log.info("removed stale int8 build file %s", other)
            except OSError:
                log.warning("could not remove stale int8 build file %s", other)


def _remove_leftovers(dst: Path) -> None:
    """Hidden temporary files of killed builds (a build that ended in any other way removed its own)."""
    now = time.time()
    stem = dst.name.split(".", 1)[0]
    for other in dst.parent.glob(f".{stem}.*.int8.onnx.*.part"):
        try:
            if now - other.stat().st_mtime > STALE_PART_S:
                other.unlink()
        except OSError:
            pass
