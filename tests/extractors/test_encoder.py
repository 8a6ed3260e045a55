"""The shared MiniLM plumbing: row-wise int8 linear maps and same-length batching."""


def test_rowwise_int8_linear_matches_fp32_closely():
    import torch

    from extractors.encoder.int8 import int8_supported, rowwise_int8_linear

    assert int8_supported()  # the CPU torch build in pyproject has torch._int_mm
    torch.manual_seed(0)
    lin = torch.nn.Linear(384, 96)
    q = rowwise_int8_linear(lin)
    x = torch.randn(5, 7, 384)
    with torch.no_grad():
        ref, got = lin(x), q(x)
        assert got.shape == ref.shape
        assert ((got - ref).abs().max() / ref.abs().max()) < 0.02
        # a row's output is exactly the same alone or with other rows
        assert torch.equal(q(x[:1, :1]), got[:1, :1])
