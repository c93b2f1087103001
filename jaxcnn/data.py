"""Datasets on disk, batching and augmentation.

Readers return NumPy arrays in the package layout (see ``jaxcnn`` for the shape
legend): images ``(N, H, W, C)`` ``uint8``, labels ``(N,)``. Nothing here
unpickles: CIFAR-10 is read from its binary format, IDX files byte by byte.

* ``read_idx``: MNIST-style IDX files (Fashion-MNIST too), gzipped or raw.
* ``read_cifar10_batch`` / ``load_cifar10``: the CIFAR-10 *binary* version.
* ``load_fashion_mnist``: a Fashion-MNIST split from its four IDX files.
* ``find_dataset``: where a named dataset is on disk (the argument, then
  ``$JAXCNN_DATA``, then a system folder), with instructions when it is absent.
* ``read_image_folder``: one sub-directory per class, images read with Pillow.
* ``BatchIterator``: seeded shuffling batches whose position is a single step
  number, so a run resumes exactly where it stopped.
* ``random_crop`` / ``random_flip``: per-example augmentation, pure JAX.
"""

import gzip
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcnn import _checks
from jaxcnn._datasets import (
    CIFAR10_TEST_FILES,
    CIFAR10_TRAIN_FILES,
    DATA_ENV,
    FASHION_MNIST_FILES,
    SYSTEM_DATA_DIRS,
    find_dataset,
    idx_file,
)

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_TEST_FILES",
    "CIFAR10_TRAIN_FILES",
    "DATA_ENV",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FILES",
    "IDX_DTYPES",
    "IMAGE_SUFFIXES",
    "SYSTEM_DATA_DIRS",
    "BatchIterator",
    "find_dataset",
    "load_cifar10",
    "load_fashion_mnist",
    "random_crop",
    "random_flip",
    "read_cifar10_batch",
    "read_idx",
    "read_image_folder",
]

# IDX type codes -> big-endian NumPy dtypes (LeCun et al., the MNIST page,
# "THE IDX FILE FORMAT").
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"

# CIFAR-10 binary layout (Krizhevsky, "Learning Multiple Layers of Features from
# Tiny Images", 2009; the dataset page's "Binary version"): each record is one
# label byte then 3 x 32 x 32 bytes, the red plane, then green, then blue, each
# plane row-major.
CIFAR10_SIDE = 32
CIFAR10_RECORD = 1 + 3 * CIFAR10_SIDE * CIFAR10_SIDE
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

# Fashion-MNIST's label names by class id (Xiao, Rasul and Vollgraf, 2017,
# arXiv:1708.07747, Table 1).
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _read_bytes(path, name: str) -> bytes:
    """Reads a whole file, gunzipping it when it starts with the gzip magic."""
    path = Path(_checks.check_path(path, name))
    if not path.is_file():
        raise FileNotFoundError(f"{name}: no such file: {str(path)!r}")
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(
                f"{name}: {str(path)!r} starts like gzip but does not decompress: {err}"
            ) from None
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (the MNIST / Fashion-MNIST format), gzipped or raw.

    The format: two zero bytes, a type code (``0x08`` unsigned byte, ``0x09``
    signed byte, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E``
    float64), the number of dimensions ``d``, then ``d`` big-endian uint32 sizes,
    then the data in C order. Gzip is detected from the file's first bytes, not
    from its name.

    Args:
      path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
      The array with the stored shape, e.g. images ``(N, 28, 28)`` and labels
      ``(N,)`` as ``uint8`` for (Fashion-)MNIST; other type codes give the
      matching native-endian dtype.

    Raises:
      FileNotFoundError: if ``path`` is not a file.
      ValueError: if the magic number, the dimensions or the data size are wrong,
        naming ``path`` and what was found.
    """
    raw = _read_bytes(path, "path")
    where = f"path {str(path)!r}"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(
            f"{where} is not an IDX file: expected magic bytes 00 00 <type> <ndim> "
            f"with type in {sorted(hex(t) for t in IDX_DTYPES)}; got {raw[:4].hex(' ')}"
        )
    dtype, ndim = IDX_DTYPES[raw[2]], raw[3]
    if ndim < 1:
        raise ValueError(f"{where}: IDX header says 0 dimensions; expected >= 1")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{where}: truncated IDX header ({len(raw)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{where}: IDX dimensions {dims} need {expected} data bytes; "
            f"the file holds {len(raw) - header}"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def read_cifar10_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Reads one CIFAR-10 binary batch file (e.g. ``data_batch_1.bin``).

    Never unpickles: only the binary version of the dataset is read.

    Args:
      path: the file, raw or gzipped.

    Returns:
      ``(images, labels)``: ``(N, 32, 32, 3)`` ``uint8`` RGB and ``(N,)``
      ``uint8`` class ids in ``[0, 10)`` (names in ``CIFAR10_CLASSES``).

    Raises:
      FileNotFoundError: if ``path`` is not a file.
      ValueError: if the size is not a multiple of the 3073-byte record or a
        label is not below 10.
    """
    raw = _read_bytes(path, "path")
    if len(raw) == 0 or len(raw) % CIFAR10_RECORD:
        raise ValueError(
            f"path {str(path)!r}: a CIFAR-10 binary batch is a whole number of "
            f"{CIFAR10_RECORD}-byte records; got {len(raw)} bytes"
        )
    records = np.frombuffer(raw, np.uint8).reshape(-1, CIFAR10_RECORD)
    labels = records[:, 0].copy()
    if labels.max() >= len(CIFAR10_CLASSES):
        raise ValueError(
            f"path {str(path)!r}: CIFAR-10 labels must be < 10; got {labels.max()}"
        )
    planes = records[:, 1:].reshape(-1, 3, CIFAR10_SIDE, CIFAR10_SIDE)
    return np.ascontiguousarray(planes.transpose(0, 2, 3, 1)), labels


def load_cifar10(
    data_dir: str | os.PathLike, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Reads the CIFAR-10 training or test split from its binary files.

    Args:
      data_dir: the directory holding ``data_batch_1.bin`` ... ``data_batch_5.bin``
        and ``test_batch.bin`` (the ``cifar-10-batches-bin`` folder). Training
        batch files that are absent are skipped, but at least one must exist.
      split: ``"train"`` or ``"test"``.

    Returns:
      ``(images, labels)`` as in ``read_cifar10_batch``, concatenated.
    """
    _checks.check_choice(split, "split", ("train", "test"))
    data_dir = Path(_checks.check_path(data_dir, "data_dir"))
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data_dir: no such directory: {str(data_dir)!r}")
    names = CIFAR10_TRAIN_FILES if split == "train" else CIFAR10_TEST_FILES
    files = [data_dir / n for n in names if (data_dir / n).is_file()]
    if not files:
        raise FileNotFoundError(
            f"data_dir {str(data_dir)!r} holds none of {names} (the CIFAR-10 "
            "binary version, cifar-10-binary.tar.gz, unpacked)"
        )
    parts = [read_cifar10_batch(f) for f in files]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def load_fashion_mnist(
    data_dir: str | os.PathLike, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Reads the Fashion-MNIST training or test split from its IDX files.

    Args:
      data_dir: the folder holding ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte``, each gzipped (with ``.gz``, preferred when
        both exist) or raw; e.g. what ``find_dataset("fashion-mnist")`` returns.
      split: ``"train"`` (60,000 images) or ``"test"`` (10,000).

    Returns:
      ``(images, labels)``: ``(N, 28, 28, 1)`` ``uint8`` grey levels and
      ``(N,)`` ``int32`` class ids in ``[0, 10)`` (names in
      ``FASHION_MNIST_CLASSES``). Files of the same format with another image
      size are read as they are.

    Raises:
      FileNotFoundError: if ``data_dir`` is not a folder or lacks a file of the
        split.
      ValueError: if a file is not IDX, the images are not ``(N, H, W)``
        ``uint8``, the labels not ``(N,)`` integers below 10.
    """
    if not isinstance(split, str):
        raise TypeError(f"split must be 'train' or 'test'; got {split!r}")
    _checks.check_choice(split, "split", ("train", "test"))
    data_dir = Path(_checks.check_path(data_dir, "data_dir"))
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data_dir: no such directory: {str(data_dir)!r}")
    paths = []
    for stem in FASHION_MNIST_FILES[split]:
        path = idx_file(data_dir, stem)
        if path is None:
            raise FileNotFoundError(
                f"data_dir {str(data_dir)!r} holds neither {stem}.gz nor {stem} "
                "(Fashion-MNIST, see find_dataset)"
            )
        paths.append(path)
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"data_dir: {str(paths[0])!r} must hold (N, H, W) uint8 images; got "
            f"shape {images.shape} {images.dtype}"
        )
    if labels.shape != images.shape[:1] or labels.dtype.kind not in "ui":
        raise ValueError(
            f"data_dir: {str(paths[1])!r} must hold {images.shape[0]} integer "
            f"labels; got shape {labels.shape} {labels.dtype}"
        )
    k = len(FASHION_MNIST_CLASSES)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(
            f"data_dir: {str(paths[1])!r}: Fashion-MNIST labels must be in "
            f"[0, {k}); got [{labels.min()}, {labels.max()}]"
        )
    return images[..., None], labels.astype(np.int32)


def read_image_folder(
    root: str | os.PathLike, *, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Reads a directory with one sub-directory of images per class.

    Classes are the sub-directory names in sorted order; files whose suffix is
    not an image suffix (``IMAGE_SUFFIXES``) and hidden files are skipped.
    Images are converted to RGB.

    Args:
      root: the directory, e.g. ``root/cat/1.png``, ``root/dog/a.jpg``.
      size: ``(H, W)`` to resize every image to (bilinear); without it all
        images must already have one size.

    Returns:
      ``(images, labels, class_names)``: ``(N, H, W, 3)`` ``uint8``, ``(N,)``
      ``int32`` indices into ``class_names``.

    Raises:
      FileNotFoundError: if ``root`` is not a directory or holds no images.
      ValueError: if a file cannot be decoded, or sizes differ without ``size``.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(_checks.check_path(root, "root"))
    if not root.is_dir():
        raise FileNotFoundError(f"root: no such directory: {str(root)!r}")
    if size is not None:
        size = _checks.as_tuple(size, 2, "size")
        _checks.check_positive(size, "size")
    classes = tuple(sorted(d.name for d in root.iterdir() if _visible_dir(d)))
    images, labels = [], []
    for label, name in enumerate(classes):
        for file in sorted((root / name).iterdir()):
            if file.name.startswith(".") or file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(file) as img:
                    img = img.convert("RGB")
                    if size is not None:
                        img = img.resize((size[1], size[0]), Image.BILINEAR)
                    images.append(np.asarray(img, np.uint8))
            except (
                UnidentifiedImageError,
                OSError,
                Image.DecompressionBombError,
            ) as err:
                raise ValueError(
                    f"root: cannot read image {str(file)!r}: {err}"
                ) from None
            labels.append(label)
    if not images:
        raise FileNotFoundError(f"root {str(root)!r} holds no class folder with images")
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"root {str(root)!r}: images have different sizes {sorted(shapes)}; "
            "pass size=(H, W) to resize them"
        )
    return np.stack(images), np.asarray(labels, np.int32), classes


def _visible_dir(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith(".")


class BatchIterator:
    """Seeded, shuffling mini-batches whose position is one global step number.

    Epoch ``e`` visits the examples in the order ``np.random.default_rng((seed,
    e)).permutation(n)``; step ``s`` is batch ``s % steps_per_epoch`` of epoch
    ``s // steps_per_epoch``. Because the order depends only on ``(seed, step)``,
    a training run restores its data position from the step number in its
    checkpoint and sees exactly the batches an uninterrupted run would.

    Args:
      arrays: arrays with one leading axis of equal length ``n`` (e.g. images
        and labels); a dict or tuple of them.
      batch_size: examples per batch.
      seed: the shuffling seed.
      shuffle: if False, every epoch uses the order ``0..n-1``.
      drop_remainder: if True (default) the last partial batch of an epoch is
        dropped, so every batch has ``batch_size`` examples (one compiled step).
    """

    def __init__(
        self,
        arrays,
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        drop_remainder: bool = True,
    ):
        leaves = jax.tree_util.tree_leaves(arrays)
        if not leaves:
            raise ValueError("arrays must hold at least one array; got none")
        lengths = {np.shape(a)[0] if np.ndim(a) else None for a in leaves}
        if len(lengths) != 1 or None in lengths:
            raise ValueError(
                "arrays must share one leading axis length; got "
                f"{sorted(map(str, lengths))}"
            )
        self.num_examples = lengths.pop()
        _checks.check_positive(
            _checks.as_tuple(batch_size, 1, "batch_size"), "batch_size"
        )
        if drop_remainder and batch_size > self.num_examples:
            raise ValueError(
                f"batch_size ({batch_size}) must be <= the number of examples "
                f"({self.num_examples}) when drop_remainder is True"
            )
        self.arrays, self.batch_size, self.seed = arrays, int(batch_size), int(seed)
        self.shuffle, self.drop_remainder = shuffle, drop_remainder

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(self.num_examples, self.batch_size)
        return full if self.drop_remainder or not rest else full + 1

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of ``epoch``, ``(n,)`` int64."""
        if not self.shuffle:
            return np.arange(self.num_examples)
        return np.random.default_rng((self.seed, int(epoch))).permutation(
            self.num_examples
        )

    def batch(self, step: int):
        """The batch of global step ``step`` (same structure as ``arrays``)."""
        if step < 0:
            raise ValueError(f"step must be >= 0; got {step}")
        epoch, index = divmod(int(step), self.steps_per_epoch)
        take = self.order(epoch)[
            index * self.batch_size : (index + 1) * self.batch_size
        ]
        return jax.tree_util.tree_map(lambda a: np.asarray(a)[take], self.arrays)

    def __call__(self, start_step: int = 0, num_steps: int | None = None) -> Iterator:
        """Yields ``batch(s)`` for ``s = start_step, start_step + 1, ...``."""
        step = int(start_step)
        stop = None if num_steps is None else step + int(num_steps)
        while stop is None or step < stop:
            yield self.batch(step)
            step += 1


def random_flip(key: jax.Array, images: jax.Array, *, axis: str = "horizontal"):
    """Flips each image with probability 1/2 (pure, jit-able).

    Args:
      key: a PRNG key.
      images: ``(N, H, W, C)``.
      axis: ``"horizontal"`` (mirror left-right) or ``"vertical"``.

    Returns:
      ``(N, H, W, C)``, same dtype.
    """
    _checks.check_key(key, "key")
    _checks.check_real_array(images, "images")
    _checks.check_rank(images, "images", 4, "(N, H, W, C)")
    _checks.check_choice(axis, "axis", ("horizontal", "vertical"))
    images = jnp.asarray(images)
    flip = jax.random.bernoulli(key, 0.5, (images.shape[0], 1, 1, 1))
    flipped = jnp.flip(images, axis=2 if axis == "horizontal" else 1)
    return jnp.where(flip, flipped, images)


def random_crop(
    key: jax.Array,
    images: jax.Array,
    size: int | Sequence[int],
    *,
    padding: int | Sequence[int] = 0,
):
    """Crops each image at a random position (pure, jit-able).

    With ``padding=p`` the images are first zero-padded by ``p`` pixels on each
    side, then a ``size`` window is taken at a uniformly drawn offset per image:
    the usual "pad 4, crop 32" CIFAR augmentation (He et al., 2016, §4.2).

    Args:
      key: a PRNG key.
      images: ``(N, H, W, C)``.
      size: ``(h, w)`` of the crop (an int for square), at most the padded size.
      padding: zero padding per side, an int or ``(pad_h, pad_w)``.

    Returns:
      ``(N, h, w, C)``, same dtype.
    """
    _checks.check_key(key, "key")
    _checks.check_real_array(images, "images")
    _checks.check_rank(images, "images", 4, "(N, H, W, C)")
    images = jnp.asarray(images)
    h, w = _checks.as_tuple(size, 2, "size")
    ph, pw = _checks.as_tuple(padding, 2, "padding")
    _checks.check_positive((h, w), "size")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0; got {(ph, pw)}")
    n, height, width, c = images.shape
    padded_hw = (height + 2 * ph, width + 2 * pw)
    if h > padded_hw[0] or w > padded_hw[1]:
        raise ValueError(f"size {(h, w)} must fit in the padded image {padded_hw}")
    padded = jnp.pad(images, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    ky, kx = jax.random.split(key)
    ys = jax.random.randint(ky, (n,), 0, height + 2 * ph - h + 1)
    xs = jax.random.randint(kx, (n,), 0, width + 2 * pw - w + 1)

    def crop(img, y, x):
        return lax.dynamic_slice(img, (y, x, 0), (h, w, c))

    return jax.vmap(crop)(padded, ys, xs)
