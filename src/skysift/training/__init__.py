"""Training: the Lightning task around pure models, losses, runs, model files."""

from skysift.training.checkpoint import LoadedModel, load_model, save_model
from skysift.training.losses import make_loss, weighted_log_loss

__all__ = ["LoadedModel", "load_model", "make_loss", "save_model", "weighted_log_loss"]
