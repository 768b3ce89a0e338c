"""Camera sensor model: vignetting, lens blur, Poisson-Gaussian noise, gamma and 8-bit quantisation."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera

Float = NDArray[np.float64]


@dataclass(frozen=True)
class SensorModel:
    """Turns linear scene radiance (H, W, 3) into an 8-bit RGB image (H, W, 3)."""

    vignetting: Float
    """(H, W) multiplicative light fall-off of the lens, 1 at the principal point."""
    blur_sigma_px: float
    """Lens blur (Gaussian sigma in pixels); 0 disables it."""
    full_well_electrons: float
    """Electrons collected at a linear value of 1."""
    read_noise_electrons: float
    """Gaussian read noise (standard deviation, electrons)."""
    gamma: float
    """Output gamma: value = linear ** (1 / gamma)."""

    @classmethod
    def for_camera(
        cls,
        camera: PinholeCamera,
        *,
        vignetting: float,
        blur_sigma_px: float,
        full_well_electrons: float,
        read_noise_electrons: float,
        gamma: float,
    ) -> SensorModel:
        """A sensor behind ``camera``'s lens; ``vignetting`` is the relative darkening at the corners."""
        u, v = np.meshgrid(
            np.arange(camera.width, dtype=np.float64), np.arange(camera.height, dtype=np.float64)
        )
        cx, cy = camera.K[0, 2], camera.K[1, 2]
        corners = np.array([[0.0, 0.0], [camera.width - 1.0, 0.0], [0.0, camera.height - 1.0]])
        corners = np.vstack([corners, [[camera.width - 1.0, camera.height - 1.0]]])
        r_max2 = float(np.max((corners[:, 0] - cx) ** 2 + (corners[:, 1] - cy) ** 2))
        falloff = 1.0 - vignetting * ((u - cx) ** 2 + (v - cy) ** 2) / r_max2
        return cls(falloff, blur_sigma_px, full_well_electrons, read_noise_electrons, gamma)

    def expose(self, radiance: Float, rng: np.random.Generator | None) -> NDArray[np.uint8]:
        """8-bit image (H, W, 3) of linear ``radiance`` (H, W, 3); noise-free when ``rng`` is None."""
        linear = radiance * self.vignetting[..., None]
        if self.blur_sigma_px > 0.0:
            linear = cv2.GaussianBlur(linear, (0, 0), self.blur_sigma_px, borderType=cv2.BORDER_REFLECT_101)
        if rng is not None:
            electrons = rng.poisson(np.clip(linear, 0.0, 4.0) * self.full_well_electrons).astype(np.float64)
            electrons += rng.normal(0.0, self.read_noise_electrons, electrons.shape)
            linear = electrons / self.full_well_electrons
        encoded = np.clip(linear, 0.0, 1.0) ** (1.0 / self.gamma)
        return np.round(encoded * 255.0).astype(np.uint8)
