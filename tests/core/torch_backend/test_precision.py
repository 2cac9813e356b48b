"""The fp16 policy's building blocks: choices, the output heads, the guard's verdicts."""

from __future__ import annotations

import pytest
import torch
from torch import fx, nn

from app.core.torch_backend import graph_passes
from app.core.torch_backend.precision import (
    Bound,
    Role,
    disagreement,
    output_heads,
    parse_precision,
    to_half,
    torch_roles,
    wants_fp16,
)
from app.errors import OptionError


def test_precision_choices() -> None:
    assert parse_precision(None) == "auto" and parse_precision(" FP16 ") == "fp16"
    with pytest.raises(OptionError, match="choose from auto, fp32, fp16"):
        parse_precision("int8")
    cpu = torch.device("cpu")
    assert not wants_fp16("auto", cpu) and wants_fp16("fp16", cpu) and not wants_fp16("fp32", cpu)


class Tiny(nn.Module):
    """conv -> instance statistics -> conv (head), like one AdaIN block and an output layer."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        mean = torch.mean(y, dim=(2, 3), keepdim=True)
        y = (y - mean) / torch.sqrt(torch.mean((y - mean) ** 2, dim=(2, 3), keepdim=True) + 1e-8)
        return self.b(torch.relu(y))


def test_fp16_pass_keeps_statistics_and_heads_in_fp32() -> None:
    torch.manual_seed(0)
    net = Tiny().eval()
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        expected = net(x)
    gm = fx.symbolic_trace(net)
    roles = {n: torch_roles(gm, n) for n in gm.graph.nodes}
    assert {n.target for n in output_heads(gm, roles)} == {"b"}
    assert [str(n.target) for n in gm.graph.nodes if roles[n] is Role.HEAVY] == ["a", "b"]
    records = graph_passes.record(gm, [x], fold_shapes=False)
    assert to_half(gm, records, torch_roles) == 1
    graph_passes.specialise(gm, [x], fold_shapes=False)
    assert gm.a.weight.dtype == torch.float16 and gm.b.weight.dtype == torch.float32
    means = [n for n in gm.graph.nodes if n.target is torch.mean]
    assert all(n.args[0].target == "to" and n.args[0].args[1] == torch.float32 for n in means[:1])
    with torch.inference_mode():
        got = gm(x)
    assert got.dtype == torch.float32 and float((got - expected).abs().max()) < 0.02


def test_guard_verdicts() -> None:
    ref = [torch.linspace(0, 1, 1000)]
    bound = Bound(mean=1.0, p99=3.0, scale=255.0, unit="levels")
    assert disagreement(ref, [ref[0] + 0.5 / 255], bound) is None
    far = disagreement(ref, [ref[0] + 4 / 255], bound)
    assert far is not None and "4 levels on average" in far
    broken = ref[0].clone()
    broken[10] = float("nan")
    assert disagreement(ref, [broken], bound) == "output 0 has 1 NaN/Inf values of 1000"
