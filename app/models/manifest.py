"""Every model file the app knows: where it lives under the models folder, what it is, and how to get it.

Sizes and SHA-256 values are public facts about the upstream files. This project cannot fetch the weights
itself (its machines have no internet), so each value carries a provenance note saying where it was read and
how many independent places agree on it. A value is marked confirmed only where two or more independent
public sources agree (and, for the insightface files, the value is also the one the upstream GitHub release
shows). An entry whose hash is not confirmed is never reported as "ok": verification says "unconfirmed".

Download order: official sources first, then well-known mirrors. Every source is checked against the same
size and hash, so a mirror that serves other bytes is simply rejected and the next one tried.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path, PurePosixPath

from app.models.extras import torch_available

INSIGHTFACE_LICENCE = "non-commercial research only (InsightFace)"
INSIGHTFACE_LICENCE_URL = "https://github.com/deepinsight/insightface/tree/master/python-package#license"
GFPGAN_LICENCE = "Apache-2.0 (GFPGAN)"
GFPGAN_LICENCE_URL = "https://github.com/TencentARC/GFPGAN/blob/master/LICENSE"
GFPGAN_LICENCE_NOTE = (
    "TencentARC's License_GFPGAN.txt puts GFPGAN under Apache-2.0 except listed third-party components "
    "(StyleGAN2 code under NVIDIA's non-commercial licence, DFDNet code under CC BY-NC-SA 4.0); the v1.4 "
    "'clean' architecture does not use StyleGAN2's CUDA ops. Review before commercial use."
)

_IF_RELEASE_V07 = "https://github.com/deepinsight/insightface/releases/download/v0.7/"
# The insightface package (2.x) downloads from this tag; GitHub shows SHA-256 digests for its assets.
_IF_RELEASE_ZOO = "https://github.com/deepinsight/insightface/releases/download/model-zoo/"
_DLC_HF = "https://huggingface.co/hacksider/deep-live-cam/resolve/main/"
_REACTOR_HF = "https://huggingface.co/datasets/Gourieff/ReActor/resolve/main/models/"


@dataclass(frozen=True)
class Archive:
    """A zip that holds several model files; downloaded whole, verified, then the needed members extracted."""

    name: str  # the archive's file name, e.g. 'buffalo_l.zip'
    size: int
    sha256: str
    provenance: str
    urls: tuple[str, ...]  # official first


@dataclass(frozen=True)
class ModelFile:
    key: str  # stable identifier used in code and on the command line
    relpath: str  # path under the models folder, '/'-separated
    purpose: str
    required: bool  # needed for a plain swap
    _: KW_ONLY
    size: int | None = None  # bytes; None when not known in advance
    sha256: str | None = None  # lower-case hex; None when not known in advance
    hash_confirmed: bool = False  # False: the hash (if any) is never trusted as proof of a good file
    provenance: str = ""  # where size and hash come from
    licence: str = ""
    licence_url: str = ""
    urls: tuple[str, ...] = ()  # direct downloads of this very file, official first, then mirrors
    archive: Archive | None = None  # official source when the file ships inside a zip (tried before urls)
    member: str | None = None  # the file's name inside `archive`
    default_download: bool = False  # fetched by a plain `models download` (required files always are)
    note: str = ""  # anything a user should know, e.g. how to make a file that has no download

    @property
    def filename(self) -> str:
        return PurePosixPath(self.relpath).name

    def path_in(self, models_dir: Path) -> Path:
        return Path(models_dir).joinpath(*PurePosixPath(self.relpath).parts)

    @property
    def downloadable(self) -> bool:
        return bool(self.urls) or self.archive is not None

    @property
    def fetched_by_default(self) -> bool:
        return self.required or self.default_download

    @property
    def trusted_sha256(self) -> str | None:
        """The hash a file must match to count as good; None when no hash is confirmed."""
        return self.sha256 if self.hash_confirmed else None

    @property
    def need(self) -> str:
        if self.required:
            return "required"
        return "default" if self.default_download else "optional"


BUFFALO_L = Archive(
    name="buffalo_l.zip",
    size=288_621_354,
    sha256="80ffe37d8a5940d59a7384c201a2a38d4741f2f3c51eef46ebb28218a7b0ca2f",
    provenance=(
        "size and SHA-256 agree across independent public manifests that pin the official insightface "
        "release asset (e.g. download scripts pinning v0.7/buffalo_l.zip and model-zoo/buffalo_l.zip, one "
        "noting the digest was read from GitHub's release page; the visionatrix model list pins the same "
        "hash for its mirror); size 288,621,354 appears in two of them"
    ),
    urls=(
        _IF_RELEASE_V07 + "buffalo_l.zip",
        _IF_RELEASE_ZOO + "buffalo_l.zip",
        "https://huggingface.co/andrey18106/visionatrix_models/resolve/main/insightface/buffalo_l.zip",
        _REACTOR_HF + "buffalo_l.zip",
    ),
)

_BUFFALO_MEMBER_PROVENANCE = (
    "SHA-256 from the 'Models Hashsum' section of Gourieff/ComfyUI-ReActor's README (buffalo_l members), "
    "repeated by independent manifests (SwarmUI FaceTools, visionatrix, others); size from Deep-Live-Cam's "
    "modules/model_downloader.py MODEL_SIZES, repeated by other manifests listing buffalo_l member sizes"
)


def _buffalo(
    key: str, member: str, purpose: str, size: int, sha256: str, *, required: bool, default_download: bool = False
) -> ModelFile:
    return ModelFile(
        key,
        f"buffalo_l/{member}",
        purpose,
        required,
        size=size,
        sha256=sha256,
        hash_confirmed=True,
        provenance=_BUFFALO_MEMBER_PROVENANCE,
        licence=INSIGHTFACE_LICENCE,
        licence_url=INSIGHTFACE_LICENCE_URL,
        # Deep-Live-Cam's Hugging Face repo hosts the unzipped members under buffalo_l/buffalo_l/.
        urls=(_DLC_HF + f"buffalo_l/buffalo_l/{member}",),
        archive=BUFFALO_L,
        member=member,
        default_download=default_download,
    )


INSWAPPER = ModelFile(
    "inswapper",
    "inswapper_128.onnx",
    "face swap",
    True,
    size=554_253_681,
    sha256="e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af",
    hash_confirmed=True,
    provenance=(
        "SHA-256 from the 'Models Hashsum' section of Gourieff/ComfyUI-ReActor's README (MD5 "
        "a3a155b90354160350efd66fed6b3d80 there too), repeated by independent manifests (SwarmUI FaceTools "
        "pairing it with the ReActor mirror, a download script pinning it from GitHub's digest of "
        "model-zoo/inswapper_128.onnx); size 554,253,681 from Deep-Live-Cam's modules/model_downloader.py "
        "and two other manifests pinning the official release asset"
    ),
    licence=INSIGHTFACE_LICENCE,
    licence_url=INSIGHTFACE_LICENCE_URL,
    urls=(
        _IF_RELEASE_V07 + "inswapper_128.onnx",
        _IF_RELEASE_ZOO + "inswapper_128.onnx",
        _DLC_HF + "inswapper_128.onnx",
        _REACTOR_HF + "inswapper_128.onnx",
        # FaceFusion's copy is recommended by ReActor as a replacement; no public SHA-256 ties it to the
        # value above (FaceFusion publishes CRC32 only), so it goes last and must pass the same check.
        "https://github.com/facefusion/facefusion-assets/releases/download/models/inswapper_128.onnx",
    ),
)

# Opt-in: the same swapper in fp16 for onnxruntime on a GPU (--precision fp16), checked against fp32 on a probe
# face at load (app/core/fp16_guard.py). Half the size; the torch backend makes its own fp16 from the fp32 file.
INSWAPPER_FP16 = ModelFile(
    "inswapper-fp16",
    "inswapper_128_fp16.onnx",
    "face swap, fp16 (onnxruntime on a GPU, --precision fp16)",
    False,
    size=277_680_638,
    sha256="6d51a9278a1f650cffefc18ba53f38bf2769bf4bbff89267822cf72945f8a38b",
    hash_confirmed=True,
    provenance=(
        "size and SHA-256 from public manifests that pin FaceFusion's published asset (the project's issue 11 "
        "records both); FaceFusion itself publishes CRC32 only"
    ),
    licence=INSIGHTFACE_LICENCE,
    licence_url=INSIGHTFACE_LICENCE_URL,
    urls=("https://github.com/facefusion/facefusion-assets/releases/download/models/inswapper_128_fp16.onnx",),
)

DETECTOR = _buffalo(
    "detector",
    "det_10g.onnx",
    "face detection (SCRFD-10GF)",
    16_923_827,
    "5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91",
    required=True,
)
RECOGNIZER = _buffalo(
    "recognizer",
    "w600k_r50.onnx",
    "face recognition (ArcFace R50, WebFace600K)",
    174_383_860,
    "4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43",
    required=True,
)
# Optional for a plain swap, fetched by default: the mouth mask and the face-outline mask need it (5 MB).
LANDMARK_2D = _buffalo(
    "landmark-2d106",
    "2d106det.onnx",
    "2D 106-point landmarks (mouth mask, face-outline mask)",
    5_030_888,
    "f001b856447c413801ef5c42091ed0cd516fcd21f2d6b79635b1e733a7109dbf",
    required=False,
    default_download=True,
)
# The rest of buffalo_l: unused by the engine, listed so insightface's own FaceAnalysis can be fed if wanted.
LANDMARK_3D = _buffalo(
    "landmark-3d68",
    "1k3d68.onnx",
    "3D 68-point landmarks (insightface only; not used by the engine)",
    143_607_619,
    "df5c06b8a0c12e422b2ed8947b8869faa4105387f199c477af038aa01f9a45cc",
    required=False,
)
GENDERAGE = _buffalo(
    "genderage",
    "genderage.onnx",
    "gender and age (insightface only; not used by the engine)",
    1_322_532,
    "4fde69b1c810857b88c64a335084f1c3fe8f01246c9a191b48c7bb756d6652fb",
    required=False,
)

RESTORER_PTH = ModelFile(
    "gfpgan",
    "GFPGANv1.4.pth",
    "face restoration (GFPGAN v1.4 checkpoint)",
    False,
    size=348_632_874,
    sha256="e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad",
    hash_confirmed=True,
    provenance=(
        "SHA-256 agrees across many independent manifests pinning TencentARC's v1.3.0 release asset (and "
        "SwarmUI FaceTools pairing it with the ReActor mirror); size 348,632,874 from two independent "
        "manifests"
    ),
    licence=GFPGAN_LICENCE,
    licence_url=GFPGAN_LICENCE_URL,
    urls=(
        "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth",
        # The same asset re-attached to a later TencentARC release; many projects download it from there.
        "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.4/GFPGANv1.4.pth",
        _DLC_HF + "GFPGANv1.4.pth",
        _REACTOR_HF + "facerestore_models/GFPGANv1.4.pth",
    ),
    default_download=True,
    note=GFPGAN_LICENCE_NOTE,
)

RESTORER_ONNX = ModelFile(
    "gfpgan-onnx",
    "GFPGANv1.4.onnx",
    "face restoration (GFPGAN v1.4, ONNX)",
    False,
    hash_confirmed=False,
    provenance=(
        "produced locally by this project's converter from GFPGANv1.4.pth; its bytes depend on the torch and "
        "onnx versions used, so there is no fixed public hash"
    ),
    licence=GFPGAN_LICENCE,
    licence_url=GFPGAN_LICENCE_URL,
    note=(
        "no download: it is made from GFPGANv1.4.pth by app/models/gfpgan_convert.py (needs the 'convert' "
        "extra, i.e. torch); the restorer converts on first use"
    ),
)

MODEL_FILES: tuple[ModelFile, ...] = (
    INSWAPPER,
    INSWAPPER_FP16,
    DETECTOR,
    RECOGNIZER,
    LANDMARK_2D,
    RESTORER_PTH,
    RESTORER_ONNX,
    LANDMARK_3D,
    GENDERAGE,
)


def required_files(files: Iterable[ModelFile] = MODEL_FILES) -> tuple[ModelFile, ...]:
    return tuple(f for f in files if f.required)


def default_downloads(
    files: Iterable[ModelFile] = MODEL_FILES, can_convert: bool | None = None
) -> tuple[ModelFile, ...]:
    """What a plain `models download` fetches. GFPGANv1.4.pth only where it can be converted to ONNX (an
    install with torch; not the packaged app), since a .pth is of no use otherwise."""
    if can_convert is None:
        can_convert = torch_available()
    return tuple(f for f in files if f.fetched_by_default and f.downloadable and (can_convert or f != RESTORER_PTH))


def lookup(name: str, files: Sequence[ModelFile] = MODEL_FILES) -> tuple[ModelFile, ...]:
    """The files a user means by `name`: a key, a path under the models folder, a file name, or an archive.

    An archive name ('buffalo_l' or 'buffalo_l.zip') means its members fetched by default (what a swap
    needs); the other members are named one by one. Returns () when nothing matches.
    """
    wanted = name.strip().replace("\\", "/")
    direct = tuple(f for f in files if wanted in (f.key, f.relpath, f.filename))
    if direct:
        return direct
    return tuple(
        f
        for f in files
        if f.archive is not None
        and wanted in (f.archive.name, PurePosixPath(f.archive.name).stem)
        and f.fetched_by_default
    )


def human_size(size: int | None) -> str:
    """Bytes in decimal units, as download pages state model sizes (554.3 MB)."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover
