"""Sifting at scale: batch prediction over stores."""

from skysift.serving.batch import predict_store

__all__ = ["predict_store"]
