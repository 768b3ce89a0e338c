"""Fusion of depth maps into surfaces (open3d TSDF) and rendering of the fused surface."""
