"""Which carrier a tracking number belongs to: ranked candidates, never a guess.

Many carriers share shapes (a 12-digit number may be FedEx, Japan Post, GLS or
DHL Paket), so :func:`detect` returns every carrier whose pattern matches, the
strong ones first (a check digit that holds, or a shape only one carrier uses),
and names a :attr:`Detection.carrier` only when exactly one carrier matches and
strongly. A number whose check digit fails for a carrier is not that carrier's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from order_updates.carriers.registry import Carrier, get_carriers, normalize_number


@dataclass(frozen=True)
class Candidate:
    """A carrier a number may belong to."""

    carrier: Carrier
    #: A check digit held, or the shape is the carrier's own (e.g. "1Z…").
    strong: bool
    #: The service the number's shape means ("express", "ground"…), if any.
    service: str = ""


@dataclass(frozen=True)
class Detection:
    """What :func:`detect` found for one number."""

    number: str
    #: Most likely first: strong matches, then weak ones, each in registry order.
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def carrier(self) -> Carrier | None:
        """The carrier when the number is unambiguous, else None (ask a person)."""
        if len(self.candidates) == 1 and self.candidates[0].strong:
            return self.candidates[0].carrier
        return None

    @property
    def codes(self) -> list[str]:
        """The candidates' carrier codes, in rank order."""
        return [candidate.carrier.code for candidate in self.candidates]


def detect(number: str) -> Detection:
    """Every carrier ``number`` may belong to, ranked; see :class:`Detection`."""
    normalized = normalize_number(number)
    strong: list[Candidate] = []
    weak: list[Candidate] = []
    for carrier in get_carriers().values():
        best: Candidate | None = None
        for pattern in carrier.patterns:
            if not pattern.matches(normalized):
                continue  # another shape, or its check digit fails
            candidate = Candidate(carrier, pattern.strong, pattern.service)
            if best is None or (candidate.strong and not best.strong):
                best = candidate
        if best is not None:
            (strong if best.strong else weak).append(best)
    return Detection(normalized, strong + weak)
