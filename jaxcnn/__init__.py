"""jaxcnn: convolutional networks as pure JAX functions.

Shape legend (the one layout used everywhere in the package):

=========  ===============================================================
symbol     meaning
=========  ===============================================================
N          batch size
H, W       height and width in pixels (rows, columns)
C          channels (input channels of a kernel: I; output channels: O)
D          depth, for 3-D data
K          number of boxes, detections or classes (said where used)
=========  ===============================================================

* Activations are channels-last: ``(N, W, C)`` in 1-D, ``(N, H, W, C)`` in 2-D
  and ``(N, D, H, W, C)`` in 3-D ("NHWC").
* Kernels are ``(kH, kW, I / groups, O)`` ("HWIO"), with one spatial axis more or
  less for 3-D and 1-D.
* Images are ``(H, W, 3)`` or ``(N, H, W, 3)`` RGB, ``uint8`` in [0, 255] or float.
* Boxes are ``(K, 4)`` as ``(x1, y1, x2, y2)`` in pixels, continuous coordinates:
  a box covers ``x1 <= x < x2``, area ``(x2 - x1) * (y2 - y1)``.
* Landmarks are ``(K, 5, 2)`` as ``(x, y)`` in pixels.
"""

__version__ = "0.1.0"
