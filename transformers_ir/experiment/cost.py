"""Dollar cost of time on a priced machine ("Moving Beyond Downstream Task Accuracy for IR Benchmarking")."""
from __future__ import annotations

from dataclasses import dataclass

# On-demand list prices in USD per hour. The first is this project's reference machine (2 cores, 24 GB).
PROFILES: dict[str, float] = {
    "2-core CPU VM": 0.096,
    "AWS c7i.large": 0.08925,
    "AWS g5.xlarge": 1.006,
}


@dataclass(frozen=True)
class Cost:
    hardware: str = "2-core CPU VM"
    usd_per_hour: float = PROFILES["2-core CPU VM"]

    def usd(self, seconds: float) -> float:
        return seconds / 3600 * self.usd_per_hour

    def per_1m_queries(self, seconds: float, queries: int) -> float:
        """Dollars for 1,000,000 queries, given ``seconds`` spent on ``queries`` queries."""
        return self.usd(1e6 * seconds / queries) if queries else float("nan")


def resolve_cost(spec: "str | dict | Cost | None") -> Cost:
    """A :class:`Cost` from a profile name, ``{hardware, usd_per_hour}``, or ``None`` (the reference machine)."""
    if spec is None:
        return Cost()
    if isinstance(spec, Cost):
        return spec
    if isinstance(spec, str):
        if spec not in PROFILES:
            raise ValueError(f"unknown cost profile {spec!r}; choose from {list(PROFILES)} or give usd_per_hour")
        return Cost(spec, PROFILES[spec])
    return Cost(**spec)
