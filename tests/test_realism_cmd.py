"""Issue 12 end to end through `deep-live-cam swap` (and the API): the kept mouth, the landmark model missing,
several source photos making one identity, and a source per person (`--map`). Stand-in models; the stand-in
inswapper inverts a face and tints it by the source (tests/standins/inswapper.py), so whose identity landed on
which face shows in its colour."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from app.core.landmarks import LIPS_OUTER
from tests.standins import build_planted_detector, build_recognizer, photos
from tests.standins import landmark as standin_landmark


def swap(models: Path, *args: str) -> int:
    return main(["swap", *args, "--models-dir", str(models)])


def lips(frame: np.ndarray, face: photos.TruthFace) -> np.ndarray:
    """The inside of the lips (shrunk by 2 px) where the stand-in landmark model puts them."""
    points = standin_landmark.expected_landmarks(frame, face.box)[list(LIPS_OUTER)]
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.round(points).astype(np.int32), 255)
    return cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0


def test_mouth_mask_keeps_the_targets_own_mouth(standin_models_dir, photo_files, tmp_path):
    scene = photos.astronaut()
    plain, kept = tmp_path / "plain.png", tmp_path / "kept.png"
    common = ["--no-color-correction", "--blend", "1"]
    assert swap(standin_models_dir, str(photo_files["tom_hanks"]), str(photo_files["astronaut"]), "-o", str(plain),
                *common) == 0
    assert swap(standin_models_dir, str(photo_files["tom_hanks"]), str(photo_files["astronaut"]), "-o", str(kept),
                *common, "--mouth-mask", "--mouth-mask-size", "0.1", "--mouth-mask-feather", "0.2") == 0
    original, without, with_mouth = scene.image.astype(int), cv2.imread(str(plain)).astype(int), \
        cv2.imread(str(kept)).astype(int)
    mouth = lips(scene.image, scene.faces[0])
    assert mouth.sum() > 50
    assert np.abs(without[mouth] - original[mouth]).mean() > 40  # swapped, inverted
    assert np.abs(with_mouth[mouth] - original[mouth]).mean() < 3  # the target's own mouth
    eyes = scene.faces[0].points[:2].astype(int)
    for x, y in eyes:  # the rest of the face is the swap, unchanged by the mouth mask
        assert np.abs(with_mouth[y - 3:y + 4, x - 3:x + 4] - without[y - 3:y + 4, x - 3:x + 4]).max() <= 1


def test_without_the_landmark_model_the_swap_goes_on_and_says_what_to_fetch(standin_models_dir, photo_files,
                                                                             tmp_path, capsys):
    models = tmp_path / "models"
    (models / "buffalo_l").mkdir(parents=True)
    for rel in ("inswapper_128.onnx", "buffalo_l/det_10g.onnx", "buffalo_l/w600k_r50.onnx"):
        (models / rel).symlink_to(standin_models_dir / rel)
    out = tmp_path / "out.png"
    assert swap(models, str(photo_files["tom_hanks"]), str(photo_files["astronaut"]), "-o", str(out),
                "--mouth-mask", "--mask", "hull") == 0
    err = capsys.readouterr().err
    assert "2d106det.onnx" in err and "deep-live-cam models download landmark-2d106" in err
    assert out.is_file()


def test_several_photos_make_one_identity_and_each_is_scored(standin_models_dir, photo_files, tmp_path, capsys):
    folder = tmp_path / "me"
    folder.mkdir()
    astronaut = photos.astronaut().image
    cv2.imwrite(str(folder / "a.png"), astronaut)
    cv2.imwrite(str(folder / "b_blurred.png"), cv2.GaussianBlur(astronaut, (0, 0), 3.0))
    (folder / "notes.txt").write_text("not a photo")
    out = tmp_path / "out.png"
    assert swap(standin_models_dir, str(folder), str(photo_files["t1"]), "-o", str(out),
                "--source", str(photo_files["tom_hanks"])) == 0
    err = capsys.readouterr().err
    assert "one identity from 3 of 3 photos" in err
    lines = {line.split(":")[0].strip(): line for line in err.splitlines() if ": quality" in line}
    assert set(lines) == {"a.png", "b_blurred.png", "tom_hanks.png"}
    assert "blurred" in lines["b_blurred.png"].split(":", 1)[1] and "blurred" not in lines["a.png"].split(":", 1)[1]
    assert "another person" in lines["tom_hanks.png"] or "other" in lines["tom_hanks.png"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert swap(standin_models_dir, str(empty), str(photo_files["t1"]), "-o", str(out)) == 4


@pytest.fixture(scope="module")
def mapping_models(standin_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Stand-in models whose detector also knows a crop of t1 around its second face (a photo of that person),
    and that photo."""
    root = tmp_path_factory.mktemp("mapping")
    t1 = photos.t1()
    person = t1.faces[1]
    x1, y1, x2, y2 = (int(v) for v in person.box)
    pad = (x2 - x1) // 2
    crop = np.ascontiguousarray(t1.image[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad])
    photo = root / "person.png"
    cv2.imwrite(str(photo), crop)
    models = root / "models"
    (models / "buffalo_l").mkdir(parents=True)
    (models / "inswapper_128.onnx").symlink_to(standin_models_dir / "inswapper_128.onnx")
    build_recognizer(models / "buffalo_l" / "w600k_r50.onnx")
    scenes = [(s.image, s.faces) for s in photos.all_scenes()]
    scenes.append((crop, [person.shifted(-max(0, x1 - pad), -max(0, y1 - pad))]))
    build_planted_detector(models / "buffalo_l" / "det_10g.onnx", scenes)
    return models, photo


def face_pixels(image: np.ndarray, face: photos.TruthFace) -> np.ndarray:
    x0, y0 = face.points.min(axis=0).astype(int)
    x1, y1 = face.points.max(axis=0).astype(int)
    return image[y0:y1, x0:x1].astype(int)


def test_map_gives_one_person_their_own_source(mapping_models, photo_files, tmp_path):
    models, person_photo = mapping_models
    t1 = photos.t1()
    outs = {name: tmp_path / f"{name}.png" for name in ("astronaut", "tom", "mapped", "kept")}
    assert swap(models, str(photo_files["astronaut"]), str(photo_files["t1"]), "-o", str(outs["astronaut"])) == 0
    assert swap(models, str(photo_files["tom_hanks"]), str(photo_files["t1"]), "-o", str(outs["tom"])) == 0
    mapping = f"{person_photo}={photo_files['tom_hanks']}"
    assert swap(models, str(photo_files["astronaut"]), str(photo_files["t1"]), "-o", str(outs["mapped"]),
                "--map", mapping) == 0
    assert swap(models, str(photo_files["astronaut"]), str(photo_files["t1"]), "-o", str(outs["kept"]),
                "--map", mapping, "--others", "keep") == 0
    images = {name: cv2.imread(str(path)) for name, path in outs.items()}
    assert not np.array_equal(face_pixels(images["astronaut"], t1.faces[1]), face_pixels(images["tom"], t1.faces[1]))
    for i, face in enumerate(t1.faces):
        expected = "tom" if i == 1 else "astronaut"
        assert np.abs(face_pixels(images["mapped"], face) - face_pixels(images[expected], face)).max() <= 2, i
        if i != 1:  # the others are left alone
            assert np.array_equal(face_pixels(images["kept"], face), face_pixels(t1.image, face))
    assert np.abs(face_pixels(images["kept"], t1.faces[1]) - face_pixels(images["tom"], t1.faces[1])).max() <= 2


def test_bad_map_values_are_usage_errors(standin_models_dir, photo_files, tmp_path, capsys):
    out = str(tmp_path / "o.png")
    assert swap(standin_models_dir, str(photo_files["astronaut"]), str(photo_files["t1"]), "-o", out,
                "--map", "nothing-to-split") == 2
    assert "TARGET_PHOTO=SOURCE_PHOTO" in capsys.readouterr().err
    assert swap(standin_models_dir, str(photo_files["astronaut"]), str(photo_files["t1"]), "-o", out,
                "--map", f"{photo_files['blank']}={photo_files['tom_hanks']}") == 5


def test_api_takes_several_source_photos_and_reports_their_quality(standin_models_dir):
    from tests.api.conftest import make_client, png

    astronaut = photos.astronaut().image
    files = [("source_face", ("a.png", png(astronaut), "image/png")),
             ("source_face", ("b.png", png(cv2.GaussianBlur(astronaut, (0, 0), 3.0)), "image/png")),
             ("target_image", ("t1.png", png(photos.t1().image), "image/png"))]
    with make_client(standin_models_dir) as client:
        r = client.post("/api/face-swap", files=files, data={"mouth_mask": "true", "mask": "hull"})
        assert r.status_code == 200, r.text
        quality = r.headers["x-source-quality"].split(" | ")
        assert len(quality) == 2 and "blurred" in quality[1] and "blurred" not in quality[0]
        assert r.headers["x-faces-swapped"] == "6"
        bad = client.post("/api/face-swap", files=files, data={"mask": "circle"})
        assert bad.status_code == 422 and "mask" in bad.json()["detail"]
