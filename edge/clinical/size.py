"""Size for gestational age: a measurement's centile and z-score against its standard, or why there is none.

A centile needs an established GA (LMP, EDD or an earlier dating scan): a GA estimated from this exam's own
biometry would measure the fetus against itself. It also needs a number, a GA inside the standard's valid
range, and (for EFW) an EFW made the way the standard was built (the INTERGROWTH-21st EFW standard is for
EFW by its own HC+AC equation).
"""

from __future__ import annotations

from dataclasses import replace

from edge.clinical.dating import format_ga
from edge.clinical.standards import BY_QUANTITY, centile_of, z_score
from edge.results import Measurement

NOT_ESTABLISHED = ("size for GA cannot be judged: the GA was estimated from this exam's own biometry "
                   "(give LMP, EDD or an earlier dating scan)")
EFW_STANDARD_METHOD = "intergrowth21_hc_ac"


def _no_centile(m: Measurement, reason: str, standard: str | None = None) -> Measurement:
    return replace(m, centile=None, z=None, standard=standard, centile_reason=reason)


def size_for_ga(m: Measurement, ga_days: float | None, established: bool) -> Measurement:
    """The measurement with centile, z, standard and centile_reason filled in."""
    std = BY_QUANTITY.get(m.name)
    if std is None:
        return _no_centile(m, f"no size-for-GA standard for {m.name}")
    if m.value is None:
        return _no_centile(m, f"no {m.name.upper()} to judge", std.label)
    if ga_days is None:
        return _no_centile(m, "no gestational age", std.label)
    if not established:
        return _no_centile(m, NOT_ESTABLISHED, std.label)
    if not std.covers(ga_days):
        return _no_centile(m, f"GA {format_ga(ga_days)} is outside the valid range of {std.label} for "
                              f"{m.name.upper()} ({std.range_text()})", std.label)
    base_method = (m.method or "").split("+", 1)[0]
    if m.name == "efw" and base_method != EFW_STANDARD_METHOD:
        return _no_centile(m, f"{std.label} applies to EFW by its own HC+AC equation ({EFW_STANDARD_METHOD}); "
                              f"this EFW is by {m.method}", std.label)
    z = z_score(std, float(m.value), ga_days)
    return replace(m, centile=round(centile_of(z), 1), z=round(z, 2), standard=std.label, centile_reason=None)
