"""The --gpu label must name the device torch reports; checked without a GPU (name injected)."""

import pytest

from calibrate import calibrate, check_gpu_label
from calibrate.hardware import label_matches, resolve_device
from specsim.errors import SpecsimError

H100 = "NVIDIA H100 80GB HBM3"


@pytest.mark.parametrize("label, name, matches", [
    ("h100", H100, True),
    ("H100", H100, True),
    ("a100", "NVIDIA A100-SXM4-80GB", True),
    ("rtx4090", "NVIDIA GeForce RTX 4090", True),
    ("l40s", "NVIDIA L40S", True),
    ("l40", "NVIDIA L40S", False),
    ("a100", H100, False),
    ("h200", H100, False),
    ("100", H100, False),
])
def test_label_matching(label, name, matches):
    assert label_matches(label, name) is matches


def test_mismatch_is_refused_and_force_lets_it_through_with_a_note():
    with pytest.raises(SpecsimError) as error:
        check_gpu_label("a100", H100)
    assert "--gpu a100" in str(error.value) and H100 in str(error.value) and "--force" in str(error.value)
    assert check_gpu_label("h100", H100) is None
    note = check_gpu_label("a100", H100, force=True)
    assert "forced" in note and H100 in note


def test_calibrate_refuses_a_mismatched_label_before_loading_models():
    with pytest.raises(SpecsimError, match="this machine's GPU is 'NVIDIA H100"):
        calibrate("tiny-target", "tiny-draft", gpu="a100", cuda_device_name=H100)


def test_device_resolution():
    assert resolve_device("cpu", None, cuda_available=True) == "cpu"
    assert resolve_device("h100", None, cuda_available=True) == "cuda"
    with pytest.raises(SpecsimError, match="no CUDA device"):
        resolve_device("h100", None, cuda_available=False)
    with pytest.raises(SpecsimError, match="must be labelled --gpu cpu"):
        resolve_device("h100", "cpu", cuda_available=True)
    with pytest.raises(SpecsimError, match="--device tpu"):
        resolve_device("cpu", "tpu", cuda_available=False)
