"""The hand-fused inswapper module, run from a `Plan` read off the graph (`inswapper_plan`).

Per face it runs the convolutions, one instance norm + scale/shift per AdaIN, one linear for all twelve style
vectors, and in-place activations, instead of the graph's ~316 nodes. It takes any batch: target [N,3,H,W]
(RGB in [0,1]) and latent [N,512] or [1,512] (one source for every face).

Precision follows `precision.to_half`: convolutions and the style linear in `dtype`, the AdaIN statistics and
everything between the convolutions in fp32, the output head (convs with no conv after them) in fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from app.core.torch_backend.inswapper_plan import Plan, Step


def _head_convs(plan: Plan) -> set[int]:
    """Indices of the convs from which the output is reached without another conv."""
    producer = {s.output: s for s in plan.steps}
    heads: set[int] = set()
    stack, seen = [plan.output_reg], set()
    while stack:
        step = producer.get(stack.pop())
        if step is None or id(step) in seen:
            continue
        seen.add(id(step))
        if step.kind == "conv":
            heads.add(int(step.params["index"]))
        else:
            stack.extend(step.inputs)
    return heads


class FusedInswapper(nn.Module):
    def __init__(self, plan: Plan, dtype: torch.dtype = torch.float32, channels_last: bool = False) -> None:
        super().__init__()
        self.dtype, self.channels_last = dtype, channels_last
        heads = _head_convs(plan)
        convs = []
        for i, (weight, bias, attrs) in enumerate(plan.convs):
            cout, cin, kh, kw = weight.shape
            conv = nn.Conv2d(cin, cout, (kh, kw), stride=attrs["stride"], padding=attrs["padding"],
                             bias=bias is not None)
            with torch.no_grad():
                conv.weight.copy_(torch.tensor(weight))
                if bias is not None and conv.bias is not None:
                    conv.bias.copy_(torch.tensor(bias.reshape(-1)))
            conv.to(torch.float32 if i in heads else dtype)
            if channels_last:
                conv.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            convs.append(conv)
        self.convs = nn.ModuleList(convs)
        weights = torch.cat([torch.tensor(w) for w, _ in plan.gemms])
        self.style = nn.Linear(weights.shape[1], weights.shape[0])
        with torch.no_grad():
            self.style.weight.copy_(weights)
            self.style.bias.copy_(torch.cat([torch.tensor(b) for _, b in plan.gemms]))
        self.style.to(dtype)
        offsets, total = [], 0
        for w, _ in plan.gemms:
            offsets.append(total)
            total += w.shape[0]
        self.offsets = offsets
        self.steps: list[Step] = plan.steps
        self.output_reg = plan.output_reg
        self._inplace, self._free_after = self._schedule(plan)
        self.requires_grad_(False)

    @staticmethod
    def _schedule(plan: Plan) -> tuple[list[bool], list[list[int]]]:
        uses: dict[int, int] = {}
        last: dict[int, int] = {}
        for i, s in enumerate(plan.steps):
            for r in s.inputs:
                uses[r] = uses.get(r, 0) + 1
                last[r] = i
        # in place only on a tensor nothing else reads, and never on the caller's input (register 0)
        inplace = [s.kind in ("act", "affine") and s.inputs[0] != plan.input_reg and uses[s.inputs[0]] == 1
                   for s in plan.steps]
        free: list[list[int]] = [[] for _ in plan.steps]
        for reg, i in last.items():
            if reg != plan.output_reg:
                free[i].append(reg)
        return inplace, free

    def _slice(self, styles: Tensor, ref: tuple[int, int, int]) -> Tensor:
        g, start, end = ref
        base = self.offsets[g]
        return styles[:, base + start: base + end, None, None]

    def forward(self, target: Tensor, latent: Tensor) -> Tensor:
        styles = self.style(latent.to(self.dtype)).float()
        x0 = target.contiguous(memory_format=torch.channels_last) if self.channels_last else target
        regs: dict[int, Tensor] = {0: x0}
        for i, step in enumerate(self.steps):
            regs[step.output] = self._run(step, regs, styles, self._inplace[i])
            for reg in self._free_after[i]:
                regs.pop(reg, None)
        return regs[self.output_reg].float().contiguous()

    def _run(self, step: Step, regs: dict[int, Tensor], styles: Tensor, inplace: bool) -> Tensor:
        x = regs[step.inputs[0]]
        p = step.params
        if step.kind == "conv":
            conv = self.convs[p["index"]]
            x = x.to(conv.weight.dtype)
            ph, pw = p["reflect"]
            if ph or pw:
                x = F.pad(x, (pw, pw, ph, ph), mode="reflect")
            out: Tensor = conv(x)
            return out
        if step.kind == "adain":
            # the graph's own two-pass formula, with the scale folded in: (x - mean) * (gamma / std) + beta.
            # (F.instance_norm and torch.var_mean are 5-10x slower on CPUs for this shape.)
            x = x.float()
            centred = x - x.mean(dim=(2, 3), keepdim=True)
            var = centred.square().mean(dim=(2, 3), keepdim=True)
            scale = self._slice(styles, p["gamma"]) * torch.rsqrt(var + p["eps"])
            return torch.addcmul(self._slice(styles, p["beta"]), centred, scale)
        if step.kind == "act":
            if p["fn"] == "leaky":
                return F.leaky_relu(x, p["alpha"], inplace=inplace)
            if p["fn"] == "relu":
                return F.relu(x, inplace=inplace)
            return torch.tanh_(x) if inplace else torch.tanh(x)
        if step.kind == "affine":
            scaled: Tensor = x.mul_(p["scale"]).add_(p["shift"]) if inplace else x * p["scale"] + p["shift"]
            return scaled
        if step.kind == "add":
            return x + regs[step.inputs[1]]
        if step.kind == "resize":
            return F.interpolate(x, scale_factor=p["scale"], mode=p["mode"], align_corners=p["align"])
        raise ValueError(f"unknown step {step.kind}")
