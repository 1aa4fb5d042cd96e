import pytest

from llmnotes import numerics


def test_strict_mode_needs_x86_64_with_avx2_and_fma(monkeypatch):
    monkeypatch.delenv(numerics.SWITCH, raising=False)
    assert numerics.mode({"avx2", "fma", "sse2"}, "x86_64") == ("strict", "")
    assert numerics.mode({"sse2"}, "x86_64")[0] == "lax"
    mode, reason = numerics.mode(set(), "aarch64")
    assert mode == "lax" and "aarch64" in reason


def test_native_numerics_are_lax_and_set_no_pins(monkeypatch):
    monkeypatch.setenv(numerics.SWITCH, "native")
    assert numerics.mode({"avx2", "fma"}, "x86_64")[0] == "lax"
    assert numerics.pin({}) == {}


def test_pins_do_not_override_what_the_user_set(monkeypatch):
    monkeypatch.setattr(numerics, "mode", lambda: ("strict", ""))
    env = {"MKL_CBWR": "AVX2"}
    assert numerics.pin(env)["MKL_CBWR"] == "AVX2" and env["ATEN_CPU_CAPABILITY"] == "avx2"


def test_an_unknown_switch_value_is_named(monkeypatch):
    monkeypatch.setenv(numerics.SWITCH, "fast")
    with pytest.raises(ValueError, match="LLMNOTES_NUMERICS must be 'pinned' or 'native'"):
        numerics.mode({"avx2", "fma"}, "x86_64")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    (tmp_path / "cpuinfo").write_text("processor : 0\nflags : fpu sse2 avx2 fma\n")
    assert numerics.cpu_flags(tmp_path / "cpuinfo") == {"fpu", "sse2", "avx2", "fma"}
    assert numerics.cpu_flags(tmp_path / "missing") == set()
