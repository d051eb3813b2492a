"""Which hardware a calibration runs on, and whether the --gpu label tells the truth (torch-free)."""

from __future__ import annotations

import os
import platform
import re

from specsim.errors import SpecsimError

CPU_LABEL = "cpu"


def label_matches(label: str, device_name: str) -> bool:
    """True when the label names the device: `h100` ~ "NVIDIA H100 80GB HBM3", `a100` ~
    "NVIDIA A100-SXM4-80GB", `rtx4090` ~ "NVIDIA GeForce RTX 4090". The label must equal one
    word of the name, or several consecutive words run together, so `l40` does not match L40S."""
    wanted = re.sub(r"[^a-z0-9]", "", label.lower())
    words = re.findall(r"[a-z0-9]+", device_name.lower())
    if not wanted:
        return False
    for start in range(len(words)):
        joined = ""
        for word in words[start:]:
            joined += word
            if joined == wanted:
                return True
            if len(joined) >= len(wanted):
                break
    return False


def check_gpu_label(label: str, device_name: str, force: bool = False) -> str | None:
    """Refuse a label that does not name the device torch reports, unless forced.
    Returns a note for the profile when a mismatch was forced through."""
    if label_matches(label, device_name):
        return None
    if not force:
        raise SpecsimError(
            f"--gpu {label}: this machine's GPU is {device_name!r}; a profile labelled {label!r} would "
            f"be wrong (pass --force to label it anyway)"
        )
    return f"--gpu {label} was forced on a device reported as {device_name!r}"


def resolve_device(label: str, device: str | None, cuda_available: bool) -> str:
    """The torch device kind to measure on: `cpu` for --gpu cpu, `cuda` for a GPU label."""
    label = label.strip().lower()
    if not label:
        raise SpecsimError("--gpu: needs a hardware label (h100, a100, l40s, ..., or cpu)")
    if device not in (None, "cpu", "cuda"):
        raise SpecsimError(f"--device {device}: expected cpu or cuda")
    if label == CPU_LABEL:
        if device == "cuda":
            raise SpecsimError("--gpu cpu with --device cuda: label a GPU calibration with the GPU's name")
        return "cpu"
    if device == "cpu":
        raise SpecsimError(f"--gpu {label} with --device cpu: a CPU calibration must be labelled --gpu cpu")
    if not cuda_available:
        raise SpecsimError(
            f"--gpu {label}: no CUDA device is visible to torch; use --gpu cpu to calibrate on the CPU"
        )
    return "cuda"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as lines:
            for line in lines:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} logical cores)"


def host_memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None
