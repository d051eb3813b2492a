"""Scenarios: a YAML file validated into a `Scenario`, and the requests a seed makes of it.

Every error names the file and the field: `scenarios/x.yaml: workload.arrival.rate: input should
be greater than 0, got -3`. A sweep grid names any scenario field by its dotted path; each grid
point is the scenario with those fields replaced, validated like the original.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from specsim.errors import SpecsimError, validation_error
from specsim.policy import make_policy
from specsim.profile import DEFAULT_PROFILE, Profile, load_profile
from specsim.safe_yaml import YamlTooLarge, load_yaml
from specsim.workload import WorkloadSpec, generate_requests
from specsim.workload.requests import Requests

# Independent random streams derived from one seed: the workload is the same whatever the
# policy (common random numbers across the policies of a sweep, and between sim and real).
STREAM_WORKLOAD = 1
STREAM_SLO_CLASS = 2
STREAM_LATENT = 3
STREAM_ROUTER = 4
STREAM_REPLICA = 100  # + the replica's index
STREAM_STEP_JITTER = 1_000_000  # + the replica's index


def rng_for(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# What one simulation may ask for before anything is built: each replica keeps its decoding
# requests as rows of preallocated columns (max_batch_size of them, ~200 bytes each).
MAX_REPLICAS = 4096
MAX_BATCH_SIZE = 65_536
MAX_BATCH_ROWS = 1_000_000  # replicas × max_batch_size


class ClusterSpec(Strict):
    replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    router: Literal["round_robin", "least_outstanding_tokens", "least_requests"] = "round_robin"
    max_batch_size: int = Field(ge=1, le=MAX_BATCH_SIZE)
    max_batch_tokens: int = Field(ge=1, le=2**31 - 1,
                                  description="token budget per step (decode k+1 each + prefill)")
    kv_capacity_tokens: int | None = Field(
        default=None, ge=1, le=2**40, description="KV cache per replica, tokens; default: the profile's"
    )

    @model_validator(mode="after")
    def _rows_fit_in_memory(self) -> ClusterSpec:
        if self.replicas * self.max_batch_size > MAX_BATCH_ROWS:
            raise ValueError(f"replicas × max_batch_size = {self.replicas * self.max_batch_size:,} decoding "
                             f"rows; at most {MAX_BATCH_ROWS:,} fit one simulation")
        return self

    @model_validator(mode="after")
    def _budget_holds_a_batch(self) -> ClusterSpec:
        if self.max_batch_tokens < self.max_batch_size:
            raise ValueError(
                f"max_batch_tokens ({self.max_batch_tokens}) must be ≥ max_batch_size "
                f"({self.max_batch_size}): every running request decodes at least one token per step"
            )
        return self


class SloClass(Strict):
    name: str
    share: float = Field(gt=0)
    ttft_s: float = Field(gt=0)
    tpot_s: float = Field(gt=0)


class SloSpec(Strict):
    ttft_s: float = Field(gt=0)
    tpot_s: float = Field(gt=0)
    scale: float = Field(default=1.0, gt=0, description="multiplies every target (loosens > 1)")
    classes: list[SloClass] | None = Field(
        default=None, description="SLO classes drawn per request by share; replace ttft_s/tpot_s"
    )


class SweepSpec(Strict):
    grid: dict[str, list[Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _non_empty(self) -> SweepSpec:
        for path, values in self.grid.items():
            if not values:
                raise ValueError(f"grid axis {path!r} has no values")
        return self


class SyntheticAcceptanceSpec(Strict):
    """Acceptance drawn rather than decided by the models (specsim/engine/synthetic_acceptance.py):
    `rates[j]` = P(position j accepted | the earlier ones were); the last rate holds beyond."""

    kind: Literal["synthetic"]
    rates: list[Annotated[float, Field(ge=0.0, le=1.0)]] = Field(min_length=1)


class Scenario(Strict):
    name: str
    description: str = ""
    profile: str = DEFAULT_PROFILE
    decoding: Literal["greedy", "sampling"] = "greedy"
    acceptance: SyntheticAcceptanceSpec | None = Field(
        default=None, description="absent: the profile's acceptance (simulator) and the models' own "
        "verification (real engine)")
    cluster: ClusterSpec
    workload: WorkloadSpec
    slo: SloSpec
    policies: list[str | dict[str, Any]] = Field(min_length=1)
    seeds: list[Annotated[int, Field(ge=0, le=2**63 - 1)]] = Field(default_factory=lambda: [0], min_length=1)
    sweep: SweepSpec = Field(default_factory=SweepSpec)
    drain_s: float | None = Field(
        default=None, ge=0,
        description="simulated time after the last arrival for requests to finish; default: the "
        "arrival window's length. Requests still unfinished are reported, never dropped.",
    )

    _source: str = PrivateAttr(default="<scenario>")
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str:
        return self._source

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    def raw(self) -> dict[str, Any]:
        return copy.deepcopy(self._raw)

    def with_fields(self, overrides: dict[str, Any]) -> Scenario:
        """This scenario with dotted-path fields replaced (a sweep grid point)."""
        raw = self.raw()
        for path, value in overrides.items():
            _set_dotted(raw, path, value, self._source)
        return scenario_from_dict(raw, self._source, self._base_dir, check_grid=False)

    def policy_labels(self) -> list[str]:
        return [make_policy(spec).label() for spec in self.policies]


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecsimError(f"{path}: cannot read scenario ({error.strerror})") from None
    except UnicodeDecodeError:
        raise SpecsimError(f"{path}: not a text file (not UTF-8): a scenario is YAML") from None
    try:
        raw = load_yaml(text)
    except YamlTooLarge as error:
        raise SpecsimError(f"{path}: {error}; a scenario is a page, not a data file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "malformed YAML"
        raise SpecsimError(f"{path}: malformed YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise SpecsimError(f"{path}: a scenario must be a YAML mapping, got {type(raw).__name__}")
    return scenario_from_dict(raw, str(path), path.parent)


def scenario_from_dict(raw: dict[str, Any], source: str = "<scenario>",
                       base_dir: Path | None = None, check_grid: bool = True) -> Scenario:
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as error:
        raise validation_error(source, error, raw) from None
    scenario._source = source
    scenario._base_dir = base_dir or Path.cwd()
    scenario._raw = copy.deepcopy(raw)
    for index, spec in enumerate(scenario.policies):
        try:
            make_policy(spec)
        except SpecsimError as error:
            raise SpecsimError(f"{source}: policies.{index}: {error}") from None
    if check_grid:
        for path, values in scenario.sweep.grid.items():
            for value in values:
                _check_grid_point(raw, path, value, source, scenario._base_dir)
    return scenario


def _check_grid_point(raw: dict[str, Any], path: str, value: Any, source: str, base_dir: Path) -> None:
    """A grid value must make a valid scenario: fail at load time, not hours into a sweep."""
    point = copy.deepcopy(raw)
    try:
        _set_dotted(point, path, value, source)
        scenario_from_dict(point, source, base_dir, check_grid=False)
    except SpecsimError as error:
        reason = str(error).removeprefix(f"{source}: ")
        raise SpecsimError(f"{source}: sweep.grid: {path}={value!r}: {reason}") from None


def _set_dotted(raw: dict[str, Any], path: str, value: Any, source: str) -> None:
    # The leaf may be absent (a field left at its default, e.g. workload.rate_scale); the
    # mapping that holds it must exist, so a typo in a parent is caught here.
    parts = path.split(".")
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            walked = ".".join(parts[: depth + 1])
            raise SpecsimError(f"{source}: {path}: the scenario has no field {walked!r}")
        node = node[part]
    if not isinstance(node, dict):
        raise SpecsimError(f"{source}: {path}: {'.'.join(parts[:-1])!r} is not a mapping")
    node[parts[-1]] = value


def scenario_profile(scenario: Scenario) -> Profile:
    """The profile a scenario names; a failure names the scenario and its field too."""
    try:
        return load_profile(scenario.profile, relative_to=scenario.base_dir)
    except SpecsimError as error:
        raise SpecsimError(f"{scenario.source}: profile: {error}") from None


def build_requests(scenario: Scenario, seed: int) -> Requests:
    """The requests a seed makes of a scenario, with each request's effective SLO targets."""
    try:
        requests = generate_requests(scenario.workload, rng_for(seed, STREAM_WORKLOAD), scenario.base_dir)
    except SpecsimError as error:
        message = str(error)
        if not message.startswith("workload"):
            message = f"workload: {message}"
        raise SpecsimError(f"{scenario.source}: {message}") from None
    slo = scenario.slo
    count = len(requests)
    if slo.classes:
        shares = np.array([c.share for c in slo.classes])
        chosen = rng_for(seed, STREAM_SLO_CLASS).choice(len(shares), size=count, p=shares / shares.sum())
        ttft = np.array([c.ttft_s for c in slo.classes])[chosen]
        tpot = np.array([c.tpot_s for c in slo.classes])[chosen]
    else:
        ttft = np.full(count, slo.ttft_s)
        tpot = np.full(count, slo.tpot_s)
    return requests.with_slos(ttft * slo.scale, tpot * slo.scale)


def request_latents(seed: int, count: int) -> np.ndarray:
    """Each request's acceptance latent z ~ N(0, 1): drawn per request, so a request is as
    'easy' under every policy of a sweep."""
    return rng_for(seed, STREAM_LATENT).standard_normal(count)
