"""Readers and writers: FITS spectra, light-curve tables, alerts, the dataset store."""
