"""Workloads: arrivals, lengths, categories and trace replay → `Requests`."""

from specsim.workload._interim import WorkloadSpec, generate_requests
from specsim.workload.requests import Requests

__all__ = ["Requests", "WorkloadSpec", "generate_requests"]
