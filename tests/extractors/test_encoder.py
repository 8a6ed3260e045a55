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


def test_int8_runs_by_default_only_where_it_is_fast():
    from extractors.encoder import int8

    avx2_only = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma\n"
    vnni = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n"
    assert not int8.int8_is_fast(avx2_only) and int8.int8_is_fast(vnni)
    assert int8.int8_is_fast("flags : avx2 avx_vnni") and not int8.int8_is_fast("")
    # an artifact calibrated in int8 runs int8 only on a VNNI CPU; fp32 artifacts stay fp32
    assert int8.default_precision("fp32") == "fp32"
    assert int8.default_precision("int8") == ("int8" if int8.int8_is_fast() else "fp32")


def test_a_model_loads_in_fp32_by_default_on_a_cpu_without_vnni(monkeypatch):
    from extractors.encoder import int8
    from extractors.relations.marker import MarkerRelationExtractor, default_relation_model_path

    monkeypatch.setattr(int8, "int8_is_fast", lambda cpuinfo=None: False)
    assert MarkerRelationExtractor.load(default_relation_model_path()).precision == "fp32"
    assert MarkerRelationExtractor.load(default_relation_model_path(), precision="int8").precision == "int8"
