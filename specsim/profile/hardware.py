"""Public datasheet figures of the GPUs a roofline profile can be made for.

Every number is the vendor's headline figure for the named part, *dense* (NVIDIA datasheets
print tensor-core throughput "with sparsity" and mark it with an asterisk; we always take the
dense figure, half of it). Memory sizes are the datasheet's GB (10^9 bytes), slightly less than
the GiB a driver reports, so capacity estimates err on the safe side.

These are peaks; `roofline.py` applies its achievable fractions to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from specsim.errors import SpecsimError

GB = 1_000_000_000
TERA = 1e12


@dataclass(frozen=True)
class GpuSpec:
    label: str
    device_name: str
    memory_bytes: int
    memory_bandwidth_bytes_per_s: float
    bf16_flops_per_s: float  # dense bf16/fp16 tensor-core peak (no 2:4 sparsity)
    fp32_flops_per_s: float  # non-tensor fp32 peak
    source: str
    # GPU-to-GPU bandwidth one way (NVLink where the part has it, else PCIe): what a tensor-
    # parallel all-reduce moves its bytes over; datasheets print the two directions summed
    interconnect_bytes_per_s: float = 0.0
    interconnect_source: str = ""

    def peak_flops_per_s(self, dtype: str) -> float:
        """The peak a forward in `dtype` can reach: tensor cores for 16-bit types, plain FP32 units
        otherwise (no TF32: a float32 calibration in PyTorch leaves TF32 matmuls off by default)."""
        sixteen_bit = dtype in ("bf16", "bfloat16", "fp16", "float16")
        return self.bf16_flops_per_s if sixteen_bit else self.fp32_flops_per_s


GPUS: dict[str, GpuSpec] = {
    "a100-40gb": GpuSpec(
        label="a100-40gb",
        device_name="NVIDIA A100-SXM4-40GB",
        memory_bytes=40 * GB,
        memory_bandwidth_bytes_per_s=1555e9,
        bf16_flops_per_s=312 * TERA,
        fp32_flops_per_s=19.5 * TERA,
        source="NVIDIA A100 Tensor Core GPU datasheet (2021): 40GB HBM2, 1,555 GB/s; "
        "BF16/FP16 tensor 312 TFLOPS dense (624 with sparsity); FP32 19.5 TFLOPS",
        interconnect_bytes_per_s=300e9,
        interconnect_source="A100 SXM datasheet: NVLink 600 GB/s, both directions = 300 GB/s each way"
    ),
    "a100": GpuSpec(
        label="a100",
        device_name="NVIDIA A100-SXM4-80GB",
        memory_bytes=80 * GB,
        memory_bandwidth_bytes_per_s=2039e9,
        bf16_flops_per_s=312 * TERA,
        fp32_flops_per_s=19.5 * TERA,
        source="NVIDIA A100 Tensor Core GPU datasheet (2021), A100 80GB SXM: 80GB HBM2e, 2,039 GB/s; "
        "BF16/FP16 tensor 312 TFLOPS dense (624 with sparsity); FP32 19.5 TFLOPS",
        interconnect_bytes_per_s=300e9,
        interconnect_source="A100 SXM datasheet: NVLink 600 GB/s, both directions = 300 GB/s each way"
    ),
    "h100": GpuSpec(
        label="h100",
        device_name="NVIDIA H100 SXM5 80GB (HBM3)",
        memory_bytes=80 * GB,
        memory_bandwidth_bytes_per_s=3.35e12,
        bf16_flops_per_s=989.5 * TERA,
        fp32_flops_per_s=67 * TERA,
        source="NVIDIA H100 Tensor Core GPU datasheet, H100 SXM: 80GB HBM3, 3.35 TB/s; "
        "BF16/FP16 tensor 1,979 TFLOPS with sparsity = 989.5 dense; FP32 67 TFLOPS",
        interconnect_bytes_per_s=450e9,
        interconnect_source="H100 SXM datasheet: NVLink 900 GB/s, both directions = 450 GB/s each way"
    ),
    "h200": GpuSpec(
        label="h200",
        device_name="NVIDIA H200 SXM 141GB (HBM3e)",
        memory_bytes=141 * GB,
        memory_bandwidth_bytes_per_s=4.8e12,
        bf16_flops_per_s=989.5 * TERA,
        fp32_flops_per_s=67 * TERA,
        source="NVIDIA H200 Tensor Core GPU datasheet, H200 SXM: 141GB HBM3e, 4.8 TB/s; "
        "BF16/FP16 tensor 1,979 TFLOPS with sparsity = 989.5 dense; FP32 67 TFLOPS",
        interconnect_bytes_per_s=450e9,
        interconnect_source="H200 SXM datasheet: NVLink 900 GB/s, both directions = 450 GB/s each way"
    ),
    "l40s": GpuSpec(
        label="l40s",
        device_name="NVIDIA L40S",
        memory_bytes=48 * GB,
        memory_bandwidth_bytes_per_s=864e9,
        bf16_flops_per_s=362.05 * TERA,
        fp32_flops_per_s=91.6 * TERA,
        source="NVIDIA L40S datasheet: 48GB GDDR6, 864 GB/s; BF16 tensor 362.05 TFLOPS dense "
        "(733 with sparsity); FP32 91.6 TFLOPS",
        interconnect_bytes_per_s=32e9,
        interconnect_source="L40S datasheet: no NVLink; PCIe Gen4 x16 64 GB/s, both directions"
    ),
    "l40": GpuSpec(
        label="l40",
        device_name="NVIDIA L40",
        memory_bytes=48 * GB,
        memory_bandwidth_bytes_per_s=864e9,
        bf16_flops_per_s=181.05 * TERA,
        fp32_flops_per_s=90.5 * TERA,
        source="NVIDIA L40 datasheet: 48GB GDDR6, 864 GB/s; BF16 tensor 181.05 TFLOPS dense "
        "(362.1 with sparsity); FP32 90.5 TFLOPS",
        interconnect_bytes_per_s=32e9,
        interconnect_source="L40 datasheet: no NVLink; PCIe Gen4 x16 64 GB/s, both directions"
    ),
    "l4": GpuSpec(
        label="l4",
        device_name="NVIDIA L4",
        memory_bytes=24 * GB,
        memory_bandwidth_bytes_per_s=300e9,
        bf16_flops_per_s=121 * TERA,
        fp32_flops_per_s=30.3 * TERA,
        source="NVIDIA L4 Tensor Core GPU datasheet: 24GB GDDR6, 300 GB/s; BF16 tensor 121 TFLOPS "
        "dense (242 with sparsity); FP32 30.3 TFLOPS",
        interconnect_bytes_per_s=32e9,
        interconnect_source="L4 datasheet: no NVLink; PCIe Gen4 x16 64 GB/s, both directions"
    ),
    "a10g": GpuSpec(
        label="a10g",
        device_name="NVIDIA A10G",
        memory_bytes=24 * GB,
        memory_bandwidth_bytes_per_s=600e9,
        bf16_flops_per_s=125 * TERA,
        fp32_flops_per_s=31.2 * TERA,
        source="NVIDIA publishes no A10G datasheet (it is AWS's G5 variant of the A10). Memory "
        "(24GB GDDR6, 600 GB/s) is shared with the A10 (AWS G5 documentation; Baseten, 'NVIDIA A10 vs "
        "A10G for ML model inference'); compute is the NVIDIA A10 datasheet's (BF16 tensor 125 TFLOPS "
        "dense, FP32 31.2 TFLOPS), an upper bound: the A10G's tensor throughput is reported lower, "
        "which only affects compute-bound (prefill, large-batch verify) points",
        interconnect_bytes_per_s=32e9,
        interconnect_source="A10 datasheet: no NVLink; PCIe Gen4 x16 64 GB/s, both directions"
    ),
}


def gpu_spec(label: str) -> GpuSpec:
    try:
        return GPUS[label.lower()]
    except KeyError:
        raise SpecsimError(f"unknown gpu {label!r}; known: {', '.join(GPUS)}") from None
