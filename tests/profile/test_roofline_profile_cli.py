"""`specsim profile list | roofline | show` through click's runner."""

from click.testing import CliRunner

from specsim.cli import main
from specsim.profile import load_profile


def _run(*args: str):
    return CliRunner().invoke(main, ["profile", *args])


def test_list_shows_one_line_per_shipped_profile():
    result = _run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    default = [line for line in lines if line.startswith("h100-llama2-7b-llama-68m ")]
    assert len(default) == 1 and "llama2-7b/llama-68m" in default[0]
    for line in lines:
        name = line.split()[0]
        expected = {"-measured": "measured", "-vllm": "fitted"}.get(name[name.rfind("-"):], "roofline")
        assert expected in line, line


def test_show_prints_the_summary_and_writes_html(tmp_path):
    page = tmp_path / "h100.html"
    result = _run("show", "h100-llama2-7b-llama-68m", "--html", str(page))
    assert result.exit_code == 0, result.output
    for expected in ("NVIDIA H100", "llama2-7b", "draft step", "verify k=4", "fit held-out",
                     "KV capacity", "translation", "mean accepted length k=4"):
        assert expected in result.output
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "plotly" in text
    for title in ("Draft step", "Verify pass", "Prefill", "Confidence histograms", "P(accept | confidence)",
                  "Per-position acceptance"):
        assert title in text
    # self-contained: plotly.js is inlined, nothing is fetched
    assert "<script src=" not in text and len(text) > 1_000_000


def test_show_unknown_profile_is_one_line_exit_2():
    result = _run("show", "no-such-profile")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "no-such-profile" in result.output


def test_roofline_writes_a_loadable_profile_with_published_acceptance(tmp_path):
    out = tmp_path / "a100.json"
    result = _run("roofline", "--gpu", "a100", "--target", "llama2-7b", "--draft", "llama-68m",
                  "--out", str(out))
    assert result.exit_code == 0, result.output
    profile = load_profile(out)
    assert profile.source == "roofline" and profile.hardware.label == "a100"
    assert profile.acceptance is not None and profile.acceptance.source == "published"


def test_roofline_other_pair_has_no_acceptance_unless_given(tmp_path):
    bare, copied = tmp_path / "bare.json", tmp_path / "copied.json"
    tiny = ("roofline", "--gpu", "l4", "--target", "tiny-target", "--draft", "tiny-draft")
    result = _run(*tiny, "--out", str(bare))
    assert result.exit_code == 0 and "note:" in result.output
    assert load_profile(bare).acceptance is None
    result = _run(*tiny, "--dtype", "fp32", "--acceptance-from", "h100-llama2-7b-llama-68m",
                  "--out", str(copied))
    assert result.exit_code == 0, result.output
    profile = load_profile(copied)
    assert profile.acceptance is not None and profile.target.dtype == "fp32"


def test_roofline_unknown_model_is_one_line_exit_2(tmp_path):
    result = _run("roofline", "--gpu", "h100", "--target", "nope", "--draft", "llama-68m",
                  "--out", str(tmp_path / "x.json"))
    assert result.exit_code == 2 and "unknown model 'nope'" in result.output


def test_show_states_the_step_spread_where_the_profile_has_one(tmp_path):
    profile = load_profile("h100-llama2-7b-llama-68m")
    latency = profile.latency.model_copy(update={"step_time_spread": [0.9, 1.0, 1.4],
                                                 "step_time_persistence": 0.75})
    path = tmp_path / "spread.json"
    path.write_text(profile.model_copy(update={"latency": latency}).model_dump_json())
    assert "from step to step" not in _run("show", "h100-llama2-7b-llama-68m").output
    result = _run("show", str(path))
    assert result.exit_code == 0, result.output
    assert ("steps ×0.90-×1.40 their median from step to step (mean ×1.10, slow spells of 4.0 steps "
            "on average)") in result.output
