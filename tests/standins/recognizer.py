"""Stand-in for buffalo_l/w600k_r50.onnx (ArcFace recognition, IResNet-50 in the real file).

The real file: input `input.1` [None,3,112,112] (dynamic batch named 'None'; an aligned face, RGB,
normalised as (x - 127.5) / 127.5), output `683` [None,512] (an un-normalised embedding). insightface's
ArcFaceONNX decides the normalisation from the names of the first 8 graph nodes (names starting with
'Sub'/'_minus' AND 'Mul'/'_mul' mean an mxnet model with mean 0 and std 1); the stand-in's node names avoid
those prefixes so it is treated like the real w600k_r50 (input_mean = input_std = 127.5).

What it computes: average-pool the face to 8x8x3, standardise those 192 numbers (removes brightness and
contrast), then random Fourier features: emb = 1.25 * cos(z @ W + b) with W ~ N(0, 1/30) (norm ~20 like the
real embeddings). The cosine similarity of two embeddings approximates exp(-|z1 - z2|^2 / 60): the same face
gives the same embedding, the same face aligned a pixel or two differently stays above ~0.95, different faces
of the shipped photos stay below ~0.35.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from tests.standins.onnx_file import save_graph

SIGMA2 = 30.0
OUTPUT_NAME = "683"


def _weights(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1000)
    w = (rng.standard_normal((192, 512)) / np.sqrt(SIGMA2)).astype(np.float32)
    b = rng.uniform(0.0, 2.0 * np.pi, 512).astype(np.float32)
    return w, b


def expected_embedding(blob: np.ndarray, seed: int = 0) -> np.ndarray:
    """numpy reference: `blob` [N,3,112,112] normalised like ArcFaceONNX feeds it."""
    w, b = _weights(seed)
    n = blob.shape[0]
    z = blob.reshape(n, 3, 8, 14, 8, 14).mean(axis=(3, 5)).reshape(n, 192)
    z = z - z.mean(axis=1, keepdims=True)
    z = z / (np.sqrt((z * z).mean(axis=1, keepdims=True)) + 1e-6)
    out: np.ndarray = (np.cos(z @ w + b) * 1.25).astype(np.float32)
    return out


def build_recognizer(path: str | Path, seed: int = 0) -> Path:
    """Write a stand-in w600k_r50.onnx to `path` and return the path.

    Guarantees: loads through `insightface.model_zoo.get_model` as `ArcFaceONNX` with input_mean 127.5,
    input_std 127.5, input_size (112, 112); deterministic; embeddings have norm ~20 (like the real ones);
    cosine similarity follows a Gaussian kernel of the pooled, standardised face (see the module docstring).
    """
    path = Path(path)
    w, b = _weights(seed)
    nodes = [
        helper.make_node(
            "AveragePool", ["input.1"], ["pooled"], name="stem_pool", kernel_shape=[14, 14], strides=[14, 14]
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="stem_flatten", axis=1),
        helper.make_node("ReduceMean", ["flat"], ["mean"], name="stem_mean", axes=[1], keepdims=1),
        helper.make_node("Sub", ["flat", "mean"], ["centred"], name="stem_centre"),
        helper.make_node("Mul", ["centred", "centred"], ["sq"], name="stem_square"),
        helper.make_node("ReduceMean", ["sq"], ["var"], name="stem_var", axes=[1], keepdims=1),
        helper.make_node("Sqrt", ["var"], ["std"], name="stem_std"),
        helper.make_node("Add", ["std", "eps"], ["std_eps"], name="stem_std_eps"),
        helper.make_node("Div", ["centred", "std_eps"], ["z"], name="feat_standardise"),
        helper.make_node("MatMul", ["z", "rff_w"], ["proj"], name="feat_project"),
        helper.make_node("Add", ["proj", "rff_b"], ["phase"], name="feat_phase"),
        helper.make_node("Cos", ["phase"], ["features"], name="feat_cos"),
        helper.make_node("Mul", ["features", "gain"], [OUTPUT_NAME], name="feat_gain"),
    ]
    inits = [
        numpy_helper.from_array(np.array(1e-6, np.float32), "eps"),
        numpy_helper.from_array(w, "rff_w"),
        numpy_helper.from_array(b, "rff_b"),
        numpy_helper.from_array(np.array(1.25, np.float32), "gain"),
    ]
    graph = helper.make_graph(
        nodes,
        "w600k_r50_standin",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["None", 3, 112, 112])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["None", 512])],
        initializer=inits,
    )
    save_graph(graph, path)
    return path
