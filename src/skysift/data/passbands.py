"""Photometric passbands of the surveys skysift knows, with effective wavelengths.

The 2-D Gaussian process of seed 003 interpolates over (time, wavelength), so
each band name maps to one wavelength in Angstrom. Values are the effective
wavelengths used for PLAsTiCC/LSST (ugrizy), ZTF (g, r) and DES/SNPCC (griz)
light-curve work.
"""

__all__ = ["PASSBANDS", "band_wavelengths"]

#: Survey name -> {band name: effective wavelength in Angstrom}.
PASSBANDS: dict[str, dict[str, float]] = {
    "lsst": {
        "u": 3670.7,
        "g": 4826.9,
        "r": 6223.2,
        "i": 7545.9,
        "z": 8690.9,
        "y": 9712.4,
    },
    "ztf": {"g": 4804.8, "r": 6436.9},
    # DES griz: throughput-weighted mean wavelengths of the filter curves
    # shipped with the SNPCC simulation (SIMGEN_PUBLIC_DES)
    "des": {"g": 4781.0, "r": 6359.9, "i": 7758.9, "z": 9208.1},
}


def band_wavelengths(survey: str, bands: str | None = None) -> dict[str, float]:
    """Effective wavelengths of some or all bands of a survey.

    Parameters
    ----------
    survey : {"lsst", "ztf", "des"}
        The survey.
    bands : str, optional
        Band names, one character each (``"gri"``); all bands when omitted.

    Returns
    -------
    dict of str to float
        Band name -> wavelength in Angstrom, in the order asked.

    Raises
    ------
    ValueError
        For an unknown survey or a band the survey does not have.

    Examples
    --------
    >>> band_wavelengths("ztf")
    {'g': 4804.8, 'r': 6436.9}
    >>> list(band_wavelengths("lsst", "gri"))
    ['g', 'r', 'i']
    """
    if survey not in PASSBANDS:
        raise ValueError(
            f"unknown survey {survey!r}; expected one of {sorted(PASSBANDS)}"
        )
    table = PASSBANDS[survey]
    if bands is None:
        return dict(table)
    unknown = [b for b in bands if b not in table]
    if unknown or len(set(bands)) != len(bands):
        raise ValueError(
            f"bands {bands!r} are not distinct bands of {survey}; "
            f"available: {''.join(table)}"
        )
    return {b: table[b] for b in bands}
