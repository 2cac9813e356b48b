"""Device-side alignment and paste-back (torch on the CPU) against the CPU path, on real photos.

On a machine with a GPU, DLC_TEST_DEVICE=cuda (or mps) runs the same comparisons on that device.

Bounds: OpenCV 5 samples in float as the device does, so crops agree to a level at a handful of pixels
(OpenCV 4's 1/32-pixel fixed point would make that a level at a few percent of them); pastes repeat the CPU
paste's 8-bit roundings step by step, so they agree to a level as well. Nothing needs a border excluded.
"""

from __future__ import annotations

import contextlib
import io
import os

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from app.core.options import RestoreOptions  # noqa: E402
from app.core.paste import FacePaster, crop_region, feather_mask, match_colour, scaled_inverse  # noqa: E402
from app.core.restore import SIZE, align_ffhq, restore_faces, run_gfpgan  # noqa: E402
from app.core.swap import align_crop, alignment_matrix, swap_crop  # noqa: E402
from app.core.torch_backend.device_faces import restore_faces as device_restore_faces  # noqa: E402
from app.core.torch_backend.device_faces import swap_faces  # noqa: E402
from app.core.torch_backend.frame_ops import (  # noqa: E402
    align_crops,
    from_gfpgan_output,
    from_swapper_output,
    to_gfpgan_input,
    to_swapper_input,
)
from app.core.torch_backend.paste_ops import DevicePaster, colour_matched  # noqa: E402
from app.core.torch_backend.transfer import FrameTransfer  # noqa: E402
from tests.standins import build_inswapper, build_restorer, photos  # noqa: E402


def edge_scene() -> tuple[np.ndarray, list[np.ndarray]]:
    """t1 shifted so its first face hangs over the left edge and another over the top edge (640x400)."""
    scene = photos.t1()
    frame, faces = photos.place(scene.image, scene.faces, (640, 400), (-110, -120))
    return frame, [f.points for f in faces[:3]]


def scenes() -> list[tuple[str, np.ndarray, list[np.ndarray]]]:
    out = [(s.name, s.image, [f.points for f in s.faces]) for s in photos.all_scenes()]
    frame, points = edge_scene()
    return [*out, ("edge", frame, points)]


SCENES = scenes()
IDS = [name for name, _, _ in SCENES]


DEVICE = torch.device(os.environ.get("DLC_TEST_DEVICE", "cpu"))


def device_frame(frame: np.ndarray) -> torch.Tensor:
    return FrameTransfer(DEVICE).upload(frame)


def host(tensor: torch.Tensor) -> np.ndarray:
    return tensor.cpu().numpy()


def nchw(crops: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """N x S x S x 3 uint8 crops (the CPU path's) as the device path's N x 3 x S x S float tensor."""
    return torch.from_numpy(np.array(crops)).permute(0, 3, 1, 2).float().to(DEVICE)


def nhwc(crops: torch.Tensor) -> np.ndarray:
    return crops.permute(0, 2, 3, 1).cpu().numpy()


def level_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(a, dtype=np.int32) - np.asarray(b, dtype=np.int32))


def test_edge_scene_is_really_at_the_edge() -> None:
    frame, points = edge_scene()
    inv = scaled_inverse(alignment_matrix(points[0], 128), 128, 1.0)
    corners = np.array([[0, 0, 1], [128, 128, 1]], dtype=np.float64) @ inv.T
    assert corners[:, 0].min() < 0 < corners[:, 0].max()  # the crop reaches past the frame's left edge
    region = crop_region(inv, 128, frame.shape)
    assert region is not None and region[0] == 0


@pytest.mark.parametrize(("name", "frame", "points"), SCENES, ids=IDS)
def test_swap_alignment_equals_cv2(name: str, frame: np.ndarray, points: list[np.ndarray]) -> None:
    cpu = [align_crop(frame, p, 128) for p in points]
    device = nhwc(align_crops(device_frame(frame), [m for _, m in cpu], 128))
    diff = level_diff(device, np.array([c for c, _ in cpu]))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.001
    if name == "edge":
        assert (device[0] == 0).all(axis=-1).mean() > 0.05  # the black border really was sampled


@pytest.mark.parametrize(("name", "frame", "points"), SCENES, ids=IDS)
def test_ffhq_alignment_equals_cv2_with_reflected_border(name: str, frame: np.ndarray, points: list) -> None:
    cpu = [align_ffhq(frame, p) for p in points]
    device = nhwc(align_crops(device_frame(frame), [m for _, m in cpu], SIZE, "reflect101"))
    diff = level_diff(device, np.array([c for c, _ in cpu]))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.001


def test_reflect101_wraps_like_opencv_far_outside() -> None:
    """A map that reaches several image widths outside: every tap mirrored as OpenCV's borderInterpolate."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    matrix = np.array([[0.37, 0.05, 9.3], [-0.04, 0.41, 6.1]])  # frame -> 48x48 crop: a 4x zoom out
    expected = cv2.warpAffine(image, matrix, (48, 48), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    device = nhwc(align_crops(device_frame(image), [matrix], 48, "reflect101"))[0]
    assert level_diff(device, expected).max() <= 1


def test_crops_beyond_the_frame_are_border() -> None:
    """A crop wholly outside the frame is black with the constant border and mirrored frame with reflect."""
    image = photos.astronaut().image
    far = alignment_matrix(photos.astronaut().faces[0].points, 128)
    far[:, 2] += 3000.0
    assert not align_crops(device_frame(image), [far], 128).any()
    expected = cv2.warpAffine(image, far, (128, 128), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    device = nhwc(align_crops(device_frame(image), [far], 128, "reflect101"))[0]
    assert level_diff(device, expected).max() <= 1 and expected.any()


@pytest.fixture(scope="module")
def swapper(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from insightface.model_zoo import get_model

    path = build_inswapper(tmp_path_factory.mktemp("swapper") / "inswapper_128.onnx")
    with contextlib.redirect_stdout(io.StringIO()):
        return get_model(str(path), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def restorer(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    path = build_restorer(tmp_path_factory.mktemp("restorer") / "GFPGANv1.4.onnx")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def swap_model(swapper, latent: np.ndarray):  # type: ignore[no-untyped-def]
    """The stand-in inswapper (onnxruntime, batch 1 fixed) as a model over a batch of device tensors."""

    def run(batch: torch.Tensor) -> torch.Tensor:
        outs = [swapper.session.run(None, {"target": x[None].cpu().numpy(), "source": latent})[0] for x in batch]
        return torch.from_numpy(np.concatenate(outs)).to(batch.device)

    return run


def test_swapper_input_and_output_match_swap_crop(swapper) -> None:  # type: ignore[no-untyped-def]
    scene = photos.astronaut()
    crop, matrix = align_crop(scene.image, scene.faces[0].points, 128)
    latent = np.full((1, 512), 1 / np.sqrt(512), dtype=np.float32)
    blob = cv2.dnn.blobFromImage(crop, 1.0 / 255.0, (128, 128), (0.0, 0.0, 0.0), swapRB=True)
    device_crops = align_crops(device_frame(scene.image), [matrix], 128)
    model_input = to_swapper_input(device_crops)
    assert model_input.shape == (1, 3, 128, 128) and model_input.dtype == torch.float32
    np.testing.assert_allclose(host(model_input), blob, atol=1.01 / 255.0)
    # The same model output gives the same crop, bit for bit (swap_crop truncates, so must we).
    output = swap_model(swapper, latent)(torch.from_numpy(blob).to(DEVICE))
    expected = swap_crop(swapper, crop, latent)
    np.testing.assert_array_equal(nhwc(from_swapper_output(output))[0], expected)
    assert to_swapper_input(device_crops, torch.float16).dtype == torch.float16


def test_gfpgan_input_and_output_match_run_gfpgan(restorer) -> None:  # type: ignore[no-untyped-def]
    scene = photos.astronaut()
    crop, matrix = align_ffhq(scene.image, scene.faces[0].points)
    blob = (cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
    device_crops = align_crops(device_frame(scene.image), [matrix], SIZE, "reflect101")
    np.testing.assert_allclose(host(to_gfpgan_input(device_crops)), blob, atol=1.01 / 127.5)
    output = restorer.run(None, {"input": np.ascontiguousarray(blob)})[0]
    restored = nhwc(from_gfpgan_output(torch.from_numpy(output).to(DEVICE)))[0]
    np.testing.assert_array_equal(restored, run_gfpgan(restorer, crop))


def outside(shape: tuple[int, ...], regions: list) -> np.ndarray:
    mask = np.ones(shape[:2], dtype=bool)
    for region in regions:
        if region is not None:
            x0, y0, x1, y1 = region
            mask[y0:y1, x0:x1] = False
    return mask


def cpu_paste(frame, crops, matrices, references, blend, face_scale, size=128, masks=None):  # type: ignore[no-untyped-def]
    out = frame.copy()
    paster = FacePaster(size)
    regions = []
    for i, (crop, matrix) in enumerate(zip(crops, matrices, strict=True)):
        if masks is not None:
            paster.mask = masks[i]
        regions.append(paster.paste(out, crop, matrix, blend=blend, face_scale=face_scale,
                                    colour_reference=None if references is None else references[i]))
    return out, regions


def swapped_crops(frame: np.ndarray, points: list[np.ndarray]) -> tuple[list, list, list]:
    """Aligned crops, their matrices, and a 'swapped' crop for each: inverted, with less, more or about the
    same contrast in turn, so colour correction clips its gain at either end or not, and has a bias to find."""
    aligned = [align_crop(frame, p, 128) for p in points]
    crops = [c for c, _ in aligned]
    contrast = (0.7, 1.6, 0.95)
    swapped = [np.ascontiguousarray(np.clip(128 - (c.astype(np.float32) - 128) * contrast[i % 3] + 20, 0, 255)
                                    .astype(np.uint8)) for i, c in enumerate(crops)]
    return crops, [m for _, m in aligned], swapped


def test_colour_match_equals_match_colour_exactly() -> None:
    """Gains clipped low, clipped high and free (the three contrasts of swapped_crops), on every scene."""
    for _, frame, points in SCENES:
        crops, _, swapped = swapped_crops(frame, points)
        masks = torch.from_numpy(feather_mask(128)).float().to(DEVICE).expand(len(crops), 128, 128)
        device = nhwc(colour_matched(nchw(swapped), nchw(crops), masks))
        for i in range(len(crops)):
            assert np.array_equal(device[i], match_colour(swapped[i], crops[i], feather_mask(128)))


@pytest.mark.parametrize(("name", "frame", "points"), SCENES, ids=IDS)
@pytest.mark.parametrize(
    ("blend", "colour", "face_scale"),
    [(1.0, False, 1.0), (0.8, True, 1.0), (0.65, False, 1.25), (0.8, True, 0.8)],
    ids=["plain", "blend-colour", "blend-scale-up", "colour-scale-down"],
)
def test_paste_equals_cpu_paste(
    name: str, frame: np.ndarray, points: list, blend: float, colour: bool, face_scale: float
) -> None:
    crops, matrices, swapped = swapped_crops(frame, points)
    expected, cpu_regions = cpu_paste(frame, swapped, matrices, crops if colour else None, blend, face_scale)

    target = device_frame(frame)
    references = align_crops(target, matrices, 128) if colour else None
    regions = DevicePaster(128, DEVICE).paste(target, nchw(swapped), matrices, blend=blend,
                                      face_scale=face_scale, colour_references=references)
    result = host(target)
    assert regions == cpu_regions
    diff = level_diff(result, expected)
    untouched = outside(frame.shape, regions)
    # Off by one level at a few pixels in 10,000 on real faces; Tom Hanks' crop is the template itself, so
    # at face scale 0.8 the paste samples it at exact quarter pixels and 18% of the samples are exact ties
    # of the rounding, broken by float error differently (OpenCV breaks 9% of them unlike exact arithmetic).
    assert diff.max() <= 1 and (diff[~untouched] > 0).mean() < (0.06 if name == "tom_hanks" else 0.001)
    assert np.array_equal(result[untouched], frame[untouched])  # bit-identical outside every face region
    assert level_diff(result, frame)[~untouched].max() > 100  # and the faces really were pasted


def test_batch_equals_one_face_at_a_time() -> None:
    """Six overlapping-ish faces in one call give exactly what six calls in the same order give."""
    scene = photos.t1()
    points = [f.points for f in scene.faces]
    crops, matrices, swapped = swapped_crops(scene.image, points)
    paster = DevicePaster(128, DEVICE)
    batch = device_frame(scene.image)
    references = align_crops(batch, matrices, 128)
    swapped_t = nchw(swapped)
    batch_regions = paster.paste(batch, swapped_t, matrices, blend=0.8, face_scale=1.6,
                                 colour_references=references)
    single = device_frame(scene.image)
    single_regions = []
    for i in range(len(points)):
        single_regions += paster.paste(single, swapped_t[i : i + 1], matrices[i : i + 1], blend=0.8,
                                       face_scale=1.6, colour_references=references[i : i + 1])
    assert batch_regions == single_regions
    overlapping = [(a, b) for a in batch_regions for b in batch_regions if a is not None and b is not None
                   and a < b and a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]
    assert overlapping  # at face scale 1.6 some regions overlap, so the order matters
    if DEVICE.type == "cpu":
        assert torch.equal(batch, single)
    else:  # a GPU may sum a batch's colour statistics in another order: a level at a rounding tie
        assert level_diff(host(batch), host(single)).max() <= 1


def ellipse_mask(size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, (size // 2, size // 2 + 6), (size // 3, size // 2 - 12), 0, 0, 360, 255, -1)
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), 3.0), dtype=np.uint8)


def test_per_face_masks_equal_the_cpu_paste_with_that_mask() -> None:
    """A crop-space mask per face (what mouth and outline masks will be) drives alpha and the colour
    statistics just as the CPU paste's mask does; an all-zero mask leaves the frame as it was."""
    scene = photos.t1()
    points = [f.points for f in scene.faces[:3]]
    crops, matrices, swapped = swapped_crops(scene.image, points)
    masks = [ellipse_mask(128), feather_mask(128), np.zeros((128, 128), np.uint8)]
    expected, _ = cpu_paste(scene.image, swapped, matrices, crops, 0.9, 1.0, masks=masks)
    target = device_frame(scene.image)
    DevicePaster(128, DEVICE).paste(target, nchw(swapped), matrices, blend=0.9,
                            colour_references=align_crops(target, matrices, 128),
                            masks=torch.from_numpy(np.array(masks)).to(DEVICE))
    assert level_diff(host(target), expected).max() <= 1
    default = device_frame(scene.image)
    DevicePaster(128, DEVICE).paste(default, nchw(swapped[1:2]), matrices[1:2], blend=0.9,
                            colour_references=align_crops(default, matrices[1:2], 128))
    x0, y0, x1, y1 = crop_region(scaled_inverse(matrices[1], 128, 1.0), 128, scene.image.shape)  # type: ignore[misc]
    assert torch.equal(default[y0:y1, x0:x1], target[y0:y1, x0:x1])  # the feather mask is the default
    x0, y0, x1, y1 = crop_region(scaled_inverse(matrices[2], 128, 1.0), 128, scene.image.shape)  # type: ignore[misc]
    assert np.array_equal(host(target)[y0:y1, x0:x1], scene.image[y0:y1, x0:x1])
    with pytest.raises(ValueError, match="masks must be"):
        DevicePaster(128, DEVICE).paste(target, nchw(swapped), matrices,
                                masks=torch.zeros((2, 128, 128)))


def test_nothing_pasted_at_zero_blend_or_off_frame() -> None:
    scene = photos.astronaut()
    crops, matrices, swapped = swapped_crops(scene.image, [scene.faces[0].points])
    target = device_frame(scene.image)
    paster = DevicePaster(128, DEVICE)
    assert paster.paste(target, nchw(swapped), matrices, blend=0.0) == [None]
    far = matrices[0].copy()
    far[:, 2] += 5000.0  # the face maps far outside the frame
    assert paster.paste(target, nchw(swapped), [far]) == [None]
    assert np.array_equal(host(target), scene.image)


@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_restore_paste_equals_cpu(strength: float) -> None:
    scene = photos.t1()
    points = [f.points for f in scene.faces[:2]]
    aligned = [align_ffhq(scene.image, p) for p in points]
    restored = [np.ascontiguousarray(np.clip(c.astype(np.int16) // 2 + 40, 0, 255).astype(np.uint8))
                for c, _ in aligned]
    matrices = [m for _, m in aligned]
    expected, cpu_regions = cpu_paste(scene.image, restored, matrices, None, strength, 1.0, size=SIZE)
    target = device_frame(scene.image)
    regions = DevicePaster(SIZE, DEVICE).paste(target, nchw(restored), matrices, blend=strength)
    assert regions == cpu_regions
    assert level_diff(host(target), expected).max() <= 1
    untouched = outside(scene.image.shape, regions)
    assert np.array_equal(host(target)[untouched], scene.image[untouched])


@pytest.mark.parametrize("colour", [True, False])
def test_swap_faces_equals_the_cpu_swap(swapper, colour: bool) -> None:  # type: ignore[no-untyped-def]
    """The whole device swap (align, stand-in model, paste) against the CPU engine's per-face loop."""
    scene = photos.t1()
    latent = np.full((1, 512), 1 / np.sqrt(512), dtype=np.float32)
    expected = scene.image.copy()
    paster = FacePaster()
    for face in scene.faces:
        crop, matrix = align_crop(scene.image, face.points, 128)
        paster.paste(expected, swap_crop(swapper, crop, latent), matrix, blend=0.8, face_scale=1.1,
                     colour_reference=crop if colour else None)
    target = device_frame(scene.image)
    matrices = [alignment_matrix(f.points, 128) for f in scene.faces]
    regions = swap_faces(target, matrices, swap_model(swapper, latent), DevicePaster(128, DEVICE), blend=0.8,
                         face_scale=1.1, color_correction=colour)
    assert all(r is not None for r in regions)
    assert level_diff(host(target), expected).max() <= 1


def test_restore_faces_equals_the_cpu_restore_without_finishing(restorer) -> None:  # type: ignore[no-untyped-def]
    scene = photos.astronaut()
    options = RestoreOptions(strength=0.6, denoise=0.0, sharpen=0.0, enhance_details=False)
    expected = restore_faces(restorer, scene.image, [scene.faces[0]], options)  # type: ignore[list-item]

    def gfpgan(batch: torch.Tensor) -> torch.Tensor:
        outs = [restorer.run(None, {"input": x[None].cpu().numpy()})[0] for x in batch]
        return torch.from_numpy(np.concatenate(outs)).to(batch.device)

    target = device_frame(scene.image)
    device_restore_faces(target, [scene.faces[0].points], gfpgan, DevicePaster(SIZE, DEVICE), strength=0.6)
    assert level_diff(host(target), expected).max() <= 1


def test_transfer_round_trip_owns_its_memory() -> None:
    frame = photos.astronaut().image
    transfer = FrameTransfer(DEVICE)
    uploaded = transfer.upload(frame)
    assert uploaded.shape == frame.shape and uploaded.dtype == torch.uint8
    uploaded[:10] = 0  # pasting into the device frame never writes into the captured frame
    assert frame[:10].any()
    out = transfer.download(uploaded)
    assert out.dtype == np.uint8 and out.flags.c_contiguous and np.array_equal(out[10:], frame[10:])
    assert transfer.start_download(uploaded).result().shape == frame.shape


def test_host_frames_and_bad_frames() -> None:
    """host_frame() gives a writable frame of the asked shape (pinned on CUDA) that uploads like any other;
    a frame that is not H x W x C uint8 is refused."""
    transfer = FrameTransfer(DEVICE)
    frame = transfer.host_frame((6, 8, 3))
    frame[:] = 7
    uploaded = transfer.upload(frame)
    transfer.download(uploaded)  # waits for the device: only then may a host frame be written again
    frame[:] = 9
    assert uploaded.shape == (6, 8, 3) and int(uploaded.max()) == 7
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32)):
        with pytest.raises(ValueError, match="H x W x C uint8"):
            transfer.upload(bad)


def test_empty_batches() -> None:
    target = device_frame(photos.astronaut().image)
    assert align_crops(target, [], 128).shape == (0, 3, 128, 128)
    assert swap_faces(target, [], lambda x: x, DevicePaster(128, DEVICE)) == []
