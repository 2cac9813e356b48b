"""The user's choices, each declared once.

`SwapOptions` and `RestoreOptions` are frozen dataclasses whose user-facing fields are declared with
`option(...)`: default, range or choices, label and help text. Every front end derives its surface from these
declarations through a `Form` (a flat view of the fields, with the restore options nested under `restore`):
the CLI flags (app/commands/common.py), the API's form parameters and their OpenAPI descriptions
(app/api/forms.py), the GUI's controls (app/gui/option_controls.py) and the settings keys
(app/gui/settings.py). Adding a field is one declaration here plus the code that uses it.

Values are checked when an options object is built, so an out-of-range value from any front end is the same
OptionError (exit 2 on the command line, HTTP 422 from the API); the GUI's controls cannot produce one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, Generic, Literal, TypeVar

from app.core.masks import FaceMaskSpec, MaskShape, MouthMaskSpec
from app.errors import OptionError

FaceChoice = Literal["all", "largest"]
OthersChoice = Literal["swap", "keep"]
RenderChoice = Literal["auto", "fluid", "exact"]
UntilSwapped = Literal["original", "blur"]
Kind = Literal["float", "int", "bool", "choice"]
T = TypeVar("T")


@dataclass(frozen=True)
class Spec:
    """How one option is shown and checked. Names for the front ends follow the field's name unless given."""

    label: str  # the GUI's label
    help: str  # CLI help, API description, GUI tooltip
    low: float | None = None  # inclusive range for numbers
    high: float | None = None
    multiple_of: int | None = None  # integers only
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for a choice
    percent: bool = False  # a 0..1 value shown as a percentage
    decimals: int = 2  # how a number is shown when it is not a percentage
    noun: str = ""  # what error messages call it (default: the name in words)
    cli: str = ""  # the command-line flag's stem (default: the name with dashes)
    api: str = ""  # the API form field (default: the name)
    group: str = "swap"  # where the GUI shows it


def option(default: Any, **spec: Any) -> Any:
    """A dataclass field with its user-facing declaration."""
    return field(default=default, metadata={"spec": Spec(**spec)})


def _kind(spec: Spec, default: Any) -> Kind:
    if spec.choices:
        return "choice"
    if isinstance(default, bool):
        return "bool"
    return "int" if isinstance(default, int) else "float"


def _check(name: str, spec: Spec, value: Any) -> None:
    noun = spec.noun or name.replace("_", " ")
    if spec.choices:
        allowed = [v for v, _ in spec.choices]
        if value not in allowed:
            raise OptionError(f"{noun} must be {' or '.join(repr(v) for v in allowed)}, got {value!r}")
        return
    if spec.multiple_of is not None:
        low = int(spec.low) if spec.low is not None else 0
        if not isinstance(value, int) or value < low or value % spec.multiple_of or (
            spec.high is not None and value > spec.high
        ):
            raise OptionError(
                f"{noun} must be a multiple of {spec.multiple_of} and at least {low}"
                + (f" (at most {int(spec.high)})" if spec.high is not None else "")
                + f", got {value}"
            )
        return
    if spec.low is not None and spec.high is not None and not (
        isinstance(value, int | float) and math.isfinite(value) and spec.low <= value <= spec.high
    ):
        raise OptionError(f"{noun} must be between {spec.low} and {spec.high}, got {value}")


def check_fields(obj: Any) -> None:
    """Check every declared field of a dataclass instance against its declaration."""
    for f in fields(obj):
        spec = f.metadata.get("spec")
        if spec is not None and not f.metadata.get("nested"):
            _check(f.name, spec, getattr(obj, f.name))


@dataclass(frozen=True)
class RestoreOptions:
    """How a face is restored (GFPGAN v1.4)."""

    strength: float = option(0.5, group="restore", label="Strength", low=0.0, high=1.0, percent=True,
                             noun="restore strength",
                             help="how much of the restored face replaces the original, 0.0-1.0")
    denoise: float = option(0.3, group="restore", label="Denoise", low=0.0, high=1.0, percent=True,
                            api="denoise_level", help="noise removal before restoring, 0.0-1.0")
    sharpen: float = option(0.2, group="restore", label="Sharpen", low=0.0, high=1.0, percent=True,
                            api="sharpen_amount", help="sharpening after restoring, 0.0-1.0")
    enhance_details: bool = option(True, group="restore", label="Enhance details",
                                   help="local-contrast detail enhancement (skin texture, eyes, hair)")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class SwapOptions:
    """Everything the user chooses about a swap. Built by the GUI, CLI and API alike; a worker takes a new
    object as a whole, so no thread ever reads half-changed settings."""

    faces: FaceChoice = option("all", label="Faces", choices=(("all", "All faces"), ("largest", "Largest face")),
                               help="which target faces to replace")
    blend: float = option(0.8, label="Blend", low=0.0, high=1.0, percent=True, api="blend_strength",
                          help="how much of the swapped face is blended in, 0.0-1.0")
    color_correction: bool = option(True, label="Correct colour", cli="color-correction",
                                    help="match the swapped face's colour to the target")
    face_scale: float = option(1.0, label="Scale", low=0.5, high=2.0, decimals=2,
                               help="scale of the swapped face about its centre, 0.5-2.0")
    others: OthersChoice = option("swap", label="Other people", choices=(("swap", "Default source"),
                                                                         ("keep", "Leave as they are")),
                                  help="people with no source of their own (see --map): swapped with the default "
                                       "source, or left as they are")
    mask: MaskShape = option("ellipse", label="Mask", group="mask",
                             choices=(("ellipse", "Ellipse"), ("hull", "Face outline"), ("box", "Box")),
                             help="the swapped face's outline: ellipse (no square corners), hull (the face's own "
                                  "outline from the 106 landmarks) or box (the feathered square)")
    mask_padding: float = option(0.0, label="Padding", group="mask", low=-0.2, high=0.2, decimals=2,
                                 help="grow (or, below 0, shrink) the mask, a fraction of the face crop, -0.2-0.2")
    mask_feather: float = option(0.09, label="Feather", group="mask", low=0.0, high=0.25, decimals=2,
                                 help="width of the mask's soft edge, a fraction of the face crop, 0.0-0.25")
    mouth_mask: bool = option(False, label="Keep my mouth", group="mask",
                              help="keep the target's own mouth (lips and what is between them) over the swapped "
                                   "face, so speech and expressions come through; needs buffalo_l/2d106det.onnx")
    mouth_mask_size: float = option(0.1, label="Mouth size", group="mask", low=0.0, high=1.0, percent=True,
                                    noun="mouth mask size",
                                    help="how far the kept mouth reaches past the lips, a fraction of the mouth's "
                                         "width, 0.0-1.0")
    mouth_mask_feather: float = option(0.3, label="Mouth feather", group="mask", low=0.0, high=1.0, percent=True,
                                       noun="mouth mask feather",
                                       help="width of the kept mouth's soft edge, a fraction of the mouth's width, "
                                            "0.0-1.0")
    # None: no restoration. The restore options sit under this switch in every front end.
    restore: RestoreOptions | None = field(default=None, metadata={
        "spec": Spec(label="Restore", help="restore each swapped face with GFPGAN v1.4", group="restore"),
        "nested": RestoreOptions,
    })
    det_size: int = option(640, label="Detection size", low=64, high=4096, multiple_of=32, group="detection",
                           noun="detection size", help="face detection input size in pixels, a multiple of 32")
    det_threshold: float = option(0.5, label="Detection threshold", low=0.05, high=0.99, group="detection",
                                  noun="detection threshold", help="how sure a detection must be, 0.05-0.99")

    # Live only (LIVE_FORM): how a live session renders while the swap is slower than the camera
    # (app/core/fluid.py). Photos, videos and the API have no use for them, so their forms leave them out.
    render: RenderChoice = option("auto", label="Render", group="live",
                                  choices=(("auto", "Auto"), ("fluid", "Every camera frame"),
                                           ("exact", "Swapped frames only")),
                                  help="live: fluid renders every camera frame with each person's most recent swap "
                                       "(head motion at the camera's rate, expression at the swap's); exact shows "
                                       "only frames that were swapped; auto picks fluid when the swap is slower "
                                       "than half the camera's rate")
    until_swapped: UntilSwapped = option("original", label="Until swapped", group="live",
                                         choices=(("original", "As they are"), ("blur", "Blurred")),
                                         help="live, fluid: how a person is shown until their first swap is ready "
                                              "(and when they turn further than their last swap can follow)")

    def __post_init__(self) -> None:
        check_fields(self)

    def replace(self, **changes: object) -> SwapOptions:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def face_mask(self) -> FaceMaskSpec:
        return FaceMaskSpec(self.mask, self.mask_padding, self.mask_feather)

    @property
    def mouth(self) -> MouthMaskSpec | None:
        """The kept mouth, when asked for."""
        return MouthMaskSpec(self.mouth_mask_size, self.mouth_mask_feather) if self.mouth_mask else None

    @property
    def needs_landmarks(self) -> bool:
        return self.mouth_mask or self.mask == "hull"


Backend = Literal["auto", "onnxruntime", "torch"]
Precision = Literal["auto", "fp32", "fp16", "int8"]


@dataclass(frozen=True)
class EngineOptions:
    """How the models run: fixed for an engine's life (a change loads the models again), unlike SwapOptions."""

    backend: Backend = option("auto", label="Backend", group="engine",
                              choices=(("auto", "Automatic"), ("onnxruntime", "ONNX Runtime"), ("torch", "PyTorch")),
                              help="what runs the models: torch on a GPU torch can use (CUDA, ROCm, Apple MPS), "
                                   "else onnxruntime on its best provider (auto); or either by name")
    precision: Precision = option("auto", label="Precision", group="engine",
                                  choices=(("auto", "Automatic"), ("fp32", "fp32"), ("fp16", "fp16"),
                                           ("int8", "int8 (CPU)")),
                                  help="number format of the swap (and torch's detector and restorer): fp16 on a "
                                       "GPU when a probe face shows it safe (auto), fp32, fp16, or int8 for the "
                                       "CPU once `models optimize` has built and checked it")

    def __post_init__(self) -> None:
        check_fields(self)


# -- the flat view every front end uses ----------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One user-facing value as a front end sees it."""

    key: str  # flat key, unique in its form: 'blend', 'restore', 'restore_strength'
    path: tuple[str, ...]  # where it lives: ('blend',), ('restore',) (the switch), ('restore', 'strength')
    kind: Kind
    default: Any
    spec: Spec
    cli_stem: str  # 'blend', 'restore-strength', 'color-correction'
    api_name: str  # 'blend_strength', 'restore_strength'
    is_switch: bool = False  # the on/off switch of nested options (`restore`: None when off)

    @property
    def cli_flag(self) -> str:
        """The flag a user types: booleans that default to on are turned off with --no-..."""
        if self.kind == "bool" and self.default:
            return f"--no-{self.cli_stem}"
        return f"--{self.cli_stem}"

    @property
    def settings_key(self) -> str:
        return f"options/{self.key}"

    def check(self, value: Any) -> None:
        _check(self.key, self.spec, value)


def _own_fields(cls: type, prefix: str, path: tuple[str, ...]) -> Iterator[FormField]:
    for f in fields(cls):
        spec: Spec | None = f.metadata.get("spec")
        if spec is None:
            continue
        nested = f.metadata.get("nested")
        if nested is not None:
            yield FormField(prefix + f.name, (*path, f.name), "bool", False, spec, (prefix + f.name).replace("_", "-"),
                            prefix + f.name, is_switch=True)
            yield from _own_fields(nested, f"{prefix}{f.name}_", (*path, f.name))
            continue
        default = f.default if f.default is not MISSING else None
        cli = (prefix.replace("_", "-") + (spec.cli or f.name.replace("_", "-")))
        yield FormField(prefix + f.name, (*path, f.name), _kind(spec, default), default, spec, cli,
                        prefix + (spec.api or f.name))


class Form(Generic[T]):
    """A flat list of the fields a front end offers, and the conversions between their values and options."""

    def __init__(self, cls: type[T], form_fields: tuple[FormField, ...], always_on: tuple[str, ...] = ()) -> None:
        self.cls = cls
        self.fields = form_fields
        self.always_on = always_on  # nested options that are the job itself (the restore command's restore)
        self._by_key = {f.key: f for f in form_fields}

    def __iter__(self) -> Iterator[FormField]:
        return iter(self.fields)

    def __getitem__(self, key: str) -> FormField:
        return self._by_key[key]

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    @property
    def restore_always(self) -> bool:
        return "restore" in self.always_on

    def defaults(self) -> dict[str, Any]:
        return {f.key: f.default for f in self.fields}

    def build(self, values: Mapping[str, Any]) -> T:
        """Options from flat values (missing ones take their defaults). Raises OptionError when a value is out
        of range, naming it as every front end does."""
        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {name: {} for name in self.always_on}
        for f in self.fields:
            value = values.get(f.key, f.default)
            f.check(value)  # nested values too while their switch is off: a typo is said at once
            if f.is_switch:
                if value:
                    nested.setdefault(f.path[0], {})
            elif len(f.path) == 2:
                nested.setdefault(f"{f.path[0]}:values", {})[f.path[1]] = value
            else:
                top[f.path[0]] = value
        kinds: dict[str, Any] = {f.name: f.metadata.get("nested") for f in fields(self.cls)}  # type: ignore[arg-type]
        for name in [n for n in nested if ":" not in n]:
            top[name] = kinds[name](**nested.get(f"{name}:values", {}))
        return self.cls(**top)

    def values(self, options: T, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Flat values of `options`. With nested options off, their values come from `base` (what the user
        last set, so switching them on again brings them back) or their defaults."""
        out = dict(base) if base is not None else self.defaults()
        for f in self.fields:
            owner = getattr(options, f.path[0])
            if f.is_switch:
                out[f.key] = owner is not None
            elif len(f.path) == 2:
                if owner is not None:
                    out[f.key] = getattr(owner, f.path[1])
                else:
                    out.setdefault(f.key, f.default)
            else:
                out[f.key] = owner
        return {f.key: out[f.key] for f in self.fields}


LIVE_GROUP = "live"  # the fields only a live session uses


def swap_form() -> Form[SwapOptions]:
    """Every swap option but the live ones, the restore options under `restore_...` (photos, videos, the API)."""
    return Form(SwapOptions, tuple(f for f in _own_fields(SwapOptions, "", ()) if f.spec.group != LIVE_GROUP))


def live_form() -> Form[SwapOptions]:
    """The swap form plus the live fields (`render`, `until_swapped`): the `live` command and the desktop app."""
    return Form(SwapOptions, tuple(_own_fields(SwapOptions, "", ())))


def restore_form() -> Form[SwapOptions]:
    """A restore job: the detection choices of a swap and the restore options under their own names."""
    detection = tuple(f for f in _own_fields(SwapOptions, "", ()) if f.key in ("faces", "det_size", "det_threshold"))
    return Form(SwapOptions, detection + tuple(_own_fields(RestoreOptions, "", ("restore",))), always_on=("restore",))


SWAP_FORM = swap_form()
LIVE_FORM = live_form()
RESTORE_FORM = restore_form()
ENGINE_FORM = Form(EngineOptions, tuple(_own_fields(EngineOptions, "", ())))
