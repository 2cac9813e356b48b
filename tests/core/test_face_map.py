"""A source per person: stills matched directly; tracked faces recognised once per track."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from insightface.model_zoo import get_model

from app.core.analysis import detect_faces
from app.core.engine import Engine
from app.core.face_map import MATCH_THRESHOLD, FaceMap, TrackRecognizer, person_from_photo
from app.core.options import SwapOptions
from app.core.sessions import ModelSet
from app.core.tracker import Tracker, TrackerConfig
from app.core.types import Embedding, Face, Frame
from app.errors import NoFaceError
from tests.standins import TrackingScene, photos


@pytest.fixture(scope="module")
def engine(standin_models_dir: Path) -> Engine:
    return Engine(ModelSet(standin_models_dir, ["CPUExecutionProvider"]))


class CountingEmbed:
    """The engine's real embedding, counted."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls = 0

    def __call__(self, frame: Frame, face: Face) -> Embedding:
        self.calls += 1
        embedded = self.engine.embed(frame, face).embedding
        assert embedded is not None
        return embedded


def truth_face(name: str) -> Face:
    t = next(f for f in photos.t1().faces if f.name == name)
    return Face(box=t.box, points=t.points, score=0.9)


def target(engine: Engine, name: str) -> Embedding:
    """A person as a TARGET photo gives them: t1.jpg at full size, their annotated face."""
    e = engine.embed(photos.t1().image, truth_face(name)).embedding
    assert e is not None
    return e


# --- stills --------------------------------------------------------------------------------------------


def test_each_face_of_a_photo_gets_its_persons_source_and_the_rest_the_default(engine: Engine) -> None:
    image = photos.t1().image
    faces = engine.detect(image, SwapOptions())
    face_map = FaceMap[str](default="D").with_person("rachel", target(engine, "rachel"), "A")
    face_map = face_map.with_person("ross", target(engine, "ross"), "B")
    embed = CountingEmbed(engine)
    assigned = face_map.assign(image, faces, embed)
    assert embed.calls == len(faces) == 6  # one embedding per face
    names = [min(photos.t1().faces, key=lambda t, a=a: float(np.abs(t.points - a.face.points).max())).name
             for a in assigned]
    by_name = {n: a for n, a in zip(names, assigned, strict=True)}
    assert by_name["rachel"].source == "A" and by_name["rachel"].person == "rachel"
    assert by_name["ross"].source == "B" and by_name["ross"].person == "ross"
    for name in ("monica", "chandler", "joey", "phoebe"):
        assert by_name[name].source == "D" and by_name[name].person is None
        assert by_name[name].similarity < MATCH_THRESHOLD
    assert by_name["rachel"].similarity > 0.9
    # unmatched left alone instead
    keep = FaceMap[str](face_map.people, default="D", unmatched="keep")
    assert [a.source for a in keep.assign(image, faces, embed)].count(None) == 4


def test_a_face_that_carries_its_embedding_is_not_embedded_again(engine: Engine) -> None:
    image = photos.astronaut().image
    face = engine.embed(image, engine.detect(image, SwapOptions())[0])
    embed = CountingEmbed(engine)
    (a,) = FaceMap[str]().with_person("her", face.embedding, "A").assign(image, [face], embed)  # type: ignore[arg-type]
    assert embed.calls == 0 and a.source == "A"


def test_target_photo_person_and_a_photo_without_a_face(engine: Engine) -> None:
    def detect(frame: Frame) -> list[Face]:
        return engine.detect(frame, SwapOptions())

    embed = CountingEmbed(engine)
    her = person_from_photo("astronaut.png", photos.astronaut().image, detect, embed, "A")
    assert her.name == "astronaut.png" and abs(float(np.linalg.norm(her.embedding)) - 1.0) < 1e-5
    own = engine.embed(photos.astronaut().image, detect(photos.astronaut().image)[0]).embedding
    assert FaceMap[str]((her,)).match(own)[0] is her  # type: ignore[arg-type]
    with pytest.raises(NoFaceError, match="blank.png"):
        person_from_photo("blank.png", photos.blank(), detect, embed, "A")


def test_maps_are_replaced_whole_and_validated() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(512).astype(np.float32), rng.standard_normal(512).astype(np.float32)
    first = FaceMap[str]().with_person("a", a, "A")
    second = first.with_person("a", b, "B")  # the same name mapped again replaces it
    assert len(first.people) == 1 and first.people[0].source == "A"
    assert len(second.people) == 1 and second.people[0].source == "B"
    assert second.match(b)[0] is second.people[0] and second.match(a)[0] is None
    assert first.without_person("a").people == ()
    assert FaceMap[str]().match(a) == (None, -1.0)
    with pytest.raises(ValueError, match="unmatched"):
        FaceMap[str](unmatched="skip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        first.with_person("z", np.zeros(512, np.float32), "Z")


# --- streams -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scrfd(standin_tracking: TrackingScene):  # type: ignore[no-untyped-def]
    with contextlib.redirect_stdout(io.StringIO()):
        return get_model(str(standin_tracking.detector), providers=["CPUExecutionProvider"])


def who(face: Face, truth: list[photos.TruthFace]) -> str:
    return min(truth, key=lambda t: float(np.linalg.norm(t.points - face.points, axis=1).mean())).name


def run(scene: TrackingScene, scrfd, tracker: Tracker, recognizer: TrackRecognizer[str],  # type: ignore[no-untyped-def]
        face_map: FaceMap[str], path: list[tuple[int, int] | None], t0: float = 0.0,
        step: float = 1 / 30) -> list[dict[str, tuple[int, str | None]]]:
    """Per frame: person -> (track id, source). None in `path` is an empty (blank) frame."""
    out = []
    for i, offset in enumerate(path):
        if offset is None:
            frame, truth = photos.blank(640, 360, 40), []
        else:
            frame, truth = scene.frame(*offset)
        tracker.update(frame, t0 + i * step, lambda f: detect_faces(scrfd, f), "all")
        assigned = recognizer.assign(face_map, frame, tracker.tracked())
        out.append({who(a.face, truth): (a.track_id, a.source) for a in assigned if truth})  # type: ignore[misc]
    return out


def test_tracked_people_are_recognised_once_per_track_and_keep_their_source(
        engine: Engine, standin_tracking: TrackingScene, scrfd) -> None:  # type: ignore[no-untyped-def]
    scene = standin_tracking
    face_map = FaceMap[str](default="D").with_person("ross", target(engine, "ross"), "A")
    embed = CountingEmbed(engine)
    recognizer = TrackRecognizer[str](embed)
    tracker = Tracker(TrackerConfig(detect_every=5))
    path: list[tuple[int, int] | None] = [(0, 0)] * 5 + [(-3 * (k + 1), 0) for k in range(20)]
    frames = run(scene, scrfd, tracker, recognizer, face_map, path)
    people = set(frames[0])
    assert "ross" in people and len(people) >= 4
    # every frame: Ross has the mapped source, everyone else the default, each on one track all along
    for seen in frames:
        assert seen["ross"][1] == "A"
        assert all(src == "D" for name, (_, src) in seen.items() if name != "ross")
    ids = {name: {seen[name][0] for seen in frames if name in seen} for name in people}
    assert all(len(v) == 1 for v in ids.values())
    # recognition cost: one embedding per track, not per frame (25 frames x the faces in view)
    n_tracks = len({tid for v in ids.values() for tid in v})
    assert embed.calls == n_tracks == recognizer.embeddings
    assert sum(len(seen) for seen in frames) >= 20 * n_tracks

    # Someone who leaves and comes back is a new track, recognised once more: Ross gets his source back.
    ross_first = next(iter(ids["ross"]))
    gone = run(scene, scrfd, tracker, recognizer, face_map, [None] * 3, t0=2.0, step=0.6)
    assert all(seen == {} for seen in gone) and tracker.tracked() == []
    back = run(scene, scrfd, tracker, recognizer, face_map, [(0, 0)] * 4, t0=4.0)
    assert back[-1]["ross"][1] == "A" and back[-1]["ross"][0] != ross_first
    assert all(src == "D" for name, (_, src) in back[-1].items() if name != "ross")
    assert embed.calls == n_tracks + len(back[-1])


def test_a_face_clicked_in_live_is_mapped_without_embedding_it_again(
        engine: Engine, standin_tracking: TrackingScene, scrfd) -> None:  # type: ignore[no-untyped-def]
    scene = standin_tracking
    embed = CountingEmbed(engine)
    recognizer = TrackRecognizer[str](embed)
    tracker = Tracker(TrackerConfig(detect_every=5))
    nobody = FaceMap[str](default=None, unmatched="keep")
    frames = run(scene, scrfd, tracker, recognizer, nobody, [(0, 0)] * 3)
    assert all(src is None for _, src in frames[-1].values())  # unmatched left alone
    calls = embed.calls
    clicked_id = frames[-1]["chandler"][0]
    clicked = recognizer.embedding_of(clicked_id)
    assert clicked is not None and recognizer.embedding_of(10_000) is None
    mapped = nobody.with_person("chandler", clicked, "C")  # a new map, taken whole by the worker
    after = run(scene, scrfd, tracker, recognizer, mapped, [(0, 0)] * 3, t0=0.1)
    assert after[0]["chandler"] == (clicked_id, "C")
    assert all(src is None for name, (_, src) in after[0].items() if name != "chandler")
    assert embed.calls == calls  # matched again from the kept embeddings
    # unmatched people follow the default when the map says so
    with_default = FaceMap[str](mapped.people, default="D")
    final = run(scene, scrfd, tracker, recognizer, with_default, [(0, 0)], t0=0.3)
    assert final[0]["chandler"][1] == "C"
    assert all(src == "D" for name, (_, src) in final[0].items() if name != "chandler")
    assert embed.calls == calls


def test_tracks_unseen_for_long_are_forgotten(engine: Engine) -> None:
    image = photos.astronaut().image
    face = engine.detect(image, SwapOptions())[0]
    embed = CountingEmbed(engine)
    recognizer = TrackRecognizer[str](embed, forget_after=3)
    face_map = FaceMap[str](default="D")
    recognizer.assign(face_map, image, [(1, face)])
    for _ in range(4):
        recognizer.assign(face_map, image, [])
    assert recognizer.embedding_of(1) is None
    recognizer.assign(face_map, image, [(1, face)])
    assert embed.calls == 2
