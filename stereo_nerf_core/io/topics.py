"""Topic and frame names of the stereo endoscope interface (users remap their drivers to these)."""

LEFT_IMAGE = "/stereo/left/image_raw"
RIGHT_IMAGE = "/stereo/right/image_raw"
LEFT_CAMERA_INFO = "/stereo/left/camera_info"
RIGHT_CAMERA_INFO = "/stereo/right/camera_info"
LEFT_INSTRUMENT_MASK = "/stereo/left/instrument_mask"
RIGHT_INSTRUMENT_MASK = "/stereo/right/instrument_mask"
LEFT_DEPTH_PRIOR = "/stereo/left/depth_prior"  # provided prior (32FC1 metres, left grid), e.g. imported
GROUND_TRUTH_LEFT_DEPTH = "/ground_truth/left/depth"
GROUND_TRUTH_POSE = "/ground_truth/pose"
TF = "/tf"
TF_STATIC = "/tf_static"

WORLD_FRAME = "world"
LEFT_OPTICAL_FRAME = "stereo_left_optical_frame"
RIGHT_OPTICAL_FRAME = "stereo_right_optical_frame"
