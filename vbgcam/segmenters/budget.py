"""A cap on the network's CPU: a token bucket, filled at a share of one core, spent per run.

RVM costs 35 ms of CPU a run on a 2-core laptop-class machine; on every frame of a 30 fps
camera that is more than a whole core. The selfie model costs 3-5 ms here, within the default
quarter of a core, but several times that on an old laptop, where the cap keeps it in
bounds. With a budget, the network runs whenever what it saved covers one run, and the mask
is carried in between (``reuse.py``). A still picture is run only to refresh its mask every
16th frame, so what it saves pays for a burst while the person moves again: a person who
stands up or walks in gets a fresh mask on every frame for a moment, and over any long
stretch the network stays within its share (the refresh of a still picture outranks the
budget only where one run costs more than 16 frames earn).

The cost of a run is what the last runs cost (a moving average of their CPU time), so a
machine that slows down, or a larger input, spends the same share of a core.
"""

from __future__ import annotations

from collections.abc import Callable

# A new measurement counts this much in the moving average of a run's cost.
COST_SMOOTHING = 0.2
# A run is taken to cost at least this much: a coarse CPU clock can measure one as nothing.
MIN_COST_MS = 0.01
# Seconds of network CPU the budget saves while the picture is still, for a burst of fresh
# masks when the person moves again (about 15 RVM runs at 35 ms).
BURST_S = 0.5


class NetworkBudget:
    """Decides, frame by frame, whether the network may run within ``share`` of one core.

    ``burst_s`` is how much network time (seconds of CPU) the bucket holds: after a calm
    stretch, that much may be spent back to back. Times are passed in, so the rule can be
    checked without a clock.
    """

    def __init__(self, share: float, fps: float, burst_s: float, cost_ms: float) -> None:
        if share <= 0 or fps <= 0:
            raise ValueError("share and fps must be positive")
        self.share = share
        self.allowance_ms = share * 1000.0 / fps  # earned per frame
        cost_ms = max(cost_ms, MIN_COST_MS)
        self.capacity_ms = max(burst_s * 1000.0, cost_ms)
        self.cost_ms = cost_ms
        # One run's worth at start, not a full bucket: a full one would spend its burst on
        # the first second of every start (0.4 s of CPU here), when nothing was saved for it.
        self.balance_ms = cost_ms

    def tick(self) -> None:
        """One camera frame went by: the bucket earns its allowance."""
        self.balance_ms = min(self.capacity_ms, self.balance_ms + self.allowance_ms)

    @property
    def affordable(self) -> bool:
        return self.balance_ms >= self.cost_ms

    def spent(self, run_ms: float) -> None:
        """A run took ``run_ms`` of CPU: pay for it and update the expected cost.

        Runs the budget did not decide (the first after a reset, the refresh of an old mask)
        leave at most one run of debt: a stretch of them (many resets, a new photo each
        frame) must not starve the network for seconds afterwards.
        """
        self.balance_ms = max(self.balance_ms - run_ms, -self.cost_ms)
        self.cost_ms += COST_SMOOTHING * (max(run_ms, MIN_COST_MS) - self.cost_ms)

    @property
    def runs_per_frame(self) -> float:
        """The share of frames the network gets while the picture keeps moving."""
        return min(1.0, self.allowance_ms / self.cost_ms)


def least_cpu_ms(run: Callable[[], object], runs: int, cpu_clock: Callable[[], float]) -> float:
    """CPU time of ``run``, the least of ``runs`` calls after one that allocates: what a
    budget expects a run to cost at load. The least, because other programs only ever add
    to it (the median moved RVM's chosen size from one start to the next here); the
    budget's moving average follows the real cost from the first run on."""
    run()
    times = []
    for _ in range(runs):
        start = cpu_clock()
        run()
        times.append((cpu_clock() - start) * 1e3)
    return min(times)
