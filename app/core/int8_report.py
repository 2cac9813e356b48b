"""The int8 swapper's quality numbers and report (light: the CLI and the GUI import it at start-up)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_MIN_PSNR_DB = 30.0
REPORT_FORMAT = 1

# (what is being done, how many done, how many in all) -> False to stop
Progress = Callable[[str, int, int], bool]


@dataclass(frozen=True)
class Quality:
    """int8 against fp32 on the same inputs, on the 8-bit pixels a swap produces."""

    psnr_db: float  # all compared faces together
    worst_face_psnr_db: float
    worst_pixel_error: int  # largest difference of one channel of one pixel, in 0..255 levels
    mean_abs_error: float  # in 0..255 levels
    faces: int
    per_face_psnr_db: tuple[float, ...]


@dataclass(frozen=True)
class Int8Report:
    """What a build measured, saved as JSON beside the int8 file."""

    model: str  # the int8 file's name
    source: str  # the fp32 file's name
    source_sha256: str
    source_size: int
    source_mtime_ns: int
    int8_size: int
    quality: Quality
    bound_db: float
    calibration_faces: tuple[str, ...]
    held_out_faces: tuple[str, ...]
    user_photos: tuple[str, ...]
    seconds: float
    onnxruntime: str
    created: str
    # The photos shipped with installed packages that gave faces: insightface's are there only when insightface
    # is installed (it is no run-time dependency); scikit-image's astronaut always is. Empty in older reports.
    shipped_photos: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        """Every held-back face reached the bound."""
        return self.quality.worst_face_psnr_db >= self.bound_db

    def summary(self) -> str:
        q = self.quality
        lines = [
            f"int8 against fp32 on {q.faces} face(s) held back from calibration ({len(self.calibration_faces)} "
            f"calibrated on): PSNR {q.psnr_db:.1f} dB, worst face {q.worst_face_psnr_db:.1f} dB, worst pixel error "
            f"{q.worst_pixel_error}/255, mean error {q.mean_abs_error:.2f}/255.",
        ]
        if self.shipped_photos:
            lines.append(f"Shipped photos used: {', '.join(self.shipped_photos)}"
                         + ("." if any(p.startswith("insightface ") for p in self.shipped_photos) else
                            " (insightface's sample photos were not: it is not installed)."))
        if self.enabled:
            lines.append(f"Passed the {self.bound_db:g} dB bound: enabled for `--precision int8` on the CPU.")
        else:
            lines.append(
                f"Below the {self.bound_db:g} dB bound: NOT enabled; the swap stays fp32. Calibrating on your own "
                "source photos may help."
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = REPORT_FORMAT
        data["enabled"] = self.enabled
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Int8Report:
        """Raises ValueError (or KeyError/TypeError) for anything that is not a report of this format."""
        if data.get("format") != REPORT_FORMAT:
            raise ValueError(f"report format {data.get('format')!r}")
        fields = {k: v for k, v in data.items() if k not in ("format", "enabled")}
        q = dict(fields.pop("quality"))
        q["per_face_psnr_db"] = tuple(q["per_face_psnr_db"])
        for key in ("calibration_faces", "held_out_faces", "user_photos", "shipped_photos"):
            if key in fields:
                fields[key] = tuple(fields[key])
        return cls(quality=Quality(**q), **fields)
