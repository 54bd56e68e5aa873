"""Several trained models as one: their outputs averaged.

Seeds of one configuration disagree by as much as settings do (docs/results.md
1 (f)); the mean of their class probabilities scores better than any one of
them. :class:`Ensemble` holds the members and returns ``log`` of the mean
probability as its "logits", so a softmax downstream (``predict``, the ONNX
export) gives the mean probability itself; a regressor's outputs are
averaged. It is not in the registry (there is nothing to train): build one
from saved models with :func:`skysift.training.checkpoint.save_ensemble`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from skysift.exceptions import SkysiftError
from skysift.models._base import SkysiftModel
from skysift.models._registry import create_model

__all__ = ["ENSEMBLE_NAME", "Ensemble"]

#: ``model_name`` of an ensemble in a model file.
ENSEMBLE_NAME = "ensemble"


class Ensemble(SkysiftModel):
    """The mean of several models' outputs (probabilities for classifiers).

    Parameters
    ----------
    members : sequence of dict
        At least two ``{"model_name": ..., "model_kwargs": ...}``, each
        rebuilt with :func:`~skysift.models.create_model` (weights are loaded
        afterwards, e.g. from a model file's state dict). All must have the
        same task, number of outputs, input shape and extra features.

    Examples
    --------
    >>> import torch
    >>> spec = {"model_name": "mlp", "model_kwargs": {"num_classes": 3, "input_length": 20}}
    >>> net = Ensemble([spec, spec]).eval()
    >>> x = torch.randn(4, 1, 20)
    >>> mean = torch.stack([m(x).softmax(1) for m in net.members]).mean(0)
    >>> bool(torch.allclose(net(x).softmax(1), mean, atol=1e-6))
    True
    """

    def __init__(self, members: Sequence[Mapping[str, Any]]) -> None:
        super().__init__()
        if isinstance(members, (str, bytes)) or len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        self.member_specs = [
            {"model_name": str(m["model_name"]), "model_kwargs": dict(m["model_kwargs"])}
            for m in members
        ]
        built = [create_model(s["model_name"], **s["model_kwargs"]) for s in self.member_specs]
        first = built[0]
        for spec, net in zip(self.member_specs[1:], built[1:], strict=True):
            for attr in ("task", "num_classes", "num_extra_features", "input_shape"):
                if getattr(net, attr) != getattr(first, attr):
                    raise ValueError(
                        f"ensemble members differ in {attr}: {spec['model_name']} has "
                        f"{getattr(net, attr)!r}, {self.member_specs[0]['model_name']} "
                        f"{getattr(first, attr)!r}"
                    )
        self.members = nn.ModuleList(built)
        self.task = first.task
        self.num_classes = first.num_classes
        self.num_extra_features = first.num_extra_features
        self.input_shape = tuple(first.input_shape)
        self.num_features = first.num_classes * len(built)

    def forward_features(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Return every member's output, stacked: ``(B, K, C)``."""
        return torch.stack([m(x, extra) for m in self.members], dim=1)

    def forward_head(
        self,
        features: torch.Tensor,
        extra: torch.Tensor | None = None,
        *,
        pre_logits: bool = False,
    ) -> torch.Tensor:
        """Combine the members: log of the mean softmax, or the mean for a regressor."""
        if pre_logits:
            return features.flatten(1)
        if self.task == "regression":
            return features.mean(dim=1)
        return torch.logsumexp(features.log_softmax(dim=-1), dim=1) - math.log(features.shape[1])

    def get_classifier(self) -> nn.Linear:
        """No single last layer: class activation maps need one member."""
        raise SkysiftError(
            "an ensemble has no single last layer; explain one of its members instead"
        )
