"""Readers, batching and augmentation of ``jaxcnn.data`` on files the tests write."""

import gzip
import struct

import jax
import numpy as np
import pytest
from PIL import Image

from jaxcnn import data


def write_idx(path, array, type_code=0x08, compress=False):
    """Writes an IDX file by hand (big-endian header), independent of the reader."""
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[type_code]
    payload = header + array.astype(dtype).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    # The file name says nothing about compression: detection is by content.
    got = data.read_idx(write_idx(tmp_path / "images", images, compress=compress))
    assert got.dtype == np.uint8 and got.shape == (5, 4, 3)
    np.testing.assert_array_equal(got, images)


def test_read_idx_labels_and_other_types(tmp_path):
    labels = np.array([9, 0, 3], np.uint8)
    np.testing.assert_array_equal(
        data.read_idx(write_idx(tmp_path / "l", labels)), labels
    )
    shorts = np.array([[-2, 300], [7, 0]], np.int16)
    got = data.read_idx(write_idx(tmp_path / "s", shorts, 0x0B))
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, shorts)
    floats = np.array([1.5, -2.25], np.float32)
    np.testing.assert_array_equal(
        data.read_idx(write_idx(tmp_path / "f", floats, 0x0D)), floats
    )


def test_read_idx_known_bytes(tmp_path):
    # A 2x2 uint8 array written out byte by byte.
    raw = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 255])
    (tmp_path / "x").write_bytes(raw)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x"), [[1, 2], [3, 255]])


@pytest.mark.parametrize(
    "raw, match",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "magic"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "need 3 data bytes"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "holds 2"),
        (b"\x1f\x8bnot gzip", "gzip"),
        (b"", "magic"),
    ],
)
def test_read_idx_rejects_bad_files(tmp_path, raw, match):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(ValueError, match=match):
        data.read_idx(tmp_path / "bad")


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="path"):
        data.read_idx(tmp_path / "nope.gz")


def write_cifar(path, images, labels):
    """CIFAR-10 binary records: label byte, then the R, G and B planes."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    records = np.concatenate([labels[:, None].astype(np.uint8), planes], axis=1)
    path.write_bytes(records.astype(np.uint8).tobytes())
    return path


def test_read_cifar10_batch_layout(tmp_path):
    images = np.zeros((2, 32, 32, 3), np.uint8)
    images[0, 0, 1, 0] = 200  # red, row 0, column 1
    images[1, 31, 0, 2] = 7  # blue, last row, column 0
    got_x, got_y = data.read_cifar10_batch(
        write_cifar(tmp_path / "b.bin", images, np.array([3, 9]))
    )
    assert got_x.shape == (2, 32, 32, 3) and got_x.dtype == np.uint8
    np.testing.assert_array_equal(got_x, images)
    np.testing.assert_array_equal(got_y, [3, 9])
    # The byte right after the label is the red value of pixel (0, 0).
    raw = (tmp_path / "b.bin").read_bytes()
    assert raw[0] == 3 and raw[2] == 200


def test_load_cifar10_splits(tmp_path):
    rng = np.random.default_rng(1)
    parts = []
    for i in (1, 2):
        x = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, 3).astype(np.uint8)
        write_cifar(tmp_path / f"data_batch_{i}.bin", x, y)
        parts.append((x, y))
    write_cifar(tmp_path / "test_batch.bin", parts[0][0][:1], parts[0][1][:1])
    x, y = data.load_cifar10(tmp_path, "train")
    np.testing.assert_array_equal(x, np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(y, np.concatenate([p[1] for p in parts]))
    assert data.load_cifar10(tmp_path, "test")[0].shape == (1, 32, 32, 3)
    with pytest.raises(ValueError, match="split"):
        data.load_cifar10(tmp_path, "val")
    with pytest.raises(FileNotFoundError, match="data_dir"):
        data.load_cifar10(tmp_path / "none")


def test_read_cifar10_rejects_bad_sizes_and_labels(tmp_path):
    (tmp_path / "short.bin").write_bytes(bytes(3072))
    with pytest.raises(ValueError, match="3073-byte records"):
        data.read_cifar10_batch(tmp_path / "short.bin")
    (tmp_path / "label.bin").write_bytes(bytes([10]) + bytes(3072))
    with pytest.raises(ValueError, match="labels must be < 10"):
        data.read_cifar10_batch(tmp_path / "label.bin")


def make_folder(root, sizes=((6, 5), (6, 5), (6, 5))):
    rng = np.random.default_rng(2)
    expected = []
    for label, (name, size) in enumerate(
        zip(("cat", "dog", "owl"), sizes, strict=True)
    ):
        (root / name).mkdir(parents=True)
        img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(img).save(root / name / "a.png")
        expected.append((img, label))
    return expected


def test_read_image_folder(tmp_path):
    expected = make_folder(tmp_path)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden").mkdir()
    gray = np.full((6, 5), 77, np.uint8)
    Image.fromarray(gray).save(tmp_path / "owl" / "b.png")
    images, labels, classes = data.read_image_folder(tmp_path)
    assert classes == ("cat", "dog", "owl")
    np.testing.assert_array_equal(labels, [0, 1, 2, 2])
    assert images.shape == (4, 6, 5, 3) and images.dtype == np.uint8
    for i, (img, _) in enumerate(expected):
        np.testing.assert_array_equal(images[i], img)
    np.testing.assert_array_equal(images[3], np.full((6, 5, 3), 77))


def test_read_image_folder_sizes(tmp_path):
    make_folder(tmp_path, sizes=((6, 5), (4, 4), (6, 5)))
    with pytest.raises(ValueError, match="size"):
        data.read_image_folder(tmp_path)
    images, _, _ = data.read_image_folder(tmp_path, size=(3, 2))
    assert images.shape == (3, 3, 2, 3)


def test_read_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="root"):
        data.read_image_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no class folder"):
        data.read_image_folder(tmp_path)
    (tmp_path / "empty" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(ValueError, match="broken.png"):
        data.read_image_folder(tmp_path)


def test_batch_iterator_epochs_are_permutations():
    x = np.arange(10)
    it = data.BatchIterator((x, x * 2), 3, seed=5)
    assert it.steps_per_epoch == 3
    seen = np.concatenate([it.batch(s)[0] for s in range(3)])
    assert len(set(seen.tolist())) == 9  # 9 distinct of 10: the remainder is dropped
    for s in range(6):
        xs, ys = it.batch(s)
        np.testing.assert_array_equal(ys, xs * 2)  # arrays stay aligned
    assert not np.array_equal(it.order(0), it.order(1))


def test_batch_iterator_is_resumable_and_seeded():
    x = np.arange(50)
    full = [b for b in data.BatchIterator(x, 8, seed=1)(0, 20)]
    resumed = list(data.BatchIterator(x, 8, seed=1)(13, 7))
    for a, b in zip(full[13:], resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    other = data.BatchIterator(x, 8, seed=2).batch(0)
    assert not np.array_equal(other, full[0])


def test_batch_iterator_keep_remainder_and_no_shuffle():
    it = data.BatchIterator(np.arange(7), 3, shuffle=False, drop_remainder=False)
    assert it.steps_per_epoch == 3
    np.testing.assert_array_equal(it.batch(2), [6])
    np.testing.assert_array_equal(it.batch(3), [0, 1, 2])


def test_batch_iterator_errors():
    with pytest.raises(ValueError, match="leading axis"):
        data.BatchIterator((np.zeros(3), np.zeros(4)), 2)
    with pytest.raises(ValueError, match="batch_size"):
        data.BatchIterator(np.zeros(3), 4)
    with pytest.raises(ValueError, match="batch_size"):
        data.BatchIterator(np.zeros(3), 0)
    with pytest.raises(ValueError, match="step"):
        data.BatchIterator(np.zeros(3), 1).batch(-1)


def test_random_crop_takes_windows_of_the_padded_image():
    n, h, w = 16, 5, 6
    images = np.arange(n * h * w, dtype=np.float32).reshape(n, h, w, 1) + 1
    crops = np.asarray(
        data.random_crop(jax.random.PRNGKey(0), images, (3, 4), padding=1)
    )
    assert crops.shape == (n, 3, 4, 1)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    offsets = set()
    for i in range(n):
        windows = [
            (y, x)
            for y in range(h + 2 - 3 + 1)
            for x in range(w + 2 - 4 + 1)
            if np.array_equal(padded[i, y : y + 3, x : x + 4], crops[i])
        ]
        assert windows, f"crop {i} is not a window of its padded image"
        offsets.add(windows[0])
    assert len(offsets) > 1  # positions vary between images


def test_random_crop_full_size_is_identity_and_errors():
    images = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype(np.float32)
    same = data.random_crop(jax.random.PRNGKey(1), images, 4)
    np.testing.assert_array_equal(same, images)
    with pytest.raises(ValueError, match="size"):
        data.random_crop(jax.random.PRNGKey(1), images, 5)
    with pytest.raises(ValueError, match="images"):
        data.random_crop(jax.random.PRNGKey(1), images[0], 2)
    with pytest.raises(ValueError, match="padding"):
        data.random_crop(jax.random.PRNGKey(1), images, 2, padding=-1)


def test_random_flip_mirrors_some_images():
    images = np.random.default_rng(0).normal(size=(32, 3, 4, 2)).astype(np.float32)
    out = np.asarray(data.random_flip(jax.random.PRNGKey(3), images))
    same = [np.array_equal(o, i) for o, i in zip(out, images, strict=True)]
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images, strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert any(same) and any(mirrored)
    vertical = np.asarray(
        data.random_flip(jax.random.PRNGKey(3), images, axis="vertical")
    )
    assert any(
        np.array_equal(o, i[::-1]) for o, i in zip(vertical, images, strict=True)
    )
    with pytest.raises(ValueError, match="axis"):
        data.random_flip(jax.random.PRNGKey(3), images, axis="diagonal")


def test_augmentations_jit():
    images = np.ones((2, 6, 6, 1), np.float32)
    f = jax.jit(lambda k, x: data.random_flip(k, data.random_crop(k, x, 4, padding=2)))
    assert f(jax.random.PRNGKey(0), images).shape == (2, 4, 4, 1)


# ---------------------------------------------------------------------------
# Fashion-MNIST and the dataset lookup


def write_fashion(root, n_train=3, n_test=2, compress=True, side=28):
    """The four Fashion-MNIST IDX files with random pixels; returns the arrays."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    arrays = {}
    for prefix, split, n in (("train", "train", n_train), ("t10k", "test", n_test)):
        x = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", x, compress=compress)
        write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", y, compress=compress)
        arrays[split] = (x, y)
    return arrays


@pytest.fixture
def no_search(monkeypatch, tmp_path):
    """No $JAXCNN_DATA and no system folder: the search finds nothing."""
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setitem(data.SYSTEM_DATA_DIRS, "fashion-mnist", (tmp_path / "sys",))


@pytest.mark.parametrize("compress", [True, False])
def test_load_fashion_mnist_round_trip(tmp_path, compress):
    arrays = write_fashion(tmp_path, compress=compress)
    for split in ("train", "test"):
        x, y = data.load_fashion_mnist(tmp_path, split)
        assert x.shape == (len(arrays[split][0]), 28, 28, 1) and x.dtype == np.uint8
        assert y.dtype == np.int32
        np.testing.assert_array_equal(x[..., 0], arrays[split][0])
        np.testing.assert_array_equal(y, arrays[split][1])


def test_load_fashion_mnist_prefers_gzip_and_checks_files(tmp_path):
    arrays = write_fashion(tmp_path)
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    write_idx(raw, np.array([9, 9], np.uint8))  # ignored: the .gz file wins
    np.testing.assert_array_equal(
        data.load_fashion_mnist(tmp_path, "test")[1], arrays["test"][1]
    )
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 3], np.uint8))
    with pytest.raises(ValueError, match="2 integer labels"):
        data.load_fashion_mnist(tmp_path, "test")
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 10], np.uint8))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\)"):
        data.load_fashion_mnist(tmp_path, "test")
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((3, 28), np.uint8))
    with pytest.raises(ValueError, match=r"\(N, H, W\) uint8 images"):
        data.load_fashion_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        data.load_fashion_mnist(tmp_path, "train")


def test_load_fashion_mnist_bad_arguments(tmp_path):
    write_fashion(tmp_path)
    with pytest.raises(ValueError, match="split"):
        data.load_fashion_mnist(tmp_path, "val")
    with pytest.raises(TypeError, match="split"):
        data.load_fashion_mnist(tmp_path, 0)
    with pytest.raises(TypeError, match="data_dir"):
        data.load_fashion_mnist(3, "train")
    with pytest.raises(FileNotFoundError, match="data_dir"):
        data.load_fashion_mnist(tmp_path / "none", "train")


def test_fashion_mnist_classes():
    # Xiao et al. (2017), Table 1: label 0 is T-shirt/top, 9 is Ankle boot.
    assert len(data.FASHION_MNIST_CLASSES) == 10
    assert data.FASHION_MNIST_CLASSES[0] == "T-shirt/top"
    assert data.FASHION_MNIST_CLASSES[5] == "Sandal"
    assert data.FASHION_MNIST_CLASSES[9] == "Ankle boot"


def test_find_dataset_explicit_dir_is_used_and_never_falls_back(tmp_path, monkeypatch):
    given, env = tmp_path / "given", tmp_path / "env"
    write_fashion(given, compress=False)  # raw files count too
    write_fashion(env)
    monkeypatch.setenv(data.DATA_ENV, str(env))
    assert data.find_dataset("fashion-mnist", given) == given
    assert data.find_dataset("fashion-mnist", str(given)) == given
    (given / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="data_dir") as err:
        data.find_dataset("fashion-mnist", given)  # env holds them: not used
    assert "lacks t10k-images-idx3-ubyte[.gz]" in str(err.value)
    assert str(given) in str(err.value)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        data.find_dataset("fashion-mnist", given / "train-images-idx3-ubyte")


def test_find_dataset_search_order(tmp_path, monkeypatch, no_search):
    root, system = tmp_path / "root", tmp_path / "sys"
    write_fashion(root / "fashion-mnist")
    write_fashion(system)
    assert data.find_dataset("fashion-mnist") == system  # no $JAXCNN_DATA
    monkeypatch.setenv(data.DATA_ENV, str(root))
    assert data.find_dataset("fashion-mnist") == root / "fashion-mnist"
    write_fashion(root)
    assert data.find_dataset("fashion-mnist") == root  # the folder itself first
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "elsewhere"))
    assert data.find_dataset("fashion-mnist") == system  # env lacks them
    monkeypatch.setenv(data.DATA_ENV, "")
    assert data.find_dataset("fashion-mnist") == system  # empty counts as unset


def test_find_dataset_cifar10(tmp_path, monkeypatch, no_search):
    batches = tmp_path / "cifar-10-batches-bin"
    batches.mkdir()
    with pytest.raises(FileNotFoundError, match="not set"):
        data.find_dataset("cifar-10")  # no env, and no system folder for it
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="cifar-10-binary.tar.gz"):
        data.find_dataset("cifar-10")
    for name in data.CIFAR10_TRAIN_FILES + data.CIFAR10_TEST_FILES:
        (batches / name).write_bytes(b"")
    assert data.find_dataset("cifar-10") == batches
    monkeypatch.setenv(data.DATA_ENV, str(batches))
    assert data.find_dataset("cifar-10") == batches
    assert data.find_dataset("cifar-10", batches) == batches


@pytest.mark.parametrize("absent", ["data_batch_1.bin", "data_batch_5.bin"])
def test_find_dataset_cifar10_needs_every_batch(
    tmp_path, monkeypatch, no_search, absent
):
    """A folder lacking a training batch is not CIFAR-10, even with the test one."""
    for name in data.CIFAR10_TRAIN_FILES + data.CIFAR10_TEST_FILES:
        if name != absent:
            (tmp_path / name).write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="data_dir") as err:
        data.find_dataset("cifar-10", tmp_path)
    assert str(err.value).count(".bin") == 1 and f"lacks {absent}." in str(err.value)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not found in"):
        data.find_dataset("cifar-10")  # nor is it found by the search
    (tmp_path / absent).write_bytes(b"")
    assert data.find_dataset("cifar-10", tmp_path) == tmp_path


def test_find_dataset_error_says_where_it_looked_and_how_to_get(
    tmp_path, monkeypatch, no_search
):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "d"))
    with pytest.raises(FileNotFoundError) as err:
        data.find_dataset("fashion-mnist")
    message = str(err.value)
    assert message.startswith("Fashion-MNIST files not found in ")
    for where in ("d", "d/fashion-mnist", "sys"):
        assert repr(str(tmp_path / where)) in message
    assert "github.com/zalandoresearch/fashion-mnist" in message
    assert "dataset-fashion-mnist" in message and "/usr/share/datasets" in message
    assert "data_dir" in message and "--data-dir" in message
    assert f"JAXCNN_DATA is {str(tmp_path / 'd')!r}" in message


def test_find_dataset_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="name"):
        data.find_dataset("mnist", tmp_path)
    with pytest.raises(TypeError, match="name"):
        data.find_dataset(None, tmp_path)
    with pytest.raises(TypeError, match="data_dir"):
        data.find_dataset("cifar-10", 3)
