"""Every MTCNN constant in one place, each with its source.

Sources (short names as in the project's specification digest):

* [paper]: Zhang, Zhang, Li, Qiao, "Joint Face Detection and Alignment using
  Multi-task Cascaded Convolutional Networks", IEEE SPL 2016, arXiv 1604.02878.
* [matlab]: the authors' release, ``code/codes/MTCNNv1/`` (``demo.m``,
  ``detect_face.m``, ``generateBoundingBox.m``, ``nms.m``, ``pad.m``,
  ``rerec.m``, ``bbreg.m``) and the ``det1-3.prototxt`` nets.
* [facenet-pytorch]: timesler/facenet-pytorch 2.6.0, whose outputs the
  conformance tests compare against.
* [ipazc]: the PyPI package ``mtcnn`` 1.0.0 (ipazc/mtcnn), which ships the
  weights that ``jaxcnn.mtcnn.weights`` reads.

Pixel arithmetic ("+1"), said once here: the reference pipeline works in
Matlab's 1-based, inclusive pixel indices, so a box ``(x1, y1, x2, y2)``
covers columns ``x1 .. x2`` and is ``x2 - x1 + 1`` wide. Inside the cascade,
``jaxcnn.mtcnn.pipeline`` keeps that convention where the reference uses it:
in ``bbreg`` calibration after R-Net and O-Net, in the crop boxes (truncated,
inclusive) and in landmark decoding. NMS is the exception: the reference uses
+1 in all four, ``PLUS_ONE_NMS`` only in the final one, as facenet-pytorch.
P-Net calibration uses no +1 ([matlab] ``detect_face.m``). Boxes leave the
pipeline converted to the package's continuous coordinates, ``[x1 - 1, x2)``
(see ``jaxcnn``'s shape legend); landmarks already come out 0-based and are
not shifted.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class MTCNNDefaults:
    """Default detector settings.

    Attributes:
      min_face_size: smallest face side in pixels searched for ("minsize").
        [matlab] ``demo.m``; [facenet-pytorch] default.
      scale_factor: ratio between pyramid levels ("factor"). [matlab] ``demo.m``.
      thresholds: face-probability thresholds of P-Net, R-Net and O-Net. P-Net
        keeps ``p >= t1``, R-Net and O-Net keep ``p > t``. [matlab] ``demo.m``,
        ``detect_face.m``.
      nms_thresholds: overlap thresholds of the four NMS passes: P-Net within
        one scale (union), P-Net across scales (union), R-Net (union) and O-Net
        (intersection over the smaller box). [matlab] ``detect_face.m``.
    """

    min_face_size: float = 20.0
    scale_factor: float = 0.709
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    nms_thresholds: tuple[float, float, float, float] = (0.5, 0.7, 0.7, 0.7)


DEFAULTS = MTCNNDefaults()

# P-Net heat map geometry: output cell (r, c) looks at a 12x12 window starting
# at pixel (2r, 2c) of the scaled image. [matlab] generateBoundingBox.m
PNET_STRIDE = 2
PNET_CELL = 12
# Input sides of R-Net and O-Net. [matlab] det2/det3.prototxt, detect_face.m
RNET_SIZE = 24
ONET_SIZE = 48
# Input normalisation: (pixel - 127.5) * 0.0078125 on RGB in [0, 255].
# [matlab] detect_face.m
PIXEL_MEAN = 127.5
PIXEL_SCALE = 0.0078125
# Whether each NMS measures overlap on inclusive pixel boxes (areas
# (x2-x1+1)(y2-y1+1)) or on continuous ones (x2-x1)(y2-y1); in order: P-Net
# within a scale, P-Net across scales, after R-Net, after O-Net ("min").
# [matlab] nms.m uses +1 in all four; [facenet-pytorch] detect_face.py only in
# the last (its numpy nms), torchvision's batched_nms in the first three. The
# choice moves boxes: on the astronaut resized to 128x128 the +1 everywhere
# keeps a different box (IoU 0.81 with facenet-pytorch's). jaxcnn follows
# facenet-pytorch, so that its outputs match the conformance anchors on every
# image, not only on the four test photos. The anchors pin the first three
# entries; no test image found so far depends on the last one (it follows
# facenet-pytorch's code).
PLUS_ONE_NMS = (False, False, False, True)
# R-Net and O-Net crops of boxes that leave the image. The peers differ:
# - "zero": the crop is zero-padded as the nets see it, after normalisation,
#   so pixels outside read as PIXEL_MEAN ([ipazc] mtcnn/utils/images.py
#   extract_patches: tf.image.crop_and_resize of the normalised image, whose
#   extrapolation value is 0).
# - "black": zero-padded before normalisation, pixel value 0, which the nets
#   see as -0.996 ([matlab] pad.m).
# - "clip": only the part inside the image is cropped and stretched to the
#   box's size ([facenet-pytorch] detect_face.py pad()).
# All three agree for boxes inside the image and on the four scikit-image
# photos. They differ where most boxes leave the image: on scikit-image's
# lfw_subset (faces upscaled to 100x100) "zero" and "clip" find 97 of 100
# faces and miss images 9, 30 and 83, exactly as the facenet-pytorch
# anchors; "black" finds 94 (it also misses 28, 32 and 86). None boxes a
# non-face. Default "zero": zero padding, and the anchors' counts.
CROP_BORDER = "zero"
# Pixel value (before normalisation) of the outside of a crop, per border.
# "clip" boxes never leave the image, so its value is never read.
CROP_FILL = {"zero": PIXEL_MEAN, "black": 0.0, "clip": 0.0}
# Largest image side detect() accepts. Pyramid levels and crops are averaged
# from an int32 fixed-point integral image (jaxcnn.boxes.integral_image), exact
# for bins up to 725x725 pixels; the coarsest level's bins are about
# min(H, W) / 12 pixels wide and R-Net's are box side / 24, so 8192 keeps every
# bin below 700. Our limit, not the papers'.
MAX_IMAGE_SIDE = 8192
# O-Net landmarks and box regression use the O-Net input box before its
# truncation to integers, as [facenet-pytorch] (whose numbers the tests
# match); [matlab] detect_face.m truncates first (fix before pad), which moves
# boxes and landmarks by up to 1 px.
# Resampling of the pyramid and of the crops: "area" (integer-bin averaging,
# torch's interpolate(mode="area")), as [facenet-pytorch]. [matlab] resamples
# bilinearly; the weights do not depend on it.
RESAMPLE = "area"
# Pyramid level size: int(side * scale + 1). [facenet-pytorch]; [matlab] uses
# ceil(side * scale), which differs only when side * scale is an integer.

# Loss weights alpha_det, alpha_box, alpha_landmark per net. [paper] Sec. II-C-4
LOSS_WEIGHTS = {
    "pnet": (1.0, 0.5, 0.5),
    "rnet": (1.0, 0.5, 0.5),
    "onet": (1.0, 0.5, 1.0),
}
# Online hard sample mining keeps the hardest 70% of the classification
# losses in each mini-batch. [paper] Sec. II-C-5
OHEM_KEEP = 0.7
# O-Net dropout ratio before prelu5, training only. [matlab] det3.prototxt
ONET_DROPOUT = 0.25
# Parameter counts of the released nets. [paper]-consistent; counted from
# [matlab] det1-3.prototxt.
PARAM_COUNTS = {"pnet": 6632, "rnet": 100178, "onet": 389040}
