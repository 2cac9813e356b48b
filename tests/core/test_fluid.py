"""The fluid render (app/core/fluid.py) on the real engine over stand-in models and real photos: a kept swap is
pasted where the face is now (with this frame's colours), belongs to its person and source, fades when the face
turns, is blurred or shown as it is until ready; auto picks the render from the measured swap time; the masks'
landmarks are followed or found again; restoration happens on the swapper's side. The swapper here runs each job
when polled a set number of frames later (the live one is a thread: tests/live/test_fluid_live.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from app.core.engine import Engine, SourceFace
from app.core.face_map import Assignment, FaceMap
from app.core.fluid import FluidStage, KeptSwap, SwapBatch, SwapJob, SwapKeeper, restored
from app.core.fluid_look import FadeConfig, follow_weight, shape_change
from app.core.landmarks import follow_landmarks
from app.core.options import RestoreOptions, SwapOptions
from app.core.processor import FrameProcessor
from app.core.sessions import ModelSet
from app.core.tracker import Tracker
from app.core.types import Face, Frame
from tests.standins import photos

PLAIN = SwapOptions(blend=1.0, color_correction=False, render="fluid")


class InlineSwapper:
    """A BackgroundSwapper whose job is run and answered on the `delay`-th poll after it was submitted."""

    def __init__(self, delay: int = 1) -> None:
        self.delay = delay
        self.pending: list[Any] | None = None  # [polls left, job]
        self.submitted = 0

    @property
    def busy(self) -> bool:
        return self.pending is not None

    def submit(self, job: SwapJob) -> None:
        self.pending = [self.delay, job]
        self.submitted += 1

    def poll(self) -> SwapBatch | None:
        if self.pending is None:
            return None
        self.pending[0] -= 1
        if self.pending[0] > 0:
            return None
        job, self.pending = self.pending[1], None
        return job()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def engine(standin_models_dir: Path) -> Engine:
    return Engine(ModelSet(standin_models_dir, ["CPUExecutionProvider"]))


@pytest.fixture(scope="module")
def source(engine: Engine) -> SourceFace:
    return engine.prepare_source(photos.astronaut().image)


def t1_face(i: int = 0, dx: float = 0.0, dy: float = 0.0) -> Face:
    truth = photos.t1().faces[i].shifted(dx, dy)
    return Face(truth.box, truth.points.astype(np.float32), 0.9)


def shifted(image: Frame, dx: float, dy: float) -> Frame:
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return np.ascontiguousarray(cv2.warpAffine(image, m, (image.shape[1], image.shape[0]),
                                               borderMode=cv2.BORDER_REFLECT))


def person(face: Face, source: Any, track_id: int = 1) -> Assignment[Any]:
    return Assignment(face, source, None, -1.0, track_id)


def render(stage: FluidStage, frame: Frame, people: list[Assignment[Any]], options: SwapOptions = PLAIN,
           seq: int = 0) -> tuple[Frame, Any]:
    out, _, info = stage.render(frame, people, [p.track_id for p in people], options, seq, seq / 30.0, {})
    return out, info


def with_swap(engine: Engine, face: Face, source: Any, options: SwapOptions = PLAIN) -> FluidStage:
    """A stage that has swapped `face` of t1 (frame 0) and shown it (frame 1)."""
    stage = FluidStage(engine, InlineSwapper(1))
    t1 = photos.t1().image
    render(stage, t1, [person(face, source)], options, 0)
    render(stage, t1, [person(face, source)], options, 1)
    assert len(stage.keeper) == 1
    return stage


# -- the maths ---------------------------------------------------------------------------------------------------


def test_shape_change_ignores_what_a_similarity_expresses_and_grows_with_a_turn() -> None:
    points = t1_face().points.astype(np.float64)
    angle, scale = np.radians(25.0), 1.7
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = points @ rot.T + np.array([40.0, -13.0])
    assert shape_change(points, moved) < 1e-9  # moved, turned in the picture and scaled: nothing to fade

    # A head turning in depth (yaw) squeezes one side and moves the nose: the residual grows with the angle.
    head = np.array([[-0.5, 0, 0], [0.5, 0, 0], [0, 0.5, -0.55], [-0.4, 1.0, -0.1], [0.4, 1.0, -0.1]])

    def turned(deg: float) -> np.ndarray:
        a = np.radians(deg)
        r = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        return np.asarray((head @ r.T)[:, :2] * 60.0 + 300.0)

    changes = [shape_change(turned(0), turned(d)) for d in (0, 10, 20, 30, 45)]
    assert changes[0] < 1e-9 and all(b > a for a, b in zip(changes, changes[1:], strict=False))
    fade = FadeConfig()
    assert follow_weight(changes[1], fade) == 1.0  # 10 degrees: the kept face still fits
    assert follow_weight(changes[4], fade) == 0.0  # 45 degrees: gone
    assert follow_weight((fade.full + fade.gone) / 2, fade) == pytest.approx(0.5)
    assert shape_change(np.zeros((5, 2)), points) == float("inf")


def test_keeper_gives_a_swap_only_to_its_track_and_source(engine: Engine, source: SourceFace) -> None:
    frame = photos.t1().image
    swap = engine.swap_crops(frame, [t1_face()], [source])[0]
    keeper = SwapKeeper()
    assert keeper.store([KeptSwap(swap, 7, seq=5, captured_at=0.2)]) == 1
    assert keeper.for_person(7, source) is not None
    assert keeper.for_person(8, source) is None  # another person
    other = SourceFace(source.face, source.latent.copy())
    assert keeper.for_person(7, other) is None  # another identity object: never shown in its place
    assert keeper.store([KeptSwap(swap, 7, seq=4, captured_at=0.1)]) == 0  # older than the one kept
    keeper.seen([7], now=1.0)
    keeper.seen([8], now=3.9)  # 7 unseen for 2.9 s: a lost face a detection may find again, kept
    assert keeper.for_person(7, source) is not None
    keeper.seen([8], now=4.1)  # unseen for longer than the tracker keeps a lost track: gone
    assert keeper.for_person(7, source) is None


# -- the render --------------------------------------------------------------------------------------------------


def test_a_kept_swap_is_pasted_where_the_face_is_now_with_this_frames_colours(engine: Engine,
                                                                             source: SourceFace) -> None:
    t1 = photos.t1().image
    stage = FluidStage(engine, InlineSwapper(1))
    face0 = t1_face()
    out0, info0 = render(stage, t1, [person(face0, source)], seq=0)
    assert out0 is t1 and info0.pending == 1 and info0.shown == 0  # nobody's swap is ready: as they are

    frame1, face1 = shifted(t1, 9.0, -4.0), t1_face(dx=9.0, dy=-4.0)
    options = PLAIN.replace(color_correction=True)
    out1, info1 = render(stage, frame1, [person(face1, source)], options, seq=1)
    swaps = engine.swap_crops(t1, [face0], [source])  # what the swapper made of frame 0
    expected, _, _ = engine.paste_swaps(frame1, swaps, options, faces=[face1])
    assert np.array_equal(out1, expected)
    stale, _, _ = engine.paste_swaps(frame1, swaps, options)  # where the face was when it was swapped
    assert not np.array_equal(out1, stale)
    assert (info1.shown, info1.pending, info1.updated) == (1, 0, 1)
    assert info1.face_age_s == pytest.approx(1 / 30.0)


def test_a_new_person_or_a_new_source_gets_no_stale_face(engine: Engine, source: SourceFace) -> None:
    t1 = photos.t1().image
    stage = with_swap(engine, t1_face(0), source)
    out, info = render(stage, t1, [person(t1_face(0), source), person(t1_face(1), source, track_id=2)], seq=2)
    assert info.shown == 1 and info.pending == 1
    region = photos.t1().faces[1].box
    x1, y1, x2, y2 = (int(v) for v in region)
    assert np.array_equal(out[y1:y2, x1:x2], t1[y1:y2, x1:x2])  # the second person as they are

    other = engine.prepare_source(photos.tom_hanks().image)
    out, info = render(stage, t1, [person(t1_face(0), other)], seq=3)
    assert out is t1 and info.pending == 1  # the first person's new source: their old swap is not shown
    out, info = render(stage, t1, [person(t1_face(0), other)], seq=4)
    assert info.shown == 1 and stage.keeper.for_person(1, other) is not None


def nose_pushed(face: Face, change: float) -> Face:
    """`face` with its nose moved sideways until the five points' shape changed by `change`."""
    lo, hi = 0.0, face.eye_distance
    for _ in range(60):
        mid = (lo + hi) / 2
        pts = face.points.copy()
        pts[2, 0] += mid
        lo, hi = (mid, hi) if shape_change(face.points, pts) < change else (lo, mid)
    pts = face.points.copy()
    pts[2, 0] += lo
    return face.with_points(pts)


def test_a_face_turned_beyond_its_kept_swap_fades_to_the_original(engine: Engine, source: SourceFace) -> None:
    t1 = photos.t1().image
    face = t1_face()
    stage = with_swap(engine, face, source)
    stage.swapper = InlineSwapper(10**9)  # a slow swapper: no fresh swap comes while the face turns
    swaps = engine.swap_crops(t1, [face], [source])
    fade = stage.fade
    half = nose_pushed(face, (fade.full + fade.gone) / 2)
    out, info = render(stage, t1, [person(half, source)], seq=2)
    expected, _, _ = engine.paste_swaps(t1, swaps, PLAIN, faces=[half], blends=[0.5])
    assert info.faded == 1 and info.shown == 1
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1  # the blend's rounding

    gone = nose_pushed(face, fade.gone * 1.5)
    out, info = render(stage, t1, [person(gone, source)], seq=3)
    assert out is t1 and info.faded == 1 and info.shown == 0


def test_until_swapped_blur_hides_the_face_and_nothing_else(engine: Engine, source: SourceFace) -> None:
    t1 = photos.t1().image
    stage = FluidStage(engine, InlineSwapper(5))
    face = t1_face()
    out, info = render(stage, t1, [person(face, source)], PLAIN.replace(until_swapped="blur"))
    assert info.pending == 1
    x1, y1, x2, y2 = (int(v) for v in face.box)
    changed = np.any(out != t1, axis=2)
    ys, xs = np.nonzero(changed)
    w, h = x2 - x1, y2 - y1
    assert xs.min() >= x1 - w and xs.max() <= x2 + w and ys.min() >= y1 - h and ys.max() <= y2 + h
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    core = [img[cy - h // 4:cy + h // 4, cx - w // 4:cx + w // 4].reshape(-1, 3) for img in (t1, out)]
    colours = [len(np.unique(c, axis=0)) for c in core]
    assert colours[0] > 500 and colours[1] <= 49  # the face's middle is a few flat blocks: its detail is gone


def test_auto_renders_fluid_while_the_swap_is_slower_than_half_the_camera(engine: Engine,
                                                                         source: SourceFace) -> None:
    stage = FluidStage(engine, InlineSwapper(1), camera_fps=30.0)
    auto = PLAIN.replace(render="auto")
    assert stage.mode(auto, 1) == "fluid"  # nothing measured yet: the first frames never wait for a model
    stage.measured_exact({"swap": 10.0}, 1)
    assert stage.mode(auto, 1) == "exact"  # 10 ms a face: exact keeps up
    assert stage.mode(auto, 5) == "exact"  # five faces, 50 ms: not over two camera frames (66.7 ms)
    stage.face_ms = 70.0
    assert stage.mode(auto, 1) == "fluid"  # over two frames
    stage.face_ms = 60.0
    assert stage.mode(auto, 1) == "fluid"  # not under 1.5 frames (50 ms): no flipping at the boundary
    stage.face_ms = 45.0
    assert stage.mode(auto, 1) == "exact"
    stage.face_ms = 2300.0
    assert stage.mode(auto, 1) == "fluid" and stage.mode(PLAIN.replace(render="exact"), 1) == "exact"


def test_swaps_asked_for_before_an_exact_spell_are_not_shown_after_it(engine: Engine, source: SourceFace) -> None:
    t1 = photos.t1().image
    stage = with_swap(engine, t1_face(), source)
    render(stage, t1, [person(t1_face(), source)], seq=2)  # a job is asked for
    assert stage.mode(PLAIN.replace(render="exact"), 1) == "exact" and len(stage.keeper) == 0
    assert stage.mode(PLAIN, 1) == "fluid"
    out, info = render(stage, t1, [person(t1_face(), source)], seq=3)  # the old job's answer arrives
    assert out is t1 and info.pending == 1 and info.updated == 0


def test_a_job_swaps_the_longest_waiting_faces_that_fit_its_budget(engine: Engine, source: SourceFace) -> None:
    t1 = photos.t1().image
    swapper = InlineSwapper(1)
    stage = FluidStage(engine, swapper, batch_budget_s=0.25)
    people = [person(t1_face(i), source, track_id=i + 1) for i in range(3)]
    render(stage, t1, people, seq=0)
    batch = swapper.pending[1]() if swapper.pending else None  # type: ignore[index]
    assert batch is not None and [k.track_id for k in batch.kept] == [1]  # cost unknown: one face first
    stage.keeper.store(batch.kept)
    swapper.pending = None
    stage.face_ms = 100.0  # two fit in 0.25 s: those with no swap yet
    render(stage, t1, people, seq=1)
    batch = swapper.pending[1]()  # type: ignore[index]
    assert sorted(k.track_id for k in batch.kept) == [2, 3]


@pytest.mark.parametrize("here", [False, True])
def test_the_kept_mouth_uses_landmarks_followed_from_the_swap_or_found_again(engine: Engine, source: SourceFace,
                                                                            here: bool) -> None:
    t1 = photos.t1().image
    options = PLAIN.replace(mouth_mask=True)
    face0 = t1_face()
    stage = FluidStage(engine, InlineSwapper(1), landmark_budget=1e9 if here else 0.0)
    render(stage, t1, [person(face0, source)], options, seq=0)
    frame1, face1 = shifted(t1, 6.0, 3.0), t1_face(dx=6.0, dy=3.0)
    out, _, _ = stage.render(frame1, [person(face1, source)], [1], options, 1, 1 / 30.0, {})
    assert stage.landmark_ms is not None  # measured on the swapper's side
    swaps = engine.swap_crops(t1, [face0], [source])
    marks = None if here else [follow_landmarks(engine.landmarks(t1, face0), face0.points, face1.points)]
    expected, _, _ = engine.paste_swaps(frame1, swaps, options, faces=[face1], landmarks=marks)
    assert np.array_equal(out, expected)
    without_mouth, _, _ = engine.paste_swaps(frame1, swaps, PLAIN, faces=[face1])
    assert not np.array_equal(out, without_mouth)


def test_restoration_runs_on_the_swappers_side_and_the_render_pastes_it(engine: Engine,
                                                                        source: SourceFace) -> None:
    t1 = photos.t1().image
    options = PLAIN.replace(restore=RestoreOptions(strength=1.0))
    face = t1_face()
    stage = with_swap(engine, face, source, options)
    kept = stage.keeper.for_person(1, source)
    assert kept is not None and kept.swap.crop.shape == (512, 512, 3)
    out, info = render(stage, t1, [person(face, source)], options, seq=2)
    assert info.shown == 1
    plain = engine.swap_crops(t1, [face], [source])
    unrestored, _, _ = engine.paste_swaps(t1, plain, options, faces=[face])
    x1, y1, x2, y2 = (int(v) for v in face.box)
    assert np.abs(out[y1:y2, x1:x2].astype(int) - unrestored[y1:y2, x1:x2].astype(int)).mean() > 2.0
    assert np.abs(out[y1:y2, x1:x2].astype(int) - t1[y1:y2, x1:x2].astype(int)).mean() > 2.0


def test_the_processor_renders_fluid_with_a_face_map_and_drops_a_replaced_source(engine: Engine,
                                                                                 source: SourceFace) -> None:
    t1 = photos.t1().image
    swapper = InlineSwapper(1)
    processor = FrameProcessor(engine, Tracker(), swapper=swapper)
    target = engine.embed(t1, t1_face(0))
    assert target.embedding is not None
    mapped = FaceMap[Any]().with_person("first", target.embedding, source)
    options = PLAIN.replace(others="keep")
    first = processor.process(t1, mapped, options, 0.0)
    assert first.render is not None and first.render.mode == "fluid" and first.render.pending == 1
    assert first.frame is t1
    second = processor.process(t1, mapped, options, 1 / 30)
    assert second.render is not None and second.render.shown == 1 and not np.array_equal(second.frame, t1)
    other = engine.prepare_source(photos.tom_hanks().image)
    remapped = FaceMap[Any]().with_person("first", target.embedding, other)
    third = processor.process(t1, remapped, options, 2 / 30)
    assert third.render is not None and third.render.pending == 1 and third.frame is t1  # not the old identity
    fourth = processor.process(t1, remapped, options, 3 / 30)
    assert fourth.render is not None and fourth.render.shown == 1
    assert not np.array_equal(fourth.frame, second.frame)  # the new identity


def test_a_stream_without_a_swapper_and_a_still_stay_exact(engine: Engine, source: SourceFace) -> None:
    t1 = photos.t1().image
    video = FrameProcessor(engine, Tracker()).process(t1, source, PLAIN, 0.0)
    still = FrameProcessor(engine).process(t1, source, PLAIN)
    assert video.render is not None and video.render.mode == "exact" and still.render is not None
    assert still.render.mode == "exact"
    expected = engine.swap(t1, list(still.faces), [source] * len(still.faces), PLAIN).frame
    assert np.array_equal(still.frame, expected)


def test_the_fluid_render_on_the_torch_device_path_matches_the_cpu_one(engine: Engine,
                                                                       standin_models_dir: Path) -> None:
    """Kept swaps made on the device (torch, here on the CPU) are pasted there, a fading one at its share of the
    blend; a restored swap (kept on the host) and a device one are pasted together in one frame."""
    from app.core.options import EngineOptions

    device = Engine(ModelSet(standin_models_dir, ["CPUExecutionProvider"], EngineOptions(backend="torch")))
    t1 = photos.t1().image
    fade = FadeConfig()
    moved, turned = t1_face(1, dx=5.0, dy=-2.0), nose_pushed(t1_face(0), (fade.full + fade.gone) / 2)
    outs = {}
    for name, eng in (("cpu", engine), ("device", device)):
        src = eng.prepare_source(photos.astronaut().image)
        stage = FluidStage(eng, InlineSwapper(1))
        stage.face_ms = 1.0  # a fast swapper: one job swaps both
        people = [person(t1_face(0), src, 1), person(t1_face(1), src, 2)]
        render(stage, t1, people, seq=0)
        render(stage, t1, people, seq=1)
        stage.swapper = InlineSwapper(10**9)
        outs[name], info = render(stage, shifted(t1, 0.0, 0.0), [person(turned, src, 1), person(moved, src, 2)],
                                  seq=2)
        assert info.shown == 2 and info.faded == 1
    assert device.models.on_device("swapper")
    assert np.abs(outs["cpu"].astype(int) - outs["device"]).max() <= 2

    src = device.prepare_source(photos.astronaut().image)
    restored_swap = restored(device, t1, device.swap_crops(t1, [t1_face(0)], [src]), RestoreOptions(), False)[0]
    device_swap = device.swap_crops(t1, [t1_face(1)], [src])[0]
    assert isinstance(restored_swap.crop, np.ndarray) and not isinstance(device_swap.crop, np.ndarray)
    stage = FluidStage(device, InlineSwapper(10**9))
    stage.keeper.store([KeptSwap(restored_swap, 1, 0, 0.0), KeptSwap(device_swap, 2, 0, 0.0)])
    out, info = render(stage, t1, [person(t1_face(0), src, 1), person(t1_face(1), src, 2)], seq=1)
    assert info.shown == 2
    for i in (0, 1):
        x1, y1, x2, y2 = (int(v) for v in t1_face(i).box)
        assert np.abs(out[y1:y2, x1:x2].astype(int) - t1[y1:y2, x1:x2]).mean() > 5.0  # both pasted
