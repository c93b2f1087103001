"""Tests for ``jaxcnn detect``: JSON, files under --out, errors, exit codes.

Most tests inject a small fake detector (one box in the middle of every image
at least 40 px wide) so they exercise the command itself quickly; the tests at
the end run the real MTCNN detector, in-process and as a subprocess.
"""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from jaxcnn import cli
from jaxcnn.commands import detect as detect_cmd


def _fake_detect(image, *, min_face_size=20.0, thresholds=(0.6, 0.7, 0.7)):
    """One face box (the middle half of the image) when the image is >= 40 px."""
    height, width = image.shape[:2]
    if min(height, width) < 40 or thresholds[2] > 0.95:
        return _empty()
    box = np.array([[width / 4, height / 4, 3 * width / 4, 3 * height / 4]])
    cx, cy, s = width / 2, height / 2, width / 8
    points = [[cx - s, cy - s], [cx + s, cy - s], [cx, cy], [cx - s, cy + s]]
    points.append([cx + s, cy + s])
    return SimpleNamespace(
        boxes=box.astype(np.float32),
        scores=np.array([0.9], np.float32),
        landmarks=np.array([points], np.float32),
    )


def _empty():
    return SimpleNamespace(
        boxes=np.zeros((0, 4), np.float32),
        scores=np.zeros((0,), np.float32),
        landmarks=np.zeros((0, 5, 2), np.float32),
    )


@pytest.fixture
def fake(monkeypatch):
    calls = []

    def detect(image, **kw):
        calls.append((image.shape, kw))
        return _fake_detect(image, **kw)

    monkeypatch.setattr(detect_cmd, "_load_detector", lambda: detect)
    return calls


def _run(capsys, *argv):
    status = cli.main(["detect", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _photo(path, size=(60, 80), value=None):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    if value is not None:
        array[...] = value
    Image.fromarray(array).save(path)
    return str(path)


def _listing(folder):
    return sorted(os.listdir(folder))


# --------------------------------------------------------------------------
# Normal runs
# --------------------------------------------------------------------------


def test_default_image_json_and_files(fake, capsys, tmp_path):
    out = tmp_path / "out"
    status, stdout, stderr = _run(capsys, "--out", str(out), "--no-cache")
    assert status == 0 and stderr == ""
    record = json.loads(stdout)["images"][0]
    assert record["name"] == "astronaut" and record["path"] is None
    assert (record["height"], record["width"]) == (512, 512)
    assert record["boxes"] == [[128.0, 128.0, 384.0, 384.0]]
    assert record["scores"] == [pytest.approx(0.9, abs=1e-6)]
    assert np.shape(record["landmarks"]) == (1, 5, 2)
    assert _listing(out) == ["astronaut_detections.png", "astronaut_face0.png"]
    assert record["files"]["annotated"] == str(out / "astronaut_detections.png")
    annotated = np.asarray(Image.open(out / "astronaut_detections.png"))
    crop = np.asarray(Image.open(out / "astronaut_face0.png"))
    assert annotated.shape == (512, 512, 3) and crop.shape == (160, 160, 3)
    np.testing.assert_array_equal(annotated[200, 128], [255, 0, 0])  # box edge


def test_options_reach_the_detector(fake, capsys, tmp_path):
    argv = ["--json-only", "--no-cache", "--min-face-size", "40"]
    status, stdout, _ = _run(capsys, *argv, "--thresholds", "0.5", "0.6", "0.99")
    assert status == 0
    assert fake[0][1] == {"min_face_size": 40.0, "thresholds": (0.5, 0.6, 0.99)}
    assert json.loads(stdout)["images"][0]["boxes"] == []  # the fake's t3 rule


def test_json_only_writes_nothing(fake, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image = _photo(tmp_path / "a.png")
    status, stdout, _ = _run(capsys, image, "--json-only", "--no-cache")
    record = json.loads(stdout)["images"][0]
    assert status == 0 and "files" not in record and record["name"] == "a.png"
    assert _listing(tmp_path) == ["a.png"]


def test_default_out_dir(fake, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, _ = _run(capsys, _photo(tmp_path / "a.png"), "--no-cache")
    assert status == 0
    assert _listing(tmp_path / "detections") == ["a_detections.png", "a_face0.png"]


def test_crop_size_and_margin(fake, capsys, tmp_path):
    argv = ["--out", str(tmp_path), "--crop-size", "64", "--margin", "0"]
    status, _, _ = _run(capsys, _photo(tmp_path / "a.png"), *argv, "--no-cache")
    assert status == 0
    crop = np.asarray(Image.open(tmp_path / "a_face0.png"))
    assert crop.shape == (64, 64, 3)


def test_no_face_writes_annotated_only(fake, capsys, tmp_path):
    small = _photo(tmp_path / "small.png", size=(30, 30))
    status, stdout, _ = _run(capsys, small, "--out", str(tmp_path / "o"), "--no-cache")
    record = json.loads(stdout)["images"][0]
    assert status == 0 and record["boxes"] == [] and record["files"]["faces"] == []
    assert record["landmarks"] == [] and record["scores"] == []
    assert _listing(tmp_path / "o") == ["small_detections.png"]


def test_output_names_deduplicated(fake, capsys, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _photo(tmp_path / "a" / "x.png")
    second = _photo(tmp_path / "b" / "x.png")
    third = _photo(tmp_path / "b" / "X.jpg")
    out = tmp_path / "out"
    status, stdout, _ = _run(capsys, first, second, third, "--out", str(out))
    assert status == 0
    names = [r["name"] for r in json.loads(stdout)["images"]]
    assert names == ["x.png", "x.png", "X.jpg"]
    assert _listing(out) == [
        "X-3_detections.png",
        "X-3_face0.png",
        "x-2_detections.png",
        "x-2_face0.png",
        "x_detections.png",
        "x_face0.png",
    ]


def test_odd_file_names_stay_inside_out(fake, capsys, tmp_path):
    image = _photo(tmp_path / "..weird name;$(x).png")
    out = tmp_path / "out"
    status, stdout, _ = _run(capsys, image, "--out", str(out), "--no-cache")
    assert status == 0
    files = json.loads(stdout)["images"][0]["files"]
    for path in [files["annotated"], *files["faces"]]:
        assert os.path.dirname(path) == str(out)
    stem = "weird_name___x_"
    assert _listing(out) == [f"{stem}_detections.png", f"{stem}_face0.png"]


# --------------------------------------------------------------------------
# Bad inputs and bad options
# --------------------------------------------------------------------------


def test_bad_inputs_reported_others_processed(fake, capsys, tmp_path):
    good = _photo(tmp_path / "good.png")
    missing = str(tmp_path / "missing.png")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    cut = tmp_path / "cut.jpg"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(cut)
    cut.write_bytes(cut.read_bytes()[:-30])
    folder = tmp_path / "folder"
    folder.mkdir()
    inputs = [missing, good, str(text), str(cut), str(folder)]
    out = tmp_path / "out"
    status, stdout, stderr = _run(capsys, *inputs, "--out", str(out), "--no-cache")
    assert status == detect_cmd.EXIT_INPUT == 1
    records = json.loads(stdout)["images"]
    assert [r["name"] for r in records] == [
        "missing.png",
        "good.png",
        "notes.txt",
        "cut.jpg",
        "folder",
    ]
    assert "boxes" in records[1] and "error" not in records[1]
    lines = stderr.strip().splitlines()
    assert len(lines) == 4 and "Traceback" not in stderr
    for line, name in zip(lines, ["missing", "notes", "cut", "folder"], strict=True):
        assert line.startswith("jaxcnn detect: error: ") and name in line
    assert "truncated" in lines[2]
    for record in records[:1] + records[2:]:
        assert set(record) == {"name", "path", "error"}
    assert _listing(out) == ["good_detections.png", "good_face0.png"]


def test_bad_array_from_detector_is_one_line(capsys, tmp_path, monkeypatch):
    def refuses(image, **kw):
        raise ValueError("image must be\nsomething else")

    monkeypatch.setattr(detect_cmd, "_load_detector", lambda: refuses)
    status, stdout, stderr = _run(capsys, "--json-only", "--no-cache")
    assert status == 1
    # one line, naming the input (here the default astronaut)
    assert stderr == "jaxcnn detect: error: astronaut: image must be something else\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["--thresholds", "0.6", "1.5", "0.7"],
        ["--thresholds", "0.6", "0.7"],
        ["--thresholds", "nan", "0.7", "0.7"],
        ["--min-face-size", "0"],
        ["--min-face-size", "inf"],
        ["--min-face-size", "abc"],
    ],
)
def test_bad_options_exit_2(fake, capsys, argv):
    with pytest.raises(SystemExit) as info:
        cli.main(["detect", "--json-only", *argv])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
    assert fake == []


def test_bad_margin_exit_2(fake, capsys, tmp_path):
    argv = ["--json-only", "--crop-size", "32", "--margin", "40"]
    status, stdout, stderr = _run(capsys, *argv)
    assert status == 2 and stdout == "" and "--margin" in stderr


def test_out_is_a_file_or_an_input(fake, capsys, tmp_path):
    image = _photo(tmp_path / "a.png")
    before = open(image, "rb").read()
    status, stdout, stderr = _run(capsys, image, "--out", image)
    assert status == 2 and stdout == "" and "a.png is a file" in stderr
    folder = tmp_path / "dir"
    folder.mkdir()
    status, _, stderr = _run(capsys, image, str(folder), "--out", str(folder))
    assert status == 2 and "is one of the inputs" in stderr
    assert open(image, "rb").read() == before and _listing(folder) == []
    assert fake == []


def test_out_that_cannot_be_created_exit_3(fake, capsys, tmp_path):
    image = _photo(tmp_path / "a.png")
    out = os.path.join(image, "sub")  # below a file: makedirs fails
    status, stdout, stderr = _run(capsys, image, "--out", out)
    assert status == detect_cmd.EXIT_OUTPUT == 3
    assert stdout == "" and f"cannot create --out {out}" in stderr
    assert fake == []


def test_never_overwrites_an_input(fake, capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    victim = _photo(out / "y_face0.png", value=7)  # the name y.png's crop would get
    before = open(victim, "rb").read()
    status, _, stderr = _run(
        capsys, _photo(tmp_path / "y.png"), victim, "--out", str(out)
    )
    assert status == detect_cmd.EXIT_OUTPUT == 3
    assert "refusing to overwrite the input file" in stderr
    assert open(victim, "rb").read() == before
    assert not [n for n in _listing(out) if n.endswith(".tmp")]


def test_replaces_earlier_outputs(fake, capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_detections.png").write_bytes(b"old")
    status, _, _ = _run(capsys, _photo(tmp_path / "a.png"), "--out", str(out))
    assert status == 0
    assert Image.open(out / "a_detections.png").size == (80, 60)


@pytest.mark.parametrize(
    "failure", [OSError(28, "No space left on device"), KeyboardInterrupt()]
)
def test_failed_write_leaves_no_partial_file(
    fake, capsys, tmp_path, monkeypatch, failure
):
    out = tmp_path / "out"
    real_replace = os.replace

    def replace(src, dst):
        if dst.endswith("_face0.png"):
            raise failure
        real_replace(src, dst)

    monkeypatch.setattr(detect_cmd.os, "replace", replace)
    status, stdout, stderr = _run(capsys, _photo(tmp_path / "a.png"), "--out", str(out))
    expected = 3 if isinstance(failure, OSError) else 130
    assert status == expected and stdout == ""
    assert "a_face0.png" in stderr or "interrupted" in stderr
    assert _listing(out) == ["a_detections.png"]  # complete file only, no .tmp


def test_write_atomic_unwritable_folder(tmp_path):
    with pytest.raises(detect_cmd.OutputError, match="cannot write"):
        detect_cmd.write_atomic(str(tmp_path / "no" / "such" / "x.png"), b"data")


def test_cache_dir_choice(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXCNN_CACHE_DIR", str(tmp_path / "c"))
    assert detect_cmd.cache_dir() == str(tmp_path / "c")
    monkeypatch.delenv("JAXCNN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert detect_cmd.cache_dir() == str(tmp_path / "x" / "jaxcnn" / "xla")


# --------------------------------------------------------------------------
# The real detector
# --------------------------------------------------------------------------

# facenet-pytorch 2.6.0 on skimage's astronaut (tests/data copy of the anchor
# ../shared/anchors/facenet_pytorch_mtcnn_reference.json, rounded).
ASTRONAUT_BOX = [181.05, 62.16, 267.75, 172.05]


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_real_detector_in_process(capsys, tmp_path):
    out = tmp_path / "out"
    status, stdout, stderr = _run(capsys, "--out", str(out), "--no-cache")
    assert status == 0, stderr
    record = json.loads(stdout)["images"][0]
    assert len(record["boxes"]) == 1 and record["scores"][0] > 0.99
    assert _iou(record["boxes"][0], ASTRONAUT_BOX) > 0.95
    assert _listing(out) == ["astronaut_detections.png", "astronaut_face0.png"]


def test_real_detector_subprocess_uses_cache(tmp_path):
    env = dict(os.environ, JAXCNN_CACHE_DIR=str(tmp_path / "xla"))
    command = [sys.executable, "-m", "jaxcnn.cli", "detect", "--json-only"]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)["images"][0]
    assert record["name"] == "astronaut" and len(record["boxes"]) == 1
    assert _iou(record["boxes"][0], ASTRONAUT_BOX) > 0.95
    assert np.shape(record["landmarks"]) == (1, 5, 2)
    assert os.listdir(tmp_path / "xla")  # compiled programs were stored
    assert _listing(tmp_path) == ["xla"]  # --json-only: nothing else written


@pytest.mark.parametrize("tty", [True, False])
def test_progress_bar_only_for_several_images_on_a_terminal(
    fake, capsys, monkeypatch, tmp_path, tty
):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    photos = [_photo(tmp_path / f"p{i}.png") for i in range(3)]
    status, out, err = _run(capsys, *photos, "--json-only")
    assert status == 0 and len(json.loads(out)["images"]) == 3
    assert ("3/3" in err and "detect" in err) == tty
    # one image: no bar even on a terminal
    status, _, err = _run(capsys, photos[0], "--json-only")
    assert status == 0 and "1/1" not in err


def test_image_over_the_detector_limit_names_the_file(capsys, tmp_path):
    """The real detector refuses sides above 8192 px; the message names the file."""
    tall = tmp_path / "tall.png"
    Image.fromarray(np.zeros((8193, 16, 3), np.uint8)).save(tall)
    status, out, err = _run(capsys, str(tall), "--json-only")
    assert status == 1
    (record,) = json.loads(out)["images"]
    assert record["error"].startswith("tall.png: ") and "8192" in record["error"]
    assert "Traceback" not in err
