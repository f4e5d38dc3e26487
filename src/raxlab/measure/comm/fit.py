"""Moved to `raxlab.fits` (the α-β fit is math shared by measure/ and predict/); kept importable."""

from raxlab.fits import fit_alpha_beta, fit_rows  # noqa: F401
