"""Continual learning: IBCL's convex hull of Gaussian posteriors and highest-density regions.

Each public name is re-exported from a private module and listed in ``__all__``.
"""

from bvjax.continual._ibcl import (
    DiagGaussian,
    FGCSMatch,
    HDRBox,
    combine_gaussians,
    diag_gaussian_kl,
    fgcs_distance,
    fgcs_match,
    gaussian_hdr_box,
    in_gaussian_hdr,
    preference_weights,
    sample_hdr_box,
)

__all__ = [
    "DiagGaussian",
    "FGCSMatch",
    "HDRBox",
    "combine_gaussians",
    "diag_gaussian_kl",
    "fgcs_distance",
    "fgcs_match",
    "gaussian_hdr_box",
    "in_gaussian_hdr",
    "preference_weights",
    "sample_hdr_box",
]
