"""Model registry and the seeds' architectures.

Importing this package registers every architecture. Build one with
:func:`create_model` and list them with :func:`list_models`:

>>> from skysift.models import create_model, list_models
>>> list_models()  # doctest: +NORMALIZE_WHITESPACE
['atx', 'cnn1d_strided', 'cnn1d_strided_regressor', 'cnn2d', 'mlp',
 'spectral_vit', 't2', 'vgg1d']
>>> model = create_model("vgg1d", num_classes=3, input_length=140)
"""

from skysift.models._base import SkysiftModel, count_parameters
from skysift.models._registry import (
    create_model,
    is_model,
    list_models,
    model_entrypoint,
    register_model,
)
from skysift.models.atx import ATX
from skysift.models.cnn1d import StridedCNN1d, VGG1d
from skysift.models.cnn2d import CNN2d, fold_to_square
from skysift.models.mlp import MLP
from skysift.models.spectral_vit import SpectralViT
from skysift.models.t2 import T2

__all__ = [
    "ATX",
    "MLP",
    "T2",
    "CNN2d",
    "SkysiftModel",
    "SpectralViT",
    "StridedCNN1d",
    "VGG1d",
    "count_parameters",
    "create_model",
    "fold_to_square",
    "is_model",
    "list_models",
    "model_entrypoint",
    "register_model",
]
