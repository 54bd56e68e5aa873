"""Human-readable summary of a store, shared by ``info``, ``synth`` and ``demo``."""

from __future__ import annotations

from typing import Any


def _size(n_bytes: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return ""


def format_summary(info: dict[str, Any]) -> str:
    """Format :meth:`skysift.io.store.Store.info` as aligned lines."""
    s = info["summary"]
    lines = [
        ("store", info["path"]),
        ("kind", f"{info['kind']} (schema v{info['schema_version']})"),
        (
            "objects",
            f"{info['n_objects']:,} in {info['n_parts']} part file(s), "
            f"{_size(info['size_bytes'])} on disk",
        ),
    ]
    classes = info["classes"]
    if classes:
        lines.append(("classes", f"{len(classes)}"))
        width = max(len(c) for c in classes)
        lines += [("", f"{c:<{width}}  {k:>9,}") for c, k in classes.items()]
    if info["n_unlabelled"]:
        lines.append(("unlabelled", f"{info['n_unlabelled']:,}"))
    what = {"spectra": "pixels", "lightcurves": "points"}.get(info["kind"], "values")
    if "length_min" in s:
        lines.append(
            (
                what,
                f"median {s['length_median']:g} (min {s['length_min']}, "
                f"max {s['length_max']}) per object",
            )
        )
    if s.get("wavelength_aa_range") and s["wavelength_aa_range"][0] is not None:
        lo, hi = s["wavelength_aa_range"]
        lines.append(("wavelength", f"{lo:.1f} - {hi:.1f} Angstrom"))
    if s.get("time_mjd_range") and s["time_mjd_range"][0] is not None:
        lo, hi = s["time_mjd_range"]
        lines.append(("time", f"MJD {lo:.2f} - {hi:.2f}"))
    if s.get("bands"):
        lines.append(("bands", " ".join(s["bands"])))
    lines.append(("columns", ", ".join(info["columns"])))
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)
