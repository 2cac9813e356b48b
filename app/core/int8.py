"""An opt-in int8 swapper for CPUs: where a static int8 copy of inswapper_128.onnx is cached, its state, finding it
(building it is `int8_build`'s).

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
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from app.core.atomic import write_bytes_atomically
from app.core.int8_report import Int8Report
from app.errors import ModelError
from app.models import manifest
from app.models.status import sha256_file

log = logging.getLogger(__name__)

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


def build_name_pattern(source: Path) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(source.stem)}\.([0-9a-f]{{12}})\.int8\.(onnx|json)$")


def _read_report(path: Path) -> Int8Report | None:
    try:
        return Int8Report.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable int8 report %s: %s", path, exc)
        return None


def write_report(path: Path, report: Int8Report) -> None:
    write_bytes_atomically(path, (json.dumps(report.to_json(), indent=2) + "\n").encode("utf-8"))


def _current_digest(source: Path) -> str:
    """The source's sha256: from a report whose recorded size and mtime still match, else by hashing (then
    recorded in that build's report, so the next start is quick again)."""
    st = source.stat()
    pattern = build_name_pattern(source)
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
            write_report(rpath, replace(report, source_size=st.st_size, source_mtime_ns=st.st_mtime_ns))
        except Exception:  # a read-only folder: the next start hashes again, nothing worse
            log.debug("could not refresh %s", rpath, exc_info=True)
    return digest


def int8_status(models_dir: Path) -> Int8Status:
    """Where the int8 swapper stands (never raises): for the GUI, `models list` and status pages. Quick: the
    source is hashed only when a build exists whose recorded size or modification time no longer match."""
    source = Path(models_dir) / manifest.INSWAPPER.relpath
    if not source.is_file():
        return Int8Status("no-model", f"{source} is missing, so there is nothing to optimize")
    pattern = build_name_pattern(source)
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
