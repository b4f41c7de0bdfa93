"""Clinical formulas: gestational age, estimated fetal weight, plausibility cross-checks.

Inputs are lengths in millimetres (numbers, or Measurements whose quality is propagated); outputs are
`edge.results.Measurement` (GA in days "d", EFW in grams "g") with the method, its source and precision
in `reason`, or no number (out_of_range / no_measurement) with the reason. Formulas, sources, validity
ranges and the GA choosing policy: docs/clinical_formulas.md.
"""

from edge.clinical.efw import EFW_METHODS, estimate_efw
from edge.clinical.ga import GA_METHODS, best_ga, estimate_ga
from edge.clinical.plausibility import plausibility_checks

__all__ = ["estimate_ga", "estimate_efw", "best_ga", "plausibility_checks", "GA_METHODS", "EFW_METHODS"]
