"""In-memory containers, passbands and synthetic data generators."""

from skysift.data.containers import LightCurve, Spectrum
from skysift.data.passbands import PASSBANDS, band_wavelengths

__all__ = ["PASSBANDS", "LightCurve", "Spectrum", "band_wavelengths"]
