"""The paper's motion representation: canonical frame, per-frame features, normalisation,
and the joints the features pose."""

from rohm.representation.canonical import (
    CanonicalFrame,
    canonical_frame,
    canonicalize,
    yaw_matrix,
)
from rohm.representation.features import (
    FeatureLayout,
    decode,
    encode,
    feature_mask,
    features_to_motion,
    foot_contacts_torch,
    motion_to_features,
    unwrap_angle,
)
from rohm.representation.joints import joints_from_features
from rohm.representation.normalization import Normalizer

__all__ = [
    "CanonicalFrame", "canonical_frame", "canonicalize", "yaw_matrix",
    "FeatureLayout", "encode", "decode", "feature_mask", "features_to_motion",
    "foot_contacts_torch", "motion_to_features", "unwrap_angle", "Normalizer", "joints_from_features",
]
