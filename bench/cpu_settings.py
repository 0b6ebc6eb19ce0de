"""Do the settings that emulate an AVX2-only CPU take effect here? One line per setting.

    python bench/cpu_settings.py

Each setting is read in a fresh interpreter twice, without it and with it (and once with a lower
value, to show the knob is read even where the emulated value changes nothing: on a CPU without
AVX-512 there is nothing above AVX2 to cap). What is printed is what the library reports:

- NUMBA_CPU_NAME=haswell (with NUMBA_CPU_FEATURES= empty): the CPU name and features numba's
  code generator compiles for, and whether a compiled loop uses FMA and 256-bit (ymm) or 512-bit
  (zmm) registers. NUMBA_CPU_NAME alone keeps the host's features (numba passes
  get_host_cpu_features() unless NUMBA_CPU_FEATURES is set): on an AVX-512 host "haswell" would
  still compile AVX-512. The empty NUMBA_CPU_FEATURES makes LLVM take the named CPU's own.
- ATEN_CPU_CAPABILITY=avx2: torch.backends.cpu.get_cpu_capability(), the kernels torch dispatches.
- ONEDNN_MAX_CPU_ISA=AVX2: the ISA oneDNN reports (ONEDNN_VERBOSE=1) and the kernel it picks when a
  convolution runs. The fp32 model's matrix products do not go through oneDNN (bf16 ones do).
- EMBEDSCOPE_PRECISION=fp32: lib.embed.models.resolve_precision("auto").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NUMBA = """
import numba, numpy as np
from numba.core.registry import cpu_target
codegen = cpu_target.target_context.codegen()
@numba.njit(fastmath=True)  # lets LLVM fuse a * x + y into one FMA
def axpy(a, x, y):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = a * x[i] + y[i]
    return out
x = np.ones(64)
axpy(2.0, x, x)
asm = axpy.inspect_asm(axpy.signatures[0])
features = codegen._get_host_cpu_features()
wide = "zmm" if "zmm" in asm else "ymm" if "ymm" in asm else "xmm"
print(f"cpu={codegen._get_host_cpu_name()} avx512f={'+avx512f' in features} "
      f"fma={'vfmadd' in asm} registers={wide}")
"""
TORCH = "import torch; print(torch.backends.cpu.get_cpu_capability())"
ONEDNN = """
import torch
torch.nn.functional.conv2d(torch.randn(8, 32, 64, 64), torch.randn(64, 32, 3, 3))
"""
PRECISION = "from lib.embed.models import resolve_precision; print(resolve_precision('auto'))"

# (name, code, settings to compare: {label: environment changes})
CHECKS = (
    (
        "NUMBA_CPU_NAME",
        NUMBA,
        {
            "unset": {},
            "haswell": {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": ""},
            "haswell, host features": {"NUMBA_CPU_NAME": "haswell"},
            "generic (lower)": {"NUMBA_CPU_NAME": "generic"},
        },
    ),
    (
        "ATEN_CPU_CAPABILITY",
        TORCH,
        {
            "unset": {},
            "avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
            "default (lower)": {"ATEN_CPU_CAPABILITY": "default"},
        },
    ),
    (
        "ONEDNN_MAX_CPU_ISA",
        ONEDNN,
        {
            "unset": {},
            "AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
            "SSE41 (lower)": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
        },
    ),
    (
        "EMBEDSCOPE_PRECISION",
        PRECISION,
        {
            "unset": {},
            "fp32": {"EMBEDSCOPE_PRECISION": "fp32"},
            "bf16 (other)": {"EMBEDSCOPE_PRECISION": "bf16"},
        },
    ),
)
EMULATION = (
    "NUMBA_CPU_NAME",
    "NUMBA_CPU_FEATURES",
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "EMBEDSCOPE_PRECISION",
    "ONEDNN_VERBOSE",
)


def observe(code: str, changes: dict[str, str]) -> str:
    """What `code` prints (oneDNN: its reported ISA) in a fresh interpreter with `changes`."""
    env = {k: v for k, v in os.environ.items() if k not in EMULATION}
    env.update(changes, ONEDNN_VERBOSE="1", PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    if result.returncode:
        return f"failed: {result.stderr.strip().splitlines()[-1]}"
    lines = result.stdout.strip().splitlines()
    isa = [line.split("isa:", 1)[1].split(",")[0] for line in lines if "isa:" in line]
    kernels = [line.split(",")[6] for line in lines if ",exec,cpu,convolution," in line]
    if isa:
        return f"isa: {isa[0]}; convolution kernel: {kernels[0] if kernels else '?'}"
    printed = [line for line in lines if not line.startswith("onednn_verbose")]
    return printed[-1] if printed else "(nothing reported)"


def main() -> None:
    print(f"host: {_host_cpu()}")
    for name, code, settings in CHECKS:
        seen = {label: observe(code, changes) for label, changes in settings.items()}
        labels = list(seen)
        emulated = labels[1]
        effect = "changes what is used" if seen[emulated] != seen["unset"] else "no visible change"
        lower = labels[-1]
        knob = "read" if seen[lower] != seen["unset"] else "NOT visibly read"
        print(f"\n{name}: {effect} here; the knob is {knob} (a lower value changes it)")
        for label in labels:
            print(f"  {label:24} {seen[label]}")


def _host_cpu() -> str:
    try:
        flags = next(
            line
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("flags")
        ).split()
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        return "unknown"
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")
    return f"{model}; " + " ".join(f"{flag}={flag in flags}" for flag in wanted)


if __name__ == "__main__":
    main()
