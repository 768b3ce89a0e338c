"""Self-supervised monocular depth trained from the stereo stream by view synthesis (Monodepth2 line).

``network`` (the encoder-decoder and the sigmoid -> disparity -> metric depth mapping), ``warping``
(back-projection and bilinear resampling through depth and a relative pose), ``losses`` (reprojection
error, minimum over sources, auto-mask, edge-aware smoothness), ``training`` (the online trainer),
``stream`` (a bag's rectified, posed stereo stream and training on it), ``weights`` (the weights file
and inference), ``backend`` (``depth_prior.backend: self_supervised``) and ``cli``
(``stereo-nerf train-self-supervised``). See docs/self_supervised_depth.md.
"""
