"""sensor_msgs/CompressedImage (jpeg or png) <-> arrays, with OpenCV's codecs.

``format`` follows image_transport's compressed plugin: ``"<encoding>; <jpeg|png> compressed
<bgr8|mono8|mono16>"`` (for example ``"rgb8; jpeg compressed bgr8"``); a bare ``"jpeg"`` or ``"png"``
is accepted too. Decoding reads the codec from the data's signature, so a wrong ``format`` does not
matter; colour comes back in RGB order. compressedDepth (its own header before the PNG) is not read.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.io.errors import EncodingError, MessageError
from stereo_nerf_core.io.messages import MessageClasses, image_to_rgb

CODECS = ("jpeg", "png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"


def _name(topic: str | None) -> str:
    return f"{topic}: " if topic else ""


def array_to_compressed(
    classes: MessageClasses,
    pixels: NDArray[Any],
    *,
    codec: str,
    stamp_ns: int,
    frame_id: str,
    jpeg_quality: int = 95,
    topic: str | None = None,
) -> Any:
    """A sensor_msgs/CompressedImage of RGB uint8 (H, W, 3), mono8 (H, W) or, png only, mono16 (H, W) uint16."""
    if codec not in CODECS:
        raise MessageError(f"{_name(topic)}unsupported compression {codec!r}; supported: {list(CODECS)}")
    array = np.asarray(pixels)
    if array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8:
        encoding, stored, image = "rgb8", "bgr8", cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2BGR)
    elif array.ndim == 2 and array.dtype == np.uint8:
        encoding, stored, image = "mono8", "mono8", array
    elif array.ndim == 2 and array.dtype == np.uint16 and codec == "png":
        encoding, stored, image = "mono16", "mono16", array
    else:
        raise MessageError(
            f"{_name(topic)}{codec} needs RGB uint8 (H, W, 3) or mono8 (H, W)"
            f"{' or mono16 (H, W) uint16' if codec == 'png' else ''}, got {array.dtype} {array.shape}"
        )
    if array.size == 0:
        raise MessageError(f"{_name(topic)}cannot compress an empty image {array.shape}")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if codec == "jpeg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, encoded = cv2.imencode(".jpg" if codec == "jpeg" else ".png", np.ascontiguousarray(image), params)
    if not ok:
        raise MessageError(f"{_name(topic)}OpenCV could not {codec}-encode a {array.dtype} {array.shape} image")
    return classes.CompressedImage(
        header=classes.header(stamp_ns, frame_id),
        format=f"{encoding}; {codec} compressed {stored}",
        data=classes.uint8_array(encoded.tobytes()),
    )


def compressed_codec(msg: Any, *, topic: str | None = None) -> str:
    """"jpeg" or "png", from the data's signature; anything else raises :class:`MessageError`."""
    data = bytes(msg.data[:8]) if not isinstance(msg.data, np.ndarray) else msg.data[:8].tobytes()
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(JPEG_SIGNATURE):
        return "jpeg"
    raise EncodingError(
        f"{_name(topic)}compressed image (format {str(msg.format)!r}) is neither jpeg nor png "
        f"(first bytes {data.hex()})",
        topic=topic,
    )


def compressed_to_array(msg: Any, *, topic: str | None = None) -> NDArray[Any]:
    """Decoded pixels: RGB uint8 (H, W, 3) for colour, (H, W) uint8 or uint16 for mono images."""
    compressed_codec(msg, topic=topic)
    data = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MessageError(
            f"{_name(topic)}compressed image (format {str(msg.format)!r}) cannot be decoded", topic=topic
        )
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return np.asarray(image)


def compressed_to_rgb(msg: Any, *, topic: str | None = None) -> NDArray[np.uint8]:
    """A compressed colour or mono8 image as RGB uint8 (H, W, 3)."""
    pixels = compressed_to_array(msg, topic=topic)
    if pixels.dtype != np.uint8:
        raise EncodingError(
            f"{_name(topic)}expected an 8-bit image, the compressed data holds {pixels.dtype}", topic=topic
        )
    return pixels if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2)


def any_image_to_rgb(msg: Any, *, topic: str | None = None) -> NDArray[np.uint8]:
    """RGB uint8 (H, W, 3) of a sensor_msgs/Image or sensor_msgs/CompressedImage (told apart by ``format``)."""
    if hasattr(msg, "format") and not hasattr(msg, "encoding"):
        return compressed_to_rgb(msg, topic=topic)
    return image_to_rgb(msg, topic=topic)
