"""Which calibration each served adapter abstains with, and how to say so.

A deployment names its calibrations (`serve --calibration NAME`); an adapter not named gets its
latest one, and its model card says which and that it was picked as the latest. The base model never
abstains (calibrations belong to adapters). A backend that returns no token entropies (vLLM over
HTTP) cannot abstain at all: then every card says abstention is off and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from groundtune.core.adapters import AdapterRef
from groundtune.core.calibrations import Calibration, latest_calibration, load_calibration
from groundtune.core.errors import InvalidInputError
from groundtune.grounding.abstention import gate_rule, has_gate, relevance_rule

NO_ENTROPIES = (
    "abstention is off: this engine returns no token entropies, so no reply can be judged unsure "
    "(serve with the in-process engine to abstain)"
)


@dataclass(frozen=True)
class Chosen:
    """A served adapter's calibration and whether it was named or picked as the adapter's latest."""

    calibration: Calibration
    named: bool

    def describe(self) -> str:
        c = self.calibration
        how = "named" if self.named else "the adapter's latest; --calibration NAME picks another"
        fitted = f"{c.dataset}:{c.split}, {c.max_false_refusal:.0%} false-refusal budget"
        rule = relevance_rule(c)
        lists = f"; {rule}" if rule else ""
        if has_gate(c):
            return f"{gate_rule(c)}, else answers{lists}: calibration {c.name} ({how}; {fitted})"
        if c.threshold is None:
            return (
                f"never abstains{lists}: calibration {c.name} ({how}) found no threshold within the budget "
                f"({fitted})"
            )
        return f"abstains at uncertainty >= {c.threshold:.3f}{lists}: calibration {c.name} ({how}; {fitted})"


def choose(
    refs: Mapping[str, AdapterRef], names: Sequence[str], home: str | Path | None = None
) -> dict[str, Chosen]:
    """Served adapter name -> its calibration: the named ones first, else each adapter's latest."""
    chosen: dict[str, Chosen] = {}
    for name in names:
        calibration = load_calibration(name, home)
        served = [n for n, ref in refs.items() if calibration.belongs_to(ref)]
        if not served:
            raise InvalidInputError(
                f"calibration '{name}' belongs to adapter '{calibration.adapter}' ({calibration.adapter_path}), "
                "which this deployment does not serve",
                hint=f"add --adapter {calibration.adapter}, or drop --calibration {name}",
            )
        for n in served:
            if n in chosen:
                raise InvalidInputError(
                    f"adapter '{n}' was given two calibrations ({chosen[n].calibration.name}, {name})",
                    hint="pass one --calibration per adapter",
                )
            chosen[n] = Chosen(calibration, named=True)
    for n, ref in refs.items():
        if n not in chosen and (latest := latest_calibration(ref, home)) is not None:
            chosen[n] = Chosen(latest, named=False)
    return chosen
