"""Bad files through the readers and the CLI (issue 5).

Readers (``jaxcnn.images.load`` and the ``jaxcnn.data`` readers) must answer a
non-image, empty, truncated (PNG and JPEG), zero-size or huge-header file, a
missing path, a directory and an unreadable file with a documented exception
whose message names the path (never a ``MemoryError`` or a Pillow internal).

The CLI (``jaxcnn detect``, ``embed``, ``verify``, run in-process through
``jaxcnn.cli.main``) must answer the same inputs with a one-line error on
stderr, no traceback, a non-zero exit status, no partial file under ``--out``,
nothing written outside ``--out`` and inputs left untouched.
"""

import builtins
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxcnn import cli, data, images
from jaxcnn.facenet import nets
from tests.sweep import files

PATH_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, PermissionError)
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ROOT_SKIP = "running as root: chmod 000 does not stop root from reading"


@pytest.fixture
def bad_dir(tmp_path):
    """The bad image files, plus a missing path and a directory."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    paths = {n: files.write(str(folder), n, c) for n, c in files.BAD_IMAGES.items()}
    paths["missing.png"] = str(folder / "missing.png")
    (folder / "a_dir.png").mkdir()
    paths["a_dir.png"] = str(folder / "a_dir.png")
    return paths


def _deny_reading(monkeypatch, path: str) -> None:
    """Makes ``open(path)`` raise PermissionError, as chmod 000 does for non-root."""
    real_open = builtins.open
    real_read_bytes = type(__import__("pathlib").Path()).read_bytes

    def fake_open(file, *args, **kwargs):
        if os.fspath(file) == path:
            raise PermissionError(13, "Permission denied", path)
        return real_open(file, *args, **kwargs)

    def fake_read_bytes(self):
        if os.fspath(self) == path:
            raise PermissionError(13, "Permission denied", path)
        return real_read_bytes(self)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(
        type(__import__("pathlib").Path()), "read_bytes", fake_read_bytes
    )


# ---------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*files.BAD_IMAGES, "missing.png", "a_dir.png"])
def test_images_load_rejects_bad_files(bad_dir, name):
    path = bad_dir[name]
    with pytest.raises(PATH_ERRORS) as info:
        images.load(path)
    assert path in str(info.value)
    assert "\n" not in str(info.value)


def test_images_load_message_names_no_python_object(bad_dir):
    """Pillow's own message for an unknown format names an in-memory stream."""
    with pytest.raises(ValueError) as info:
        images.load(bad_dir["text.png"])
    assert str(info.value).endswith(
        "cannot identify its format (not an image, or cut short)"
    )
    assert " at 0x" not in str(info.value)


def test_images_load_huge_header_is_a_value_error_not_memory(bad_dir):
    with pytest.raises(ValueError, match="decompression bomb|exceeds"):
        images.load(bad_dir["huge.png"])


def test_images_load_unreadable_file(tmp_path, monkeypatch):
    path = files.write(str(tmp_path), "ok.png", files.png_bytes())
    _deny_reading(monkeypatch, path)
    with pytest.raises(PermissionError, match="ok.png"):
        images.load(path)


@pytest.mark.skipif(AS_ROOT, reason=ROOT_SKIP)
def test_images_load_chmod_000(tmp_path):  # pragma: no cover - not as root
    path = files.write(str(tmp_path), "ok.png", files.png_bytes())
    os.chmod(path, 0)
    try:
        with pytest.raises(PermissionError, match="ok.png"):
            images.load(path)
    finally:
        os.chmod(path, 0o644)


@pytest.mark.parametrize("name", [*files.BAD_IMAGES, "missing.png", "a_dir.png"])
@pytest.mark.parametrize("reader", ["read_idx", "read_cifar10_batch"])
def test_data_readers_reject_bad_files(bad_dir, name, reader):
    path = bad_dir[name]
    with pytest.raises(PATH_ERRORS) as info:
        getattr(data, reader)(path)
    assert path in str(info.value)


def test_read_idx_header_claiming_huge_dims(tmp_path):
    dims = [2**32 - 1] * 4  # a product that overflows int64
    header = bytes([0, 0, 0x08, 4]) + b"".join(d.to_bytes(4, "big") for d in dims)
    path = files.write(str(tmp_path), "huge.idx", header + bytes(16))
    with pytest.raises(ValueError, match="huge.idx"):
        data.read_idx(path)


@pytest.mark.parametrize("name", list(files.BAD_IMAGES))
def test_read_image_folder_rejects_bad_images(tmp_path, name):
    folder = tmp_path / "root" / "cls"
    folder.mkdir(parents=True)
    files.write(str(folder), "good.png", files.png_bytes())
    files.write(str(folder), name, files.BAD_IMAGES[name])
    with pytest.raises(ValueError, match=name):
        data.read_image_folder(tmp_path / "root")


@pytest.mark.parametrize("reader", ["read_image_folder", "load_cifar10"])
def test_folder_readers_reject_missing_and_file_roots(tmp_path, reader):
    a_file = files.write(str(tmp_path), "x.bin", b"abc")
    for path in (str(tmp_path / "missing"), a_file):
        with pytest.raises(PATH_ERRORS, match=os.path.basename(path)):
            getattr(data, reader)(path)


def test_data_reader_unreadable_file(tmp_path, monkeypatch):
    path = files.write(str(tmp_path), "b.bin", bytes(3073))
    _deny_reading(monkeypatch, path)
    with pytest.raises(PermissionError, match="b.bin"):
        data.read_cifar10_batch(path)


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def _cli(capsys, argv):
    status = cli.main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def _assert_clean_error(status, err, expected_lines: int):
    assert status != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == expected_lines, err
    for line in lines:
        assert "error" in line or ": " in line, line


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Runs the CLI from an empty working directory, to see stray files."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _outside_out(work, out_name="out"):
    return {p for p in files.snapshot(str(work)) if not p.startswith(out_name + os.sep)}


@pytest.mark.parametrize("name", [*files.BAD_IMAGES, "missing.png", "a_dir.png"])
def test_detect_bad_input_file(capsys, bad_dir, workdir, name):
    before = files.snapshot(os.path.dirname(bad_dir[name]))
    status, out, err = _cli(
        capsys, ["detect", bad_dir[name], "--out", "out", "--no-cache"]
    )
    _assert_clean_error(status, err, expected_lines=1)
    assert name in err
    record = json.loads(out)["images"][0]
    assert "error" in record and "boxes" not in record
    assert files.snapshot(str(workdir / "out")) == {}  # nothing, not even a temp
    assert _outside_out(workdir) == set()
    assert files.snapshot(os.path.dirname(bad_dir[name])) == before


def test_detect_good_and_bad_inputs_together(capsys, bad_dir, workdir):
    good = files.write(str(workdir.parent), "good.png", files.png_bytes(48, 48))
    before = files.snapshot(str(workdir.parent / "inputs"))
    argv = ["detect", good, bad_dir["truncated.png"], bad_dir["huge.png"]]
    status, out, err = _cli(capsys, [*argv, "--out", "out", "--no-cache"])
    _assert_clean_error(status, err, expected_lines=2)
    records = json.loads(out)["images"]
    assert "boxes" in records[0] and all("error" in r for r in records[1:])
    written = files.snapshot(str(workdir / "out"))
    assert sorted(written) == ["good_detections.png"]  # no temp or partial file
    Image.open(workdir / "out" / "good_detections.png").verify()
    assert _outside_out(workdir) == set()
    assert files.snapshot(str(workdir.parent / "inputs")) == before


def test_detect_refuses_an_input_as_out(capsys, workdir):
    good = files.write(str(workdir), "good.png", files.png_bytes())
    before = files.snapshot(str(workdir))
    status, _, err = _cli(capsys, ["detect", good, "--out", good, "--no-cache"])
    _assert_clean_error(status, err, expected_lines=1)
    assert files.snapshot(str(workdir)) == before


def test_detect_unwritable_out(capsys, workdir, monkeypatch):
    good = files.write(str(workdir), "good.png", files.png_bytes())
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    status, _, err = _cli(capsys, ["detect", good, "--out", "out", "--no-cache"])
    _assert_clean_error(status, err, expected_lines=1)
    assert "--out" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--min-face-size", "nan"],
        ["--min-face-size", "-3"],
        ["--thresholds", "0.5", "inf", "0.7"],
        ["--crop-size", "0"],
        ["--margin", "500"],
    ],
)
def test_detect_bad_options(capsys, workdir, argv):
    good = files.write(str(workdir), "good.png", files.png_bytes())
    try:
        status, _, err = _cli(capsys, ["detect", good, *argv, "--no-cache"])
    except SystemExit as exit_:  # argparse: the usage, then one error line
        status, err = exit_.code, capsys.readouterr().err
        assert status == 2 and "Traceback" not in err
        lines = err.strip().splitlines()
        assert lines[0].startswith("usage:")
        assert lines[-1].startswith("jaxcnn detect: error: argument")
        assert sum("error" in line for line in lines) == 1
    else:
        _assert_clean_error(status, err, expected_lines=1)
    assert not (workdir / "out").exists()


# -- embed / verify ---------------------------------------------------------

SIZE = 48


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A small random-weight embedding network saved as .npz."""
    model = nets.create("small", widths=(4, 8), embedding_dim=8)
    shapes = jax.eval_shape(
        model.init, jax.random.key(0), jnp.zeros((1, SIZE, SIZE, 3))
    )
    rng = np.random.default_rng(0)
    variables = jax.tree_util.tree_map(
        lambda s: rng.uniform(0.5, 1.5, s.shape).astype(np.float32), shapes
    )
    path = tmp_path_factory.mktemp("w") / "small.npz"
    nets.save_model(path, model, variables, image_size=SIZE)
    return str(path)


@pytest.mark.parametrize("name", [*files.BAD_IMAGES, "missing.png", "a_dir.png"])
def test_embed_and_verify_bad_image(capsys, bad_dir, workdir, weights, name):
    good = files.write(str(workdir.parent), "good.png", files.png_bytes(48, 48))
    before = files.snapshot(str(workdir.parent / "inputs"))
    status, out, err = _cli(
        capsys, ["embed", bad_dir[name], "--weights", weights, "--no-detect"]
    )
    _assert_clean_error(status, err, expected_lines=1)
    assert name in err and "error" in json.loads(out)["images"][0]
    status, out, err = _cli(
        capsys, ["verify", good, bad_dir[name], "--weights", weights, "--no-detect"]
    )
    _assert_clean_error(status, err, expected_lines=1)
    assert name in err and out == ""
    assert files.snapshot(str(workdir)) == {}
    assert files.snapshot(str(workdir.parent / "inputs")) == before


def _pickled_npz() -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


BAD_WEIGHTS = {
    "text.npz": b"not a zip file\n",
    "empty.npz": b"",
    "truncated.npz": None,  # filled in from a real file below
    "pickle.npz": _pickled_npz(),
    "text.pt": b"not a torch file\n",
    "weights.bin": b"\x00" * 16,
}


@pytest.mark.parametrize("command", ["embed", "verify"])
@pytest.mark.parametrize("name", [*BAD_WEIGHTS, "missing.npz", "dir.npz"])
def test_embed_verify_bad_weights(capsys, workdir, weights, command, name):
    folder = workdir.parent / "weights"
    folder.mkdir(exist_ok=True)
    content = BAD_WEIGHTS.get(name)
    if name == "truncated.npz":
        with open(weights, "rb") as f:
            content = f.read()[:200]
    path = str(folder / name)
    if name == "dir.npz":
        os.mkdir(path)
    elif name != "missing.npz":
        files.write(str(folder), name, content)
    good = files.write(str(workdir.parent), "good.png", files.png_bytes(48, 48))
    images_args = [good] if command == "embed" else [good, good]
    status, out, err = _cli(
        capsys, [command, *images_args, "--weights", path, "--no-detect"]
    )
    _assert_clean_error(status, err, expected_lines=1)
    assert status == 2 and out == ""
    assert files.snapshot(str(workdir)) == {}
