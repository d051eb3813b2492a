"""Routers: which replica an arriving request goes to."""

from __future__ import annotations

from collections.abc import Callable

from sim.replica import SimReplica


def make_router(kind: str, replicas: list[SimReplica]) -> Callable[[int], SimReplica]:
    if kind == "round_robin":
        turn = iter(range(1 << 62))
        return lambda index: replicas[next(turn) % len(replicas)]
    if kind == "least_requests":
        # ties go to the lowest-numbered replica, so routing is deterministic
        return lambda index: min(replicas, key=lambda r: r.scheduler.outstanding_requests())
    if kind == "least_outstanding_tokens":
        log = replicas[0].scheduler.log

        def outstanding(replica: SimReplica) -> int:
            return replica.submitted_work_tokens - log.finished_work_tokens.get(replica.scheduler.replica, 0)

        return lambda index: min(replicas, key=outstanding)
    raise ValueError(f"unknown router {kind!r}")
