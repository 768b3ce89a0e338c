"""Radiance fields: the networks the renderer queries (hash-grid NeRF and NeuS SDF fields).

``base`` defines the :class:`Field` interface and :class:`FieldOutput`; ``hash_grid`` the
multi-resolution hash encoding; ``encodings`` spherical harmonics, ``trunc_exp`` and MLPs;
``nerf_field`` and ``sdf_field`` the two fields. Positions are world metres, directions unit
vectors; the device is whatever the inputs and parameters live on.
"""

from stereo_nerf_core.fields.base import Field, FieldMode, FieldOutput
from stereo_nerf_core.fields.encodings import spherical_harmonics, trunc_exp
from stereo_nerf_core.fields.errors import FieldError
from stereo_nerf_core.fields.hash_grid import HashGridConfig, HashGridEncoding
from stereo_nerf_core.fields.nerf_field import NerfField, NerfFieldConfig
from stereo_nerf_core.fields.sdf_field import SdfField, SdfFieldConfig

__all__ = [
    "Field",
    "FieldError",
    "FieldMode",
    "FieldOutput",
    "HashGridConfig",
    "HashGridEncoding",
    "NerfField",
    "NerfFieldConfig",
    "SdfField",
    "SdfFieldConfig",
    "spherical_harmonics",
    "trunc_exp",
]
