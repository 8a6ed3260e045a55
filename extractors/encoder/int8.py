"""Row-wise int8 linear maps with exact integer sums: fast on CPU and batch-independent."""

from __future__ import annotations

from kg.errors import ModelLoadError


def rowwise_int8_linear(linear):
    """An nn.Linear replacement computing in int8 with exact int32 accumulation.

    Weights: int8 with one scale per output channel. Activations: int8 with one scale per
    ROW (token), taken from that row alone. Integer accumulation is exact and every other
    step is elementwise, so a token's output does not depend on the other rows of the batch.
    (Per-tensor dynamic quantization, which torch offers built in, takes one scale for the
    whole batch: a sentence's scores then depended on its batch-mates, 0.47 vs 0.59 for one
    fact.) torch._int_mm uses VNNI on CPUs that have it: 2-4x an fp32 matmul here."""
    import torch
    from torch import nn

    class RowwiseInt8Linear(nn.Module):
        def __init__(self):
            super().__init__()
            w = linear.weight.detach().float()
            scale = w.abs().amax(1).clamp(min=1e-12) / 127
            self.register_buffer("wq", torch.round(w / scale[:, None]).to(torch.int8))  # [out, in]
            self.register_buffer("scale", scale)
            self.register_buffer("bias", linear.bias.detach().float() if linear.bias is not None
                                 else torch.zeros(w.shape[0]))

        def forward(self, x):
            shape = x.shape
            x2 = x.reshape(-1, shape[-1])
            s = x2.abs().amax(1, keepdim=True).clamp(min=1e-12) / 127
            xq = torch.round(x2 / s).to(torch.int8)
            m = xq.shape[0]
            if m <= 16:  # torch._int_mm wants more than 16 rows; zero rows change nothing
                xq = torch.cat([xq, xq.new_zeros(17 - m, xq.shape[1])])
            acc = torch._int_mm(xq, self.wq.t())[:m]
            return (acc.to(torch.float32) * (s * self.scale) + self.bias).reshape(*shape[:-1], -1)

    return RowwiseInt8Linear()


def quantize_bert_int8(bert) -> int:
    """Swap a BertModel's transformer-layer linear maps for row-wise int8 ones (in place); the
    embeddings, layer norms and attention products stay fp32. Returns the number swapped."""
    from torch import nn

    n = 0
    for layer in bert.encoder.layer:
        for parent in (layer.attention.self, layer.attention.output, layer.intermediate, layer.output):
            for name, mod in list(parent.named_children()):
                if isinstance(mod, nn.Linear):
                    setattr(parent, name, rowwise_int8_linear(mod))
                    n += 1
    return n


def int8_supported() -> bool:
    import torch

    try:
        a = torch.zeros(17, 8, dtype=torch.int8)
        torch._int_mm(a, torch.zeros(8, 8, dtype=torch.int8))
        return True
    except (RuntimeError, AttributeError):
        return False


INT8_CPU_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")  # x86 features torch._int_mm's fast path uses


def int8_is_fast(cpuinfo: str | None = None) -> bool:
    """Whether this CPU has integer dot-product instructions (VNNI, AMX). Without them
    torch._int_mm still works but runs 50-100x slower than an fp32 matmul (measured on a 2-core
    AMD EPYC with AVX2 only), so an artifact's default int8 is then run in fp32."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    flags = {w for line in cpuinfo.splitlines() if line.startswith("flags") for w in line.split(":", 1)[-1].split()}
    return any(f in flags for f in INT8_CPU_FLAGS)


def default_precision(artifact_precision: str) -> str:
    """The precision a model runs in when none is asked for: its artifact's (the one its
    calibration was fitted in), except int8 on a CPU without a fast int8 path, which runs fp32."""
    return "fp32" if artifact_precision == "int8" and not int8_is_fast() else artifact_precision


def set_precision(model, precision: str) -> None:
    """Put a loaded model (with .net.encoder, .device, .precision) in "int8" or "fp32". int8 swaps
    the encoder's linear maps (quantize_bert_int8) and needs a CPU with torch._int_mm; elsewhere
    the model stays fp32 (model.precision says which runs). fp32 after int8 is not possible."""
    if precision not in ("fp32", "int8"):
        raise ModelLoadError(f"unknown precision {precision!r} (fp32 or int8)")
    if precision == "int8" and model.precision != "int8" and str(model.device) == "cpu" and int8_supported():
        quantize_bert_int8(model.net.encoder)
        model.precision = "int8"
