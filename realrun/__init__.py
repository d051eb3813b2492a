"""realrun: a small real serving engine — continuous batching and batched speculative decoding on
torch + transformers, driven by the same Policy objects and the same scheduler as the simulator.

    from realrun.serve import serve
    result = serve(scenario, "fixed:k=4", seed=0, target="pair/target", draft="pair/draft")

Files, one concept each:
- `serve.py`     the entry point: scenario → requests → one replica → contract-3 tables + summary
- `engine.py`    the replay loop: real-time arrivals, the shared Scheduler's steps, prefill chunks,
                 KV slots kept aligned with decode rows
- `backend.py`   the SpeculationBackend: draft passes and one verify pass with real models
- `acceptance.py` token choice and acceptance: greedy match, speculative rejection sampling
- `kv.py`        per-request KV caches as slots; rollback = lowering a slot's length (masked, no copy)
- `models.py`    loading a model or the pair on a device (calibrate loads through it too)
- `prompts.py`   each request's prompt ids from its category's prompt set, trimmed/padded
- `clock.py`     timing (perf_counter; CUDA synchronised), time inside forwards
- `progress.py`  the live progress line

A real run has one replica (one device); `cluster.replicas > 1` is refused.
"""
