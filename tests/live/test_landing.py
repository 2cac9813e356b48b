"""A steadier face, measured where the user sees it: in live's output, with a video file as the camera and
detections that jitter by N(0, 2 px) per axis (tests/live/landing.py). The goal (issue 12) is a landing that
wanders at least 3x less than the detections on a still face, and follows a face moving 4 px per frame with
under a quarter frame of lag; benchmarks/bench_landing.py records the numbers. The bounds here are generous,
for a loaded machine: fewer frames come out, the measurement stays honest."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.engine import Engine
from app.core.sessions import ModelSet
from app.core.smoothing import OneEuroParams
from app.core.tracker import TrackerConfig
from tests.live.landing import make_clip, measure, models_for_landing


@pytest.fixture(scope="module")
def landing(standin_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, object]:
    root = tmp_path_factory.mktemp("landing")
    engine = Engine(ModelSet(models_for_landing(standin_models_dir, root / "models"), ["CPUExecutionProvider"]))
    return engine, make_clip(root / "clip.mkv", still=90, moving=40)


def test_the_swapped_face_lands_steadier_than_the_detections_without_lag(landing) -> None:  # type: ignore[no-untyped-def]
    engine, clip = landing
    result = measure(engine, clip)
    assert result.still_frames >= 20 and result.moving_frames >= 8, result
    assert 1.5 < result.detection_wander_px < 2.5, result  # the jitter is what it should be
    assert result.ratio > 2.5, result  # measured 5.1-5.6x on a quiet machine (goal: 3x)
    assert abs(result.lag_frames) < 0.5, result  # measured about 0.1 frames (goal: under 0.25)


def test_the_measurement_sees_wander_and_lag(landing) -> None:  # type: ignore[no-untyped-def]
    """The same measurement on trackers that fail each way: one that follows every detection wanders as much as
    they do; one that smooths hard without following the flow lags by frames."""
    engine, clip = landing
    follow = measure(engine, clip, TrackerConfig(detect_every=1, correction_gain=1.0, noise_error=0.0,
                                                 reset_error=0.001, smoothing=OneEuroParams(1000.0, 0.0, 1.0)))
    assert follow.ratio < 1.5, follow
    lagging = measure(engine, clip, TrackerConfig(compensate_motion=False, smoothing=OneEuroParams(0.3, 0.0, 1.0)))
    assert lagging.lag_frames > 2.0, lagging
