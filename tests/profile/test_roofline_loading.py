"""Shipped profiles load; broken ones are refused with one line naming the field."""

import importlib.util
import json
from pathlib import Path

import pytest

from specsim.errors import SpecsimError
from specsim.profile import DEFAULT_PROFILE, SHIPPED_DIR, load_profile, shipped_profiles

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("h100-llama2-7b-llama-68m", "a100-llama2-7b-llama-68m", "l40s-llama2-7b-llama-68m")


def test_shipped_profiles_load_and_validate():
    assert set(SHIPPED) <= set(shipped_profiles())
    assert DEFAULT_PROFILE in shipped_profiles()
    for name in SHIPPED:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.source == "roofline"
        assert profile.acceptance is not None and profile.acceptance.source == "published"
        assert profile.target.name == "llama2-7b" and profile.draft.name == "llama-68m"


def test_make_script_reproduces_the_shipped_files_byte_for_byte(tmp_path):
    # in-process (a subprocess would pay scipy's import again): the script's build() into a
    # scratch folder must give exactly the shipped bytes
    spec = importlib.util.spec_from_file_location("make_roofline_profiles",
                                                  ROOT / "benchmarks" / "make_roofline_profiles.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    written = script.build(tmp_path)
    later_pairs = ("x4-vicuna-33b-llama-160m", "x8-llama3.3-70b-llama3.2-1b", "-llama3.1-8b-eagle3")
    shipped = (*SHIPPED, "h200-llama2-7b-llama-68m",
               *(f"{gpu}{pair}" for gpu in ("a100", "h100", "h200") for pair in later_pairs))
    assert sorted(path.name for path in written) == sorted(f"{name}.json" for name in shipped)
    for path in written:
        assert path.read_bytes() == (SHIPPED_DIR / path.name).read_bytes(), path.name


def _broken(tmp_path: Path, edit) -> Path:
    document = json.loads((SHIPPED_DIR / f"{DEFAULT_PROFILE}.json").read_text())
    edit(document)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document))
    return path


def _refusal(path: Path) -> str:
    with pytest.raises(SpecsimError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_wrong_schema_version_is_refused(tmp_path):
    message = _refusal(_broken(tmp_path, lambda d: d.update(schema_version=99)))
    assert "schema_version" in message and "99" in message


def test_missing_field_is_refused_by_name(tmp_path):
    message = _refusal(_broken(tmp_path, lambda d: d["latency"]["verify"].pop("fit")))
    assert "latency.verify.fit: required field is missing" in message


def _nan_in_verify(document: dict) -> None:
    document["latency"]["verify"]["time_s"][3][2][1] = float("nan")


def test_nan_in_a_grid_is_refused(tmp_path):
    message = _refusal(_broken(tmp_path, _nan_in_verify))
    assert "latency.verify" in message and "finite" in message


def test_nan_in_a_grid_names_the_grid_field(tmp_path):
    assert "latency.verify.time_s" in _refusal(_broken(tmp_path, _nan_in_verify))


def test_unknown_profile_is_a_one_line_error():
    with pytest.raises(SpecsimError, match="neither a file nor a shipped profile"):
        load_profile("no-such-profile")


def test_a_negative_policy_overhead_is_refused_by_name(tmp_path):
    negative = {"adaptive": -1e-3}
    message = _refusal(_broken(tmp_path, lambda d: d["latency"].update(policy_step_overhead_s=negative)))
    assert "latency.policy_step_overhead_s.adaptive" in message


def test_a_first_pass_grid_of_the_wrong_shape_is_refused(tmp_path):
    def add_first_pass(document: dict) -> None:
        verify = dict(document["latency"]["verify"])
        verify["time_s"] = verify["time_s"][:-1]  # one batch size short
        document["latency"]["draft_first_pass"] = verify

    assert "latency.draft_first_pass" in _refusal(_broken(tmp_path, add_first_pass))


@pytest.mark.parametrize("value, words", [(0.99, "must not increase"), (1.5, "[0, 1]")])
def test_impossible_prefix_probabilities_are_refused_by_name(tmp_path, value, words):
    def edit(document):
        category = next(iter(document["acceptance"]["greedy"].values()))
        category["position_acceptance"][1] = value
    message = _refusal(_broken(tmp_path, edit))
    assert "position_acceptance" in message and words in message
