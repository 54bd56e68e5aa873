"""Text spectrum readers: SNID ``.lnw`` templates and column text/CSV files.

``snid.lnw``
    The template format of SNID (Blondin & Tonry 2007), used by DASH
    (Muthukrishna et al. 2019) for its training set. Line 1::

        nEpochs nWave w0 w1 nKnots name dta TYPE itype isubtype

    then one line of spline counts, ``nKnots`` lines of continuum spline
    knots, one line with an age flag followed by the age of every epoch
    (days from maximum light when the flag is 0; -999 means unknown), and
    ``nWave`` lines ``wavelength flux_1 ... flux_nEpochs`` on a log-lambda
    grid. Fluxes are continuum-divided ("flattened") and zero outside the
    observed range. Each epoch is one :class:`~skysift.data.Spectrum` with id
    ``<file stem>:<epoch index>``, label TYPE, ``meta["group"]`` the SN
    name (so a split keeps every epoch of one supernova together) and
    ``meta["age_days"]``. Templates carry no noise: ivar is 1 on covered
    pixels and 0 (masked) outside (``ivar_source = "unit"``). Templates are
    rest-frame spectra; their air/vacuum frame is not recorded ("unknown").

``text``
    Two or three columns ``wavelength flux [error]``, whitespace or comma
    separated, optionally with a header row naming the columns (a third
    column may be named as an error/sigma, a variance or an ivar) and
    ``#`` comment lines. Comments of the form ``# key: value`` (or
    ``key = value``) set ``redshift``/``z``, ``type``/``class``/``label``,
    ``frame`` (air/vacuum) and ``wavelength_unit``. Superfit/DASH file
    names ``<name>.<p|m><days>.dat`` / ``<name>.max.dat`` give the group
    and the age. Without an error column the DER_SNR noise gives a constant
    ivar (``ivar_source = "der_snr"``).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skysift.data.containers import Spectrum
from skysift.exceptions import DataFormatError
from skysift.io.registry import FileProbe, finish_spectrum, register_reader

__all__ = ["read_snid_lnw", "read_text"]


# -- SNID .lnw -----------------------------------------------------------------


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _snid_header_ok(tokens: list[str]) -> bool:
    return (
        len(tokens) >= 8
        and all(_is_int(tokens[i]) for i in (0, 1, 4))
        and all(_is_float(tokens[i]) for i in (2, 3, 6))
        and not _is_float(tokens[5])
        and int(tokens[0]) >= 1
        and int(tokens[1]) >= 2
    )


def _is_snid(probe: FileProbe) -> bool:
    lines = [ln for ln in probe.lines if ln.strip()]
    return (
        probe.kind == "text"
        and len(lines) >= 3
        and _snid_header_ok(lines[0].split())
        and all(_is_float(t) for t in lines[1].split())
    )


def read_snid_lnw(path: str | os.PathLike) -> list[Spectrum]:
    r"""Read every epoch of an SNID ``.lnw`` template file.

    Parameters
    ----------
    path : str or path-like
        The ``.lnw`` file.

    Returns
    -------
    list of Spectrum
        One per epoch, in file order: ``object_id`` ``<stem>:<i>``, label
        the SNID type (e.g. ``Ia-norm``), ``meta`` with ``group`` (SN name),
        ``age_days``, ``snid_itype``, ``snid_isubtype``, ``rest_frame``.
        An epoch with no flux at all comes back fully masked.

    Raises
    ------
    DataFormatError
        On a malformed header, a truncated file, non-numeric values (the
        message names the line) or when no epoch holds any flux.

    Examples
    --------
    >>> import tempfile, os
    >>> rows = "\n".join(f"{3000 + 10 * i:.2f} {0.1 * (i % 3):.3f} 0.200"
    ...                   for i in range(20))
    >>> text = ("    2   20   3000.00  3190.00      1     sn1999x   0.0  Ia-norm  1  2\n"
    ...         "      1  1  0.1  1  0.2\n"
    ...         "      1  3.5  0.1  3.5  0.2\n"
    ...         "       0   -5.0   10.0\n" + rows + "\n")
    >>> path = os.path.join(tempfile.mkdtemp(), "sn1999x.lnw")
    >>> with open(path, "w") as f:
    ...     _ = f.write(text)
    >>> [s.object_id for s in read_snid_lnw(path)]
    ['sn1999x:0', 'sn1999x:1']
    >>> s = read_snid_lnw(path)[1]
    >>> s.label, s.meta["group"], s.meta["age_days"]
    ('Ia-norm', 'sn1999x', 10.0)
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise DataFormatError(f"{path}: unreadable ({e})") from e
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataFormatError(f"{path}: empty file")
    head = lines[0].split()
    if not _snid_header_ok(head):
        raise DataFormatError(
            f"{path}: line 1: not an SNID .lnw header (expected 'nEpochs nWave w0 w1 "
            f"nKnots name dta TYPE itype isubtype'), got {lines[0].strip()!r}"
        )
    n_epochs, n_wave, n_knots = int(head[0]), int(head[1]), int(head[4])
    name, sn_type = head[5], head[7]
    itype = int(head[8]) if len(head) > 8 and _is_int(head[8]) else None
    isubtype = int(head[9]) if len(head) > 9 and _is_int(head[9]) else None
    age_line = 2 + n_knots  # 0-based: header, spline counts, knots
    first_row = age_line + 1
    expected = first_row + n_wave
    if len(lines) < expected:
        raise DataFormatError(
            f"{path}: truncated: the header promises {n_knots} knot lines and "
            f"{n_wave} wavelength rows ({expected} lines), the file has {len(lines)}"
        )
    ages_tokens = lines[age_line].split()
    if len(ages_tokens) != n_epochs + 1 or not all(_is_float(t) for t in ages_tokens):
        raise DataFormatError(
            f"{path}: line {age_line + 1}: expected an age flag and {n_epochs} ages, got "
            f"{lines[age_line].strip()!r}"
        )
    age_flag = int(float(ages_tokens[0]))
    ages = [float(t) for t in ages_tokens[1:]]
    block = lines[first_row:expected]
    try:
        with warnings.catch_warnings():
            # fromstring stops at the first bad token (a warning, or a
            # ValueError in newer NumPy); the size check below names the line
            warnings.simplefilter("ignore")
            values = np.fromstring(" ".join(block), sep=" ")
    except ValueError:
        values = np.empty(0)
    if values.size != n_wave * (n_epochs + 1):
        for k, line in enumerate(block):
            tokens = line.split()
            bad = [t for t in tokens if not _is_float(t)]
            if len(tokens) != n_epochs + 1 or bad:
                raise DataFormatError(
                    f"{path}: line {first_row + k + 1}: expected {n_epochs + 1} numbers "
                    f"(wavelength and {n_epochs} fluxes), got {line.strip()!r}"
                )
        raise DataFormatError(f"{path}: data block does not parse as numbers")
    table = values.reshape(n_wave, n_epochs + 1)
    wavelength = table[:, 0]
    if not np.isfinite(table[:, 1:]).any() or not np.any(table[:, 1:] != 0):
        raise DataFormatError(
            f"{path}: lines {first_row + 1}-{expected}: every flux of every epoch is "
            "zero or NaN"
        )
    spectra = []
    for i in range(n_epochs):
        flux = table[:, i + 1]
        covered = _coverage(flux)
        meta: dict[str, Any] = {
            "group": name,
            "age_days": None if ages[i] <= -999 else ages[i],
            "age_flag": age_flag,
            "snid_itype": itype,
            "snid_isubtype": isubtype,
            "rest_frame": True,
            "ivar_source": "unit",
        }
        spectra.append(
            finish_spectrum(
                path,
                f"epoch {i} (column {i + 2})",
                f"{_stem(path)}:{i}",
                wavelength,
                flux,
                covered.astype(np.float64),
                ~covered,
                frame="unknown",
                label=sn_type,
                meta=meta,
                require_usable=False,
            )
        )
    return spectra


def _coverage(flux: np.ndarray) -> np.ndarray:
    """Mark pixels between the first and last non-zero flux (SNID pads with zeros)."""
    nonzero = np.flatnonzero(np.isfinite(flux) & (flux != 0))
    covered = np.zeros(flux.size, dtype=bool)
    if nonzero.size:
        covered[nonzero[0] : nonzero[-1] + 1] = True
    return covered & np.isfinite(flux)


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".lnw", ".dat", ".txt", ".csv", ".ascii", ".flm", ".spec", ".gz"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


# -- column text ---------------------------------------------------------------

_WAVE_NAMES = {
    "wavelength",
    "wave",
    "lambda",
    "wl",
    "lam",
    "wavelength_aa",
    "wavelen",
    "angstrom",
    "angstroms",
    "obs_wave",
    "rest_wave",
}
_FLUX_NAMES = {
    "flux",
    "f",
    "flam",
    "f_lambda",
    "fnu",
    "flux_density",
    "fluxes",
    "specific_flux",
    "counts",
}
_ERR_NAMES = {
    "error",
    "err",
    "sigma",
    "flux_err",
    "flux_error",
    "fluxerr",
    "e_flux",
    "eflux",
    "unc",
    "uncertainty",
    "flux_unc",
    "sig",
    "noise",
    "dflux",
    "flux_sigma",
}
_VAR_NAMES = {"var", "variance", "flux_var", "fluxvar", "flux_variance"}
_IVAR_NAMES = {"ivar", "inverse_variance", "flux_ivar", "invvar"}
_COMMENT_META = re.compile(r"^[#%;!]+\s*([A-Za-z][A-Za-z_ ]*?)\s*[:=]\s*(\S.*?)\s*$")
_AGE_NAME = re.compile(r"^(?P<name>.+)\.(?P<age>max|[mp]\d+(?:\.\d+)?|u\d+)$")


@dataclass
class _Layout:
    delimiter: str | None  # None: whitespace
    names: list[str] | None
    units: list[str | None]
    n_columns: int
    header_index: int | None  # index into data lines


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [t.strip().strip("\"'") for t in line.split(delimiter)]


def _name_and_unit(token: str) -> tuple[str, str | None]:
    token = token.strip().strip("\"'")
    match = re.fullmatch(r"(.*?)\s*[\[(]\s*([^\])]+?)\s*[\])]\s*", token)
    if match:
        return match.group(1).strip().lower(), match.group(2)
    return token.lower(), None


def _layout(data_lines: list[str]) -> _Layout | None:
    """Delimiter, header and column count of a column text file, or None."""
    if len(data_lines) < 2:
        return None
    first = data_lines[0]
    delimiter = "," if "," in first else ("\t" if "\t" in first.strip() else None)
    tokens = _split(first, delimiter)
    names, units, header_index = None, [], None
    if not all(_is_float(t) for t in tokens if t):
        pairs = [_name_and_unit(t) for t in tokens]
        names = [p[0] for p in pairs]
        units = [p[1] for p in pairs]
        header_index = 0
        body = data_lines[1:]
    else:
        body = data_lines
    if not body:
        return None
    n = len(_split(body[0], delimiter))
    return _Layout(delimiter, names, units or [None] * n, n, header_index)


def _roles(layout: _Layout, path: Path | None) -> dict[str, int]:
    """Which column holds wavelength, flux and the error/var/ivar."""
    roles: dict[str, int] = {}
    if layout.names is not None:
        for j, name in enumerate(layout.names):
            key = name.replace(" ", "_").replace("-", "_")
            if key in _WAVE_NAMES or key.startswith(("wave", "lambda")):
                roles.setdefault("wavelength", j)
            elif key in _ERR_NAMES or key.endswith(
                ("_err", "_error", "_sigma", "_unc")
            ):
                roles.setdefault("error", j)
            elif key in _IVAR_NAMES:
                roles.setdefault("ivar", j)
            elif key in _VAR_NAMES:
                roles.setdefault("variance", j)
            elif key in _FLUX_NAMES or key.startswith("flux"):
                roles.setdefault("flux", j)
        if "wavelength" in roles and "flux" in roles:
            return roles
    if layout.n_columns in (2, 3):
        roles = {"wavelength": 0, "flux": 1}
        if layout.n_columns == 3:
            roles["error"] = 2
        return roles
    if path is None:
        return {}
    names = f" named {layout.names}" if layout.names else ""
    raise DataFormatError(
        f"{path}: {layout.n_columns} columns{names}; expected wavelength, flux and "
        "optionally error (2 or 3 columns), or a header row naming them "
        "(e.g. 'wavelength,flux,flux_err')"
    )


def _is_text(probe: FileProbe) -> bool:
    if probe.kind != "text":
        return False
    layout = _layout(probe.data_lines)
    if layout is None:
        return False
    roles = _roles(layout, None)
    if not roles:
        return False
    body = probe.data_lines[(1 if layout.header_index is not None else 0) :][:50]
    if len(body) < 5:
        return False
    rows = [_split(ln, layout.delimiter) for ln in body]
    if any(len(r) != layout.n_columns for r in rows):
        return False
    try:
        wave = np.array([float(r[roles["wavelength"]]) for r in rows])
        [float(r[roles["flux"]]) for r in rows]
    except ValueError:
        return False
    step = np.diff(wave)
    monotonic = bool(np.all(step > 0) or np.all(step < 0))
    return monotonic and 100.0 <= np.nanmin(wave) and np.nanmax(wave) <= 1.0e6


def read_text(
    path: str | os.PathLike,
    *,
    frame: str | None = None,
    wavelength_unit: str | None = None,
    error_kind: str | None = None,
) -> list[Spectrum]:
    r"""Read a two- or three-column text/CSV spectrum.

    Parameters
    ----------
    path : str or path-like
        The file: ``wavelength flux [error]`` per line, whitespace or comma
        separated, ``#`` comments, optional header row.
    frame : {"air", "vacuum", "unknown"}, optional
        The wavelength frame; default from a ``# frame: air`` comment, else
        "unknown".
    wavelength_unit : str, optional
        Unit of the wavelength column (astropy syntax, e.g. ``"nm"``);
        default from the header (``wavelength[nm]``), a
        ``# wavelength_unit: nm`` comment, else Angstrom.
    error_kind : {"sigma", "variance", "ivar"}, optional
        What the third column is; default from its header name, else sigma.

    Returns
    -------
    list of Spectrum
        One spectrum; ``object_id`` is the file stem.

    Raises
    ------
    DataFormatError
        On a non-numeric value (naming line and column), rows of different
        length, more than three unnamed columns, an empty or all-NaN file,
        implausible wavelengths, or no usable pixel.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "ptf10abc.p05.dat")
    >>> with open(path, "w") as f:
    ...     _ = f.write("# z = 0.05\n# type: Ic-broad\n")
    ...     _ = f.write("".join(f"{4000 + 5 * i} {1 + (i % 2) * 0.1}\n" for i in range(40)))
    >>> [s] = read_text(path)
    >>> s.object_id, s.label, s.redshift, s.meta["group"], s.meta["age_days"]
    ('ptf10abc.p05', 'Ic-broad', 0.05, 'ptf10abc', 5.0)
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise DataFormatError(f"{path}: unreadable ({e})") from e
    all_lines = text.splitlines()
    comments = {}
    numbered = []
    for k, line in enumerate(all_lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] in "#%;!":
            match = _COMMENT_META.match(stripped)
            if match:
                comments[match.group(1).strip().lower().replace(" ", "_")] = (
                    match.group(2)
                )
            low = stripped.lower()
            if frame is None and "wavelength" in low:
                if "vacuum" in low:
                    comments.setdefault("frame", "vacuum")
                elif re.search(r"\bair\b", low):
                    comments.setdefault("frame", "air")
            continue
        numbered.append((k, line))
    if not numbered:
        raise DataFormatError(f"{path}: no data lines (empty file or only comments)")
    layout = _layout([ln for _, ln in numbered])
    if layout is None:
        raise DataFormatError(f"{path}: fewer than two data lines")
    roles = _roles(layout, path)
    body = numbered[1:] if layout.header_index is not None else numbered
    if not body:
        raise DataFormatError(f"{path}: a header row but no data")
    values = np.empty((len(body), layout.n_columns))
    names = layout.names or [f"column {j + 1}" for j in range(layout.n_columns)]
    for r, (k, line) in enumerate(body):
        tokens = _split(line, layout.delimiter)
        if len(tokens) != layout.n_columns:
            raise DataFormatError(
                f"{path}: line {k}: {len(tokens)} values, expected {layout.n_columns}"
            )
        for j, token in enumerate(tokens):
            try:
                values[r, j] = float(token) if token else np.nan
            except ValueError as e:
                raise DataFormatError(
                    f"{path}: line {k}, {names[j]!r}: {token!r} is not a number"
                ) from e
    from skysift.io.fits import parse_wavelength_unit, to_angstrom

    unit_text = (
        wavelength_unit
        or layout.units[roles["wavelength"]]
        or comments.get("wavelength_unit")
        or comments.get("wave_unit")
        or comments.get("units")
    )
    unit = parse_wavelength_unit(
        unit_text, path, f"column {names[roles['wavelength']]!r}"
    )
    wavelength = to_angstrom(values[:, roles["wavelength"]], unit)
    flux = values[:, roles["flux"]]
    ivar = None
    third = next((r for r in ("error", "variance", "ivar") if r in roles), None)
    if third is not None:
        kind = (
            error_kind
            or {"error": "sigma", "variance": "variance", "ivar": "ivar"}[third]
        )
        col = values[:, roles[third]]
        with np.errstate(divide="ignore", invalid="ignore"):
            if kind == "sigma":
                ivar = np.where(col > 0, 1.0 / col**2, 0.0)
            elif kind == "variance":
                ivar = np.where(col > 0, 1.0 / col, 0.0)
            elif kind == "ivar":
                ivar = col
            else:
                raise ValueError(
                    f"error_kind must be 'sigma', 'variance' or 'ivar', got {error_kind!r}"
                )
        ivar = np.where(np.isfinite(col), ivar, 0.0)
    if frame is None:
        stated = comments.get("frame", "").lower()
        frame = (
            "vacuum"
            if stated.startswith("vac")
            else "air"
            if stated == "air"
            else "unknown"
        )
    stem = _stem(path)
    meta: dict[str, Any] = {"group": stem}
    match = _AGE_NAME.match(stem)
    if match:
        meta["group"] = match.group("name")
        age = match.group("age")
        if age == "max":
            meta["age_days"] = 0.0
        elif age[0] in "mp":
            meta["age_days"] = (-1.0 if age[0] == "m" else 1.0) * float(age[1:])
    for key in ("object", "name", "sn", "sn_name"):
        if key in comments:
            meta["group"] = comments[key]
            break
    label = next(
        (comments[k] for k in ("type", "class", "label", "sntype") if k in comments),
        None,
    )
    redshift = None
    for key in ("redshift", "z"):
        if key in comments:
            try:
                redshift = float(comments[key].split()[0])
            except ValueError:
                redshift = None
            break
    where = f"column {names[roles['flux']]!r}"
    return [
        finish_spectrum(
            path,
            where,
            stem,
            wavelength,
            flux,
            ivar,
            frame=frame,
            label=label,
            redshift=redshift,
            meta=meta,
        )
    ]


register_reader(
    "snid.lnw",
    read_snid_lnw,
    _is_snid,
    priority=10,
    description="SNID .lnw template: one spectrum per epoch with age and type (DASH training set)",
)
register_reader(
    "text",
    read_text,
    _is_text,
    priority=-20,
    description="two/three-column text or CSV: wavelength, flux[, error] (Superfit, OzDES, DASH SLSN)",
)
