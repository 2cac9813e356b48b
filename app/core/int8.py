"""An opt-in int8 swapper for CPUs: build, check, cache and find a static int8 copy of inswapper_128.onnx.

On a CPU the int8 copy runs a face about twice as fast as fp32 (VNNI CPUs more). It is never used unless the
user asks (`--precision int8`, a GUI setting), and never before its quality was measured: PSNR and worst-pixel
error of its output against fp32 on aligned faces held back from calibration (see `int8_calibration`). Below
the bound (30 dB on the worst face by default) it is built and kept but not enabled, and says so.

Files, beside the model (`<models>/inswapper_128.onnx`):
- `inswapper_128.<first 12 hex of its sha256>.int8.onnx`: the int8 copy. A different source file (another
  hash) means a new build; the same one is never rebuilt unless asked. Builds for earlier files are removed.
- `inswapper_128.<hash>.int8.json`: the quality report, so later starts know without recomputing. It also
  holds the source's size and modification time: when both still match, the 550 MB file is not hashed again.
The int8 file is written to a hidden temporary file, checked, then renamed; the report comes last. An
interrupted build leaves nothing that looks finished (a model without its report is not used).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from app.core.atomic import temp_beside, write_bytes_atomically
from app.core.int8_report import DEFAULT_MIN_PSNR_DB, Int8Report, Progress
from app.errors import Cancelled, ModelError, OutputError
from app.models import manifest
from app.models.status import HashCancelled, sha256_file

log = logging.getLogger(__name__)

STALE_PART_S = 3600.0  # a hidden temporary file older than this is left over from a killed build

Int8State = Literal["ready", "rejected", "not-built", "stale", "no-model"]
# What fixes a state: fetch the model, build the int8 copy, or build it calibrated on the user's photos. Each
# front end words it (a command, a button).
Int8Fix = Literal["fetch", "build", "calibrate"]
_FIX: dict[Int8State, Int8Fix | None] = {"ready": None, "rejected": "calibrate", "not-built": "build",
                                         "stale": "build", "no-model": "fetch"}


@dataclass(frozen=True)
class Int8Status:
    """Where the int8 swapper of a models folder stands, in words that hold for every front end."""

    state: Int8State
    message: str
    path: Path | None = None
    report: Int8Report | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def fix(self) -> Int8Fix | None:
        return _FIX[self.state]


class Int8NotReady(ModelError):
    """`--precision int8` was asked for, and there is no int8 swapper that may be used; `fix` says what helps."""

    def __init__(self, status: Int8Status) -> None:
        super().__init__(f"--precision int8: {status.message}",
                         fetch=(manifest.INSWAPPER.key,) if status.fix == "fetch" else None)
        self.fix = status.fix


def int8_path(source: Path, sha256: str) -> Path:
    return source.with_name(f"{source.stem}.{sha256[:12]}.int8.onnx")


def report_path(int8: Path) -> Path:
    return int8.with_suffix(".json")


def _build_re(source: Path) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(source.stem)}\.([0-9a-f]{{12}})\.int8\.(onnx|json)$")


def _read_report(path: Path) -> Int8Report | None:
    try:
        return Int8Report.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable int8 report %s: %s", path, exc)
        return None


def _write_report(path: Path, report: Int8Report) -> None:
    write_bytes_atomically(path, (json.dumps(report.to_json(), indent=2) + "\n").encode("utf-8"))


def _current_digest(source: Path) -> str:
    """The source's sha256: from a report whose recorded size and mtime still match, else by hashing (then
    recorded in that build's report, so the next start is quick again)."""
    st = source.stat()
    pattern = _build_re(source)
    for candidate in sorted(source.parent.glob(f"{source.stem}.*.int8.json")):
        if not pattern.match(candidate.name):
            continue
        report = _read_report(candidate)
        if report and report.source_size == st.st_size and report.source_mtime_ns == st.st_mtime_ns:
            return report.source_sha256
    digest = sha256_file(source)
    rpath = report_path(int8_path(source, digest))
    report = _read_report(rpath) if rpath.is_file() else None
    if report is not None and report.source_sha256 == digest:
        try:
            _write_report(rpath, replace(report, source_size=st.st_size, source_mtime_ns=st.st_mtime_ns))
        except Exception:  # a read-only folder: the next start hashes again, nothing worse
            log.debug("could not refresh %s", rpath, exc_info=True)
    return digest


def int8_status(models_dir: Path) -> Int8Status:
    """Where the int8 swapper stands (never raises): for the GUI, `models list` and status pages. Quick: the
    source is hashed only when a build exists whose recorded size or modification time no longer match."""
    source = Path(models_dir) / manifest.INSWAPPER.relpath
    if not source.is_file():
        return Int8Status("no-model", f"{source} is missing, so there is nothing to optimize")
    pattern = _build_re(source)
    try:
        builds = [p for p in source.parent.iterdir() if pattern.match(p.name)]
        if not any(p.suffix == ".json" for p in builds):
            interrupted = " (an earlier build did not finish)" if builds else ""
            return Int8Status("not-built", f"no int8 swapper has been built{interrupted}; building and checking "
                                           "it takes a few minutes, once")
        digest = _current_digest(source)
    except OSError as exc:
        return Int8Status("not-built", f"cannot read {source}: {exc.strerror or exc}")
    path = int8_path(source, digest)
    rpath = report_path(path)
    report = _read_report(rpath) if rpath.is_file() else None
    if report is None or report.source_sha256 != digest:
        return Int8Status("stale", f"{source.name} changed since the int8 swapper was built; it must be built "
                                   "again for the current file")
    if not path.is_file() or path.stat().st_size != report.int8_size:
        return Int8Status("not-built", f"the int8 swapper {path.name} is missing or incomplete; it must be "
                                       "built again", path, report)
    if report.enabled:
        return Int8Status("ready", f"int8 swapper ready ({report.quality.worst_face_psnr_db:.1f} dB on the "
                                   f"worst held-back face; bound {report.bound_db:g} dB).", path, report)
    return Int8Status("rejected", f"the int8 swapper reached only {report.quality.worst_face_psnr_db:.1f} dB "
                                  f"on the worst held-back face, below the {report.bound_db:g} dB bound, so it "
                                  "is not used; use fp32, or build it again calibrated on your own photos",
                        path, report)


def int8_swapper(models_dir: Path) -> Path:
    """The int8 inswapper to load for `--precision int8` on the CPU. Raises Int8NotReady (a ModelError saying
    what fixes it) when there is none for the current inswapper_128.onnx or its quality failed."""
    status = int8_status(models_dir)
    if status.ready and status.path is not None:
        return status.path
    raise Int8NotReady(status)


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
    _write_report(report_path(dst), report)
    _remove_stale_builds(dst)
    log.info("int8 swapper %s: %s", "enabled" if report.enabled else "NOT enabled", report.summary())
    return report


def _remove_stale_builds(keep: Path) -> None:
    """Builds for earlier source files are ~140 MB each and never used again."""
    pattern = _build_re(keep.parent / manifest.INSWAPPER.relpath)
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
