"""`adaptive`: SpecServe / AdaSpec — efficiency-driven drafting, confidence-prior verification,
and an SLO gate."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import numpy as np

from specsim.policy.base import BatchView, Drafts, Policy, StepOutcome
from specsim.policy.estimates import check_search, searches_globally
from specsim.policy.params import changed_parameters

CALIBRATION_BINS = 20


class Adaptive(Policy):
    """Speculate as far as batch efficiency rises, verify only the tokens that pay, within the SLO.

    Source: SpecServe / AdaSpec (arXiv 2503.05096; ACM SoCC 2025) and its public code (a vLLM
    0.6.3 fork, `draft_model_runner.py`). Notation: B running requests, pᵢⱼ the draft model's
    confidence in the token it proposed at position j, T(k⃗) the predicted step time
    (`CostEstimator.step_s`: the step the engine runs) for per-request draft/verify lengths k⃗.

        ĉᵢⱼ   = Π_{t≤j} pᵢₜ                    path confidence ≈ P(first j tokens accepted)
        A(k⃗)  = B + Σᵢ Σ_{j≤kᵢ} ĉᵢⱼ             expected emitted tokens
        G(k⃗)  = A(k⃗) / T(k⃗)                   efficiency, tokens per second
        prior: ĉᵢ,ⱼ₊₁ ≈ ĉᵢⱼ · c̄,  c̄ = the mean of every raw pᵢⱼ drafted so far (starts at 0.6),
               updated inside the drafting loop after each pass that did not lower G

    Three parts, each switchable for ablations (all on by default):

    1. `drafter` — predict, execute, correct. Gate: if G₁ = B(1 + c̄)/T(1) ≤ G₀ = B/T(0), no
       speculation this step. Otherwise after each draft pass s (`continue_drafting`): *correct*
       — G_s from the observed confidences; stop if G_s < G_{s−1} (this pass's tokens are kept);
       *predict* — Ĝ_{s+1} with every still-drafting request extended by the prior; run pass
       s+1 only if Ĝ_{s+1} > G_s. The decision is batch-wide, at most `k_max` passes. With T
       linear in k, G is quasi-concave in k, so stopping at the first drop finds the maximum.
       Off: every request drafts k_max (capped by the gate).
    2. `verifier` — confidence-prior draft-token elimination (`plan_verify`). Tokens are removed
       one at a time, the lowest ĉᵢⱼ at any request's tail first, while G (with the draft time
       already spent in T) rises; the first drop stops it. **Choice**: this general form, not
       the authors' "trim to the next CUDA-graph batch size, emptying one request before the
       next" (this engine has no CUDA-graph sizes). Since ĉ never increases along a path,
       removing in ascending ĉ (ties: later position first) always removes tails, so the kept
       tokens are prefixes; T is piecewise linear between whole tokens per request (as the
       profile's grid is), so G is evaluated for every removal count at once.
       Off: every drafted token is verified.
    3. `slo_gate` — "blocks operations if the predicted time exceeds the SLO's TPOT constraint":
       a k whose predicted step time T(k) (uniform k for the batch) exceeds minᵢ SLOᵢ (the
       running requests' TPOT targets, `view.slo_tpot_s`, already × SLO scale) is infeasible; k
       is the largest feasible value, 0 when even T(1) is over the bound. The authors' code
       hard-codes 40 ms and comments the gate out; here it is on.

    Staircases: where the profile prices an engine that pads its forwards to captured CUDA-graph
    sizes, T jumps with k and G is no longer quasi-concave. `search=auto` (the default) then
    searches globally: the gate speculates if any k up to the cap predicts Ĝ_k = B·Σ_{j≤k} c̄^j /
    T(k) above G₀; after each pass drafting goes on while any further pass up to the planned k
    predicts a G above the current one (no stop at a drop); the verifier keeps the removal count
    with the highest G, not the first drop. `search=first_drop` / `search=global` force either.
    `trim=graph` is the authors' own verifier step on such an engine: after the removals above,
    remove further tokens (lowest ĉ first; the authors empty one request before the next) until
    the step's forward holds exactly a captured size, never padding.

    Options — the project's variants, the defaults before the published rules were:
    - `gate=slack`: the bound is each request's banked slack, T ≤ minᵢ (SLOᵢ·(dᵢ + 1) − tᵢ) over
      the requests for which it is positive (tᵢ the decode time so far, dᵢ + 1 = its decoded
      tokens after this step): no request's average TPOT goes over its SLO even if it gains only
      its guaranteed token; and when even T(0) is over the bound the gate steps aside (k_max):
      shrinking cannot save those requests and costs throughput. (Default profile, 80 req/s of
      256+256 tokens, TPOT SLO 30 ms: goodput 9.3 req/s against 4.8 with the per-step bound.)
    - `confidence=calibrated`: ĉ and c̄ use a(p), p calibrated online against observed acceptance
      — a binned table of per-token acceptance given confidence, counting each verified token up
      to and including the first rejection: a(p) = p · rᵦ with rᵦ = (accepted_b + w·m_b) /
      (Σ_{tried in b} p + w·m_b) for p's bin b (20 bins, centre m_b), shrunk towards 1 by
      w = `prior_weight` pseudo-observations and decayed by `decay` per step; c̄ is an EMA
      (`decay`) of the calibrated a(p), updated in `observe` after each step.
    """

    name = "adaptive"

    def __init__(self, k_max: int = 8, drafter: bool = True, verifier: bool = True,
                 slo_gate: bool = True, gate: str = "step", confidence: str = "raw", prior: float = 0.6,
                 prior_weight: float = 20.0, decay: float = 0.99, search: str = "auto",
                 trim: str = "none") -> None:
        if k_max < 1:
            raise ValueError("k_max must be ≥ 1")
        if not 0.0 < prior < 1.0:
            raise ValueError("prior must be in (0, 1)")
        if gate not in ("step", "slack"):
            raise ValueError(f"gate must be 'step' or 'slack', got {gate!r}")
        if confidence not in ("raw", "calibrated"):
            raise ValueError(f"confidence must be 'raw' or 'calibrated', got {confidence!r}")
        if trim not in ("none", "graph"):
            raise ValueError(f"trim must be 'none' or 'graph', got {trim!r}")
        check_search(search)
        if prior_weight <= 0.0:
            raise ValueError("prior_weight must be > 0")
        if not 0.0 < decay <= 1.0:
            raise ValueError("decay must be in (0, 1]")
        self.k_max = k_max
        self.drafter = drafter
        self.verifier = verifier
        self.slo_gate = slo_gate
        self.gate = gate
        self.confidence = confidence
        self.prior = prior
        self.prior_weight = prior_weight
        self.decay = decay
        self.search = search
        self.trim = trim
        self._global = False  # this step searches k globally (search, and the profile's staircase)
        self._planned = 0  # the k planned this step
        self.max_draft_tokens = k_max
        self.mean_acceptance = prior  # c̄
        self._raw_sum, self._raw_count = 0.0, 0  # confidence=raw: every raw p kept for c̄
        centres = (np.arange(CALIBRATION_BINS) + 0.5) / CALIBRATION_BINS
        self._bin_centres = centres
        self._accepts = np.zeros(CALIBRATION_BINS)
        self._predicted = np.zeros(CALIBRATION_BINS)  # Σ p over the tried tokens of each bin
        self._table = np.ones(CALIBRATION_BINS)  # a(p) = p × table[bin of p]; ones: raw p
        # the drafting loop's state within one step
        self._efficiency = 0.0  # G of the passes run so far
        self._passes = 0
        self._path = np.ones(0)  # ĉ at the latest drafted position
        self._tokens = 0.0  # A of the passes run so far
        self._next_uniform = (-1, 0.0)  # (passes, T) predicted at the previous pass

    # -- models --------------------------------------------------------------------------------
    def calibrated(self, confidences: np.ndarray) -> np.ndarray:
        """a(p) for every confidence (NaN → 0: a token not drafted is never accepted)."""
        known = np.where(np.isnan(confidences), 0.0, confidences)
        if self.confidence == "raw":  # the table stays at ones: a(p) = p
            return np.minimum(known, 1.0)
        bins = np.minimum((known * CALIBRATION_BINS).astype(np.intp), CALIBRATION_BINS - 1)
        return np.minimum(known * self._table[bins], 1.0)

    def path_confidence(self, confidences: np.ndarray) -> np.ndarray:
        return np.cumprod(self.calibrated(confidences), axis=1)

    def tpot_bound(self, view: BatchView) -> float:
        """The step time the gate allows (see the class docstring); inf when nothing binds."""
        slo = view.slo_tpot_s
        if self.gate == "step":
            return float(slo.min())
        # "slack": the longest step after which every request's average TPOT, counting only its
        # guaranteed token, is still within its SLO: tᵢ + T ≤ SLOᵢ·(dᵢ + 1)
        allowed = slo * view.generated_tokens - (view.now_s - view.first_token_s)
        reachable = allowed > 0.0  # a request already behind cannot be saved by a shorter step
        return float(allowed[reachable].min()) if reachable.any() else float("inf")

    def slo_cap(self, view: BatchView) -> int:
        """The largest uniform k ≤ k_max whose predicted step time is within the TPOT bound."""
        if not self.slo_gate:
            return self.k_max
        bound = self.tpot_bound(view)
        cost, batch, context = view.cost, view.batch_size, view.mean_context_tokens
        if cost.uniform_step_s(batch, self.k_max, context) <= bound:
            return self.k_max
        if cost.uniform_step_s(batch, 0, context) > bound:
            # nothing is feasible: the source blocks speculation; gate=slack steps aside
            return self.k_max if self.gate == "slack" else 0
        low, high = 0, self.k_max  # T(low) ≤ bound < T(high); T increases with k
        while high - low > 1:
            middle = (low + high) // 2
            if cost.uniform_step_s(batch, middle, context) <= bound:
                low = middle
            else:
                high = middle
        return low

    # -- the API -------------------------------------------------------------------------------
    def plan_draft(self, view: BatchView) -> np.ndarray:
        batch = view.batch_size
        self._global = searches_globally(self.search, view.cost)
        k = self.slo_cap(view)
        if k > 0 and self.drafter:
            cost, context = view.cost, view.mean_context_tokens
            g0 = batch / cost.uniform_step_s(batch, 0, context)
            if not self._rises(float(batch), batch, k if self._global else 1, g0,
                               lambda passes: cost.uniform_step_s(batch, passes, context)):
                k = 0
            self._efficiency = g0
        self._planned = k
        self._passes, self._next_uniform = 0, (-1, 0.0)
        self._path, self._tokens = np.ones(batch), float(batch)
        return np.full(batch, k, dtype=np.int64)

    def continue_drafting(self, view: BatchView, drafts: Drafts) -> np.ndarray:
        if not self.drafter:
            return np.ones(view.batch_size, dtype=bool)
        lengths = drafts.lengths
        passes = int(lengths.max())
        cost, context, batch = view.cost, view.mean_context_tokens, view.batch_size
        if passes != self._passes + 1:  # not called after every pass: rebuild from scratch
            self._path = np.ones(batch)
            self._tokens = float(batch)
            if passes > 1:
                path = self.path_confidence(drafts.confidences[:, :passes - 1])
                self._path, self._tokens = path[:, -1], batch + float(path.sum())
        self._passes = passes
        column = drafts.confidences[:, passes - 1]
        if int(lengths.min()) == passes:
            # the common case, every request drafting in step: no NaN, uniform step times
            if self.confidence == "raw":
                self._path = self._path * np.minimum(column, 1.0)
            else:
                scaled = np.minimum((column * CALIBRATION_BINS).astype(np.intp), CALIBRATION_BINS - 1)
                self._path = self._path * np.minimum(column * self._table[scaled], 1.0)
            newest = float(self._path.sum())
            self._tokens += newest
            known_passes, known_s = self._next_uniform
            step_s = known_s if known_passes == passes else cost.uniform_step_s(batch, passes, context)
            efficiency = self._tokens / step_s
            previous, self._efficiency = self._efficiency, efficiency
            if self._global:
                if efficiency >= previous:
                    self._learn_prior(column)
                later = self._planned - passes
                rises = self._rises(self._tokens, newest, later, efficiency,
                                    lambda more: cost.uniform_step_s(batch, passes + more, context))
                return np.full(batch, rises)
            if efficiency < previous:  # correct: this pass lowered G — stop, keep its tokens
                return np.zeros(batch, dtype=bool)
            self._learn_prior(column)
            next_s = cost.uniform_step_s(batch, passes + 1, context)
            self._next_uniform = (passes + 1, next_s)
            predicted = (self._tokens + newest * self.mean_acceptance) / next_s
            return np.full(batch, predicted > efficiency)  # predict: next pass only if G rises
        # the newest column of ĉ, built on the previous one: O(B) per pass
        self._path = self._path * self.calibrated(column)
        self._tokens += float(self._path.sum())
        efficiency = self._tokens / cost.step_s(lengths, None, context)
        previous, self._efficiency = self._efficiency, efficiency
        extending = lengths == passes
        if self._global:
            if efficiency >= previous:
                self._learn_prior(column[~np.isnan(column)])
            newest = float(self._path[extending].sum())
            rises = self._rises(self._tokens, newest, self._planned - passes, efficiency,
                                lambda more: cost.step_s(lengths + more * extending, None, context))
            return np.full(batch, rises)
        if efficiency < previous:
            return np.zeros(batch, dtype=bool)
        self._learn_prior(column[~np.isnan(column)])
        predicted_tokens = self._tokens + float(self._path[extending].sum()) * self.mean_acceptance
        predicted = predicted_tokens / cost.step_s(lengths + extending, None, context)
        return np.full(batch, predicted > efficiency)

    def plan_verify(self, view: BatchView, drafts: Drafts) -> np.ndarray:
        lengths = drafts.lengths
        if not self.verifier or len(lengths) == 0:
            return lengths
        width = int(lengths.max())
        if width == 0:
            return lengths
        path = self.path_confidence(drafts.confidences[:, :width])
        drafted = np.arange(width)[None, :] < lengths[:, None]
        values = np.sort(path[drafted])  # the drafted tokens' ĉ in removal order
        removed = self.removal_count(view, lengths, values)
        if self.trim == "graph":
            removed = self.trimmed_to_graph(view, len(values), removed)
        if removed == 0:  # most steps: the order of the tokens is never needed
            return lengths
        rows = removal_order(path, drafted)
        return lengths - np.bincount(rows[:removed], minlength=view.batch_size)

    def removal_count(self, view: BatchView, lengths: np.ndarray, values: np.ndarray) -> int:
        """How many tokens, in removal order (their ĉ: `values`), to take off the verification."""
        cost, context, batch = view.cost, view.mean_context_tokens, view.batch_size
        count = len(values)
        widest = int(lengths.max()) + 1  # tokens per request verified at most
        verify_pass_s = cost.verify_pass_s
        if verify_pass_s(batch, float(widest), context) <= verify_pass_s(batch, 1.0, context):
            return 0  # verification is free here: removing a token only loses its ĉ
        # G after removing the first m tokens, m = 0..count; the step after drafting (verify, the
        # chunks it carries, host time) is interpolated between knots at q = 1..widest tokens per
        # request, priced only where asked: most steps remove nothing, decided by m = 0 and 1
        knots: dict[int, float] = {}

        def after_draft_s(verify_tokens: int) -> float:
            low = min(verify_tokens // batch - 1, widest - 2)  # knot q = low + 1 at or below
            for q in (low + 1, low + 2):
                if q not in knots:
                    knots[q] = cost.after_draft_s(lengths, batch * (q - 1), context)
            left, right = batch * (low + 1), batch * (low + 2)
            if verify_tokens == right:
                return knots[low + 2]
            slope = (knots[low + 2] - knots[low + 1]) / (right - left)  # as np.interp: exact at knots
            return slope * (verify_tokens - left) + knots[low + 1]

        draft_s = cost.draft_s(lengths, context)
        total = batch + values.sum()
        if not self._global:
            kept_all = total / (draft_s + after_draft_s(batch + count))
            if (total - values[0]) / (draft_s + after_draft_s(batch + count - 1)) - kept_all <= 0.0:
                return 0
        tokens = total - np.concatenate([[0.0], np.cumsum(values)])
        step = draft_s + np.array([after_draft_s(batch + count - m) for m in range(count + 1)])
        efficiency = tokens / step
        if self._global:
            return int(np.argmax(efficiency))  # the best count; the fewest removals on ties
        drops = np.flatnonzero(np.diff(efficiency) <= 0.0)
        return int(drops[0]) if len(drops) else count

    def trimmed_to_graph(self, view: BatchView, count: int, removed: int) -> int:
        """trim=graph: remove further tokens (in the same order) until the step's forward holds
        exactly a captured CUDA-graph size, where it is under the largest."""
        sizes = view.cost.graph_sizes
        if not sizes:
            return removed
        chunk_tokens = sum(tokens for tokens, _ in view.cost.chunks_for(0))
        forward_tokens = view.batch_size + count - removed + chunk_tokens
        below = bisect_right(sizes, forward_tokens) - 1
        if forward_tokens > sizes[-1] or below < 0:
            return removed
        return min(count, removed + forward_tokens - sizes[below])

    def _rises(self, tokens: float, newest: float, later: int, efficiency: float,
               step_s_after: Callable[[int], float]) -> bool:
        """Whether one of the next `later` passes is predicted to beat `efficiency`: pass j adds
        the newest ĉ (summing to `newest`) × c̄ʲ to the `tokens` expected so far, and the step
        then takes `step_s_after(j)`."""
        gain = newest
        for more in range(1, later + 1):
            gain *= self.mean_acceptance
            tokens += gain
            if tokens / step_s_after(more) > efficiency:
                return True
        return False

    def _learn_prior(self, confidences: np.ndarray) -> None:
        """confidence=raw: c̄ is the mean of every raw p drafted on passes that did not lower G."""
        if self.confidence != "raw" or len(confidences) == 0:
            return
        self._raw_sum += float(confidences.sum())
        self._raw_count += len(confidences)
        self.mean_acceptance = self._raw_sum / self._raw_count

    def observe(self, outcome: StepOutcome) -> None:
        if self.confidence == "raw":
            return  # the source learns nothing from the verification
        confidences = outcome.confidences
        if confidences.size == 0 or not outcome.drafted.any():
            return
        width = confidences.shape[1]
        positions = np.arange(width)[None, :]
        verified = outcome.verified[:, None]
        accepted = outcome.accepted[:, None]
        tried = (positions < verified) & (positions <= accepted)
        hits = positions < accepted
        drafted = ~np.isnan(confidences)
        bins = np.minimum((np.where(drafted, confidences, 0.0) * CALIBRATION_BINS).astype(np.intp),
                          CALIBRATION_BINS - 1)
        self._accepts *= self.decay
        self._predicted *= self.decay
        self._accepts += np.bincount(bins[hits], minlength=CALIBRATION_BINS)
        self._predicted += np.bincount(bins[tried], weights=confidences[tried], minlength=CALIBRATION_BINS)
        prior = self.prior_weight * self._bin_centres
        self._table = (self._accepts + prior) / (self._predicted + prior)
        if drafted.any():
            step_mean = float(self.calibrated(confidences)[drafted].mean())
            self.mean_acceptance = self.decay * self.mean_acceptance + (1.0 - self.decay) * step_mean

    def parameters(self) -> dict[str, object]:
        return changed_parameters(self, {
            "k_max": self.k_max, "drafter": self.drafter, "verifier": self.verifier,
            "slo_gate": self.slo_gate, "gate": self.gate, "confidence": self.confidence, "prior": self.prior,
            "prior_weight": self.prior_weight, "decay": self.decay, "search": self.search,
            "trim": self.trim,
        })


def removal_order(path: np.ndarray, drafted: np.ndarray) -> np.ndarray:
    """The rows of the drafted tokens (`drafted` [B, K]) in removal order: ascending ĉ (`path`),
    the later position first on ties — so a request always loses its tail first."""
    rows, positions = np.nonzero(drafted)
    return rows[np.lexsort((-positions, path[rows, positions]))]
