"""Explanations of model decisions: class activation maps and attention maps."""

from skysift.interpret.attention import (
    AttentionMaps,
    attention_maps,
    plot_attention_matrix,
    plot_attention_profile,
)
from skysift.interpret.cam import (
    ClassActivationMap,
    class_activation_map,
    plot_cam_light_curve,
    plot_cam_spectrum,
)

__all__ = [
    "AttentionMaps",
    "ClassActivationMap",
    "attention_maps",
    "class_activation_map",
    "plot_attention_matrix",
    "plot_attention_profile",
    "plot_cam_light_curve",
    "plot_cam_spectrum",
]
