"""Robustness: PGD attacks for l_inf, l_2 and l_1 balls, RAMP's logit pairing and update merge.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

from bvjax.robust._pgd import pgd_l1, pgd_l2, pgd_linf, project_l1_ball
from bvjax.robust._ramp import gp_merge, logit_pairing_loss, ramp_loss, select_max_adv, union_accuracy

__all__ = [
    "gp_merge",
    "logit_pairing_loss",
    "pgd_l1",
    "pgd_l2",
    "pgd_linf",
    "project_l1_ball",
    "ramp_loss",
    "select_max_adv",
    "union_accuracy",
]
