"""The SimPy cluster simulator: `simulate(scenario, policy, seed)` → the contract-3 tables."""

from sim.cluster import simulate

__all__ = ["simulate"]
