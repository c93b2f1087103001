"""How to call every public function of jaxcnn with valid arguments.

``CASES`` maps the qualified name (``"jaxcnn.ops.conv"``) to a
:class:`~tests.sweep.framework.Case`. ``tests/test_sweep.py`` fails when a public
function of a swept module has no entry here, so a new function must be added
(with the arguments the sweep may spoil). ``EXEMPT`` lists public classes that
are not swept, each with the reason.

Arrays are tiny so that every call is cheap; each one is built once, so that
compiled programs are reused across examples.
"""

import functools
import os
import tempfile

import jax
import numpy as np
import optax

from jaxcnn import (
    boxes,
    data,
    facenet,
    images,
    kernels,
    models,
    mtcnn,
    ops,
    playground,
    playground_model,
    train,
)
from tests.sweep.framework import Case, Lazy

PATH_ERRORS = (FileNotFoundError, IsADirectoryError, PermissionError)

_rng = np.random.default_rng(0)


def _f32(*shape, low=-1.0, high=1.0):
    return _rng.uniform(low, high, shape).astype(np.float32)


# Shared valid arrays (NHWC activations, HWIO kernels, images, boxes).
X4 = _f32(1, 6, 6, 3)
K4 = _f32(3, 3, 3, 4)
X2 = _f32(2, 5)
IMAGE = _rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
IMAGE_F = IMAGE.astype(np.float32)
BOXES = np.array([[1, 2, 11, 12], [3, 3, 9, 15], [0, 0, 4, 4]], np.float32)
SCORES = np.array([0.9, 0.8, 0.3], np.float32)
KEY = jax.random.key(0)
EMB = _f32(6, 4)
LABELS6 = np.array([0, 0, 1, 1, 2, 2], np.int32)
POINTS = _f32(8, 2)
BINARY = np.array([0, 1, 0, 1, 1, 0, 1, 0], np.float32)


@functools.cache
def tmp_dir() -> str:
    """A private folder for the files the registry's valid calls need."""
    return tempfile.mkdtemp(prefix="jaxcnn-sweep-")


def _file(name: str, content: bytes) -> str:
    path = os.path.join(tmp_dir(), name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def _png_path() -> str:
    return _file("face.png", images.encode_png(IMAGE))


def _idx_path() -> str:
    header = bytes([0, 0, 0x08, 2]) + (3).to_bytes(4, "big") + (4).to_bytes(4, "big")
    return _file("small.idx", header + bytes(range(12)))


def _cifar_path() -> str:
    record = bytes([3]) + bytes(3 * 32 * 32)
    return _file("data_batch_1.bin", record * 2)


def _cifar_dir() -> str:
    _cifar_path()
    return tmp_dir()


def _fashion_dir() -> str:
    """The four Fashion-MNIST IDX files, raw, two 2x2 images per split."""
    root = os.path.join(tmp_dir(), "fashion-mnist")
    os.makedirs(root, exist_ok=True)
    images = bytes([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2]) + bytes(8)
    labels = bytes([0, 0, 0x08, 1, 0, 0, 0, 2, 3, 9])
    for prefix in ("train", "t10k"):
        for name, content in (("images-idx3", images), ("labels-idx1", labels)):
            with open(os.path.join(root, f"{prefix}-{name}-ubyte"), "wb") as f:
                f.write(content)
    return root


FASHION_DIR = Lazy(_fashion_dir)


def _folder() -> str:
    root = os.path.join(tmp_dir(), "folder")
    for name in ("cat", "dog"):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        with open(os.path.join(root, name, "a.png"), "wb") as f:
            f.write(images.encode_png(IMAGE))
    return root


def _pairs_path() -> str:
    return _file("pairs.txt", b"1 1\nAnn 1 2\nAnn 1 Bob 1\n")


def _npz_path() -> str:
    path = os.path.join(tmp_dir(), "weights.npz")
    facenet.save_npz(path, {"params": {"w": np.ones((2, 2), np.float32)}}, arch="x")
    return path


def _mtcnn_params():
    return mtcnn.default_params()


MTCNN_PARAMS = Lazy(_mtcnn_params)


# ---------------------------------------------------------------------------
# jaxcnn.ops
# ---------------------------------------------------------------------------

_UNARY = (
    "relu relu6 selu sigmoid silu softplus mish hard_sigmoid hard_swish tanh flatten"
).split()


def _ops_cases() -> dict[str, Case]:
    cases = {
        f"jaxcnn.ops.{name}": Case(getattr(ops, name), {"x": X2}, arrays=("x",))
        for name in _UNARY
    }
    cases["jaxcnn.ops.flatten"] = Case(ops.flatten, {"x": X4}, arrays=("x",))
    for name, opt in (("leaky_relu", "negative_slope"), ("elu", "alpha")):
        cases[f"jaxcnn.ops.{name}"] = Case(
            getattr(ops, name), {"x": X2, opt: 0.1}, arrays=("x",), options=(opt,)
        )
    cases["jaxcnn.ops.celu"] = Case(
        ops.celu, {"x": X2, "alpha": 1.0}, arrays=("x",), options=("alpha",)
    )
    cases["jaxcnn.ops.gelu"] = Case(
        ops.gelu,
        {"x": X2, "approximate": True},
        arrays=("x",),
        options=("approximate",),
    )
    cases["jaxcnn.ops.prelu"] = Case(
        ops.prelu, {"x": X2, "alpha": _f32(5)}, arrays=("x", "alpha")
    )
    cases["jaxcnn.ops.conv"] = Case(
        ops.conv,
        {
            "x": X4,
            "kernel": K4,
            "bias": _f32(4),
            "strides": 1,
            "padding": "SAME",
            "lowering": "matmul",
        },
        arrays=("x", "kernel", "bias"),
        options=("strides", "padding", "lowering"),
        images=("x",),
    )
    cases["jaxcnn.ops.conv_transpose"] = Case(
        ops.conv_transpose,
        {"x": X4, "kernel": K4, "bias": _f32(4), "strides": 2, "padding": "SAME"},
        arrays=("x", "kernel", "bias"),
        options=("strides", "padding"),
        images=("x",),
    )
    for name in ("max_pool", "avg_pool", "min_pool", "lp_pool"):
        cases[f"jaxcnn.ops.{name}"] = Case(
            getattr(ops, name),
            {"x": X4, "window_shape": (2, 2), "strides": None, "padding": "VALID"},
            arrays=("x",),
            options=("window_shape", "strides", "padding"),
            images=("x",),
        )
    for name in ("global_avg_pool", "global_max_pool"):
        cases[f"jaxcnn.ops.{name}"] = Case(
            getattr(ops, name), {"x": X4}, arrays=("x",), images=("x",)
        )
    for name in ("adaptive_avg_pool", "adaptive_max_pool"):
        cases[f"jaxcnn.ops.{name}"] = Case(
            getattr(ops, name),
            {"x": X4, "output_size": (2, 3)},
            arrays=("x",),
            options=("output_size",),
            images=("x",),
        )
    for name in ("softmax", "log_softmax"):
        cases[f"jaxcnn.ops.{name}"] = Case(
            getattr(ops, name),
            {"x": X2, "axis": -1, "where": X2 > -0.5},
            arrays=("x", "where"),
            options=("axis",),
        )
    cases["jaxcnn.ops.softmax_cross_entropy"] = Case(
        ops.softmax_cross_entropy,
        {"logits": X2, "labels": np.array([1, 4], np.int32), "label_smoothing": 0.1},
        arrays=("logits", "labels"),
        options=("label_smoothing",),
    )
    cases["jaxcnn.ops.sigmoid_binary_cross_entropy"] = Case(
        ops.sigmoid_binary_cross_entropy,
        {"logits": X2, "labels": (X2 > 0).astype(np.float32)},
        arrays=("logits", "labels"),
    )
    cases["jaxcnn.ops.dense"] = Case(
        ops.dense,
        {"x": X2, "kernel": _f32(5, 3), "bias": _f32(3)},
        arrays=("x", "kernel", "bias"),
    )
    cases["jaxcnn.ops.dropout"] = Case(
        ops.dropout,
        {"key": KEY, "x": X2, "rate": 0.5},
        arrays=("x",),
        options=("key", "rate"),
    )
    cases["jaxcnn.ops.batch_norm"] = Case(
        ops.batch_norm,
        {
            "x": X4,
            "scale": _f32(3),
            "bias": _f32(3),
            "mean": _f32(3),
            "var": _f32(3, low=0.5),
            "training": True,
            "momentum": 0.9,
        },
        arrays=("x", "scale", "bias", "mean", "var"),
        options=("training", "momentum"),
        images=("x",),
    )
    cases["jaxcnn.ops.layer_norm"] = Case(
        ops.layer_norm,
        {"x": X2, "scale": _f32(5), "bias": _f32(5), "eps": 1e-5},
        arrays=("x", "scale", "bias"),
        options=("eps",),
    )
    return cases


# ---------------------------------------------------------------------------
# jaxcnn.kernels and jaxcnn.boxes
# ---------------------------------------------------------------------------


def _kernels_cases() -> dict[str, Case]:
    k = "jaxcnn.kernels."
    cases = {
        k + "box_blur": Case(kernels.box_blur, {"size": 3}, options=("size",)),
        k + "gaussian": Case(
            kernels.gaussian, {"sigma": 1.0, "size": 5}, options=("sigma", "size")
        ),
        k + "sharpen": Case(kernels.sharpen, {}),
        k + "laplacian": Case(kernels.laplacian, {}),
        k + "line": Case(kernels.line, {"angle": 45}, options=("angle",)),
        k + "filter2d": Case(
            kernels.filter2d,
            {"image": X4, "kernel": _f32(3, 3), "padding": "SAME"},
            arrays=("image", "kernel"),
            options=("padding",),
            images=("image",),
        ),
        k + "smooth1d": Case(
            kernels.smooth1d,
            {"signal": _f32(2, 9), "weights": _f32(3)},
            arrays=("signal", "weights"),
        ),
        k + "exponential_weights": Case(
            kernels.exponential_weights, {"n": 4, "decay": 0.5}, options=("n", "decay")
        ),
    }
    for name in ("sobel", "prewitt", "scharr"):
        cases[k + name] = Case(getattr(kernels, name), {"axis": 0}, options=("axis",))
    return cases


def _boxes_cases() -> dict[str, Case]:
    b = "jaxcnn.boxes."
    table = boxes.integral_image(IMAGE[None])
    return {
        b + "area": Case(boxes.area, {"boxes": BOXES}, arrays=("boxes",)),
        b + "square_boxes": Case(
            boxes.square_boxes, {"boxes": BOXES}, arrays=("boxes",)
        ),
        b + "iou": Case(
            boxes.iou,
            {"a": BOXES, "b": BOXES[:2], "mode": "min"},
            arrays=("a", "b"),
            options=("mode",),
        ),
        b + "nms": Case(
            boxes.nms,
            {"boxes": BOXES, "scores": SCORES, "iou_threshold": 0.5, "max_output": 2},
            arrays=("boxes", "scores"),
            options=("iou_threshold", "max_output"),
        ),
        b + "batched_nms": Case(
            boxes.batched_nms,
            {
                "boxes": BOXES,
                "scores": SCORES,
                "groups": np.array([0, 1, 0], np.int32),
                "iou_threshold": 0.5,
            },
            arrays=("boxes", "scores", "groups"),
            options=("iou_threshold",),
        ),
        b + "clip_boxes": Case(
            boxes.clip_boxes,
            {"boxes": BOXES, "height": 10, "width": 8},
            arrays=("boxes",),
            options=("height", "width"),
        ),
        b + "integral_image": Case(
            boxes.integral_image,
            {"images": IMAGE[None]},
            arrays=("images",),
            images=("images",),
        ),
        b + "area_crops": Case(
            boxes.area_crops,
            {
                "table": table,
                "image_index": np.array([0, 0, 0], np.int32),
                "boxes": BOXES.astype(np.int32),
                "out_h": 4,
                "out_w": 5,
            },
            arrays=("table", "image_index", "boxes"),
            options=("out_h", "out_w"),
        ),
        b + "crop_and_resize": Case(
            boxes.crop_and_resize,
            {"image": IMAGE, "boxes": BOXES, "size": 6},
            arrays=("image", "boxes"),
            options=("size",),
            images=("image",),
            # Every accepted dtype or shape compiles the crop program anew.
            max_examples=40,
        ),
    }


# ---------------------------------------------------------------------------
# jaxcnn.images and jaxcnn.mtcnn (detector and image functions reject NaN)
# ---------------------------------------------------------------------------


def _detections():
    return mtcnn.Detections(
        BOXES, SCORES, np.tile(BOXES[:, None, :2], (1, 5, 1)).astype(np.float32)
    )


def _images_cases() -> dict[str, Case]:
    i = "jaxcnn.images."
    return {
        i + "to_rgb": Case(
            images.to_rgb,
            {"image": IMAGE_F},
            arrays=("image",),
            images=("image",),
            nan="reject",
        ),
        i + "encode_png": Case(
            images.encode_png,
            {"image": IMAGE},
            arrays=("image",),
            images=("image",),
            nan="reject",
        ),
        i + "draw_detections": Case(
            images.draw_detections,
            {"image": IMAGE_F, "detections": _detections()},
            arrays=("image",),
            options=("detections",),
            images=("image",),
            nan="reject",
        ),
        i + "align_faces": Case(
            images.align_faces,
            {"image": IMAGE, "boxes": BOXES, "size": 8, "margin": 2},
            arrays=("image", "boxes"),
            options=("size", "margin"),
            images=("image",),
            nan="reject",
        ),
        i + "load": Case(
            images.load,
            {"path": Lazy(_png_path)},
            options=("path",),
            paths=("path",),
            errors=PATH_ERRORS,
        ),
    }


def _mtcnn_cases() -> dict[str, Case]:
    m = "jaxcnn.mtcnn."
    params = MTCNN_PARAMS
    pnet = Lazy(lambda: MTCNN_PARAMS.get()["pnet"])
    rnet = Lazy(lambda: MTCNN_PARAMS.get()["rnet"])
    onet = Lazy(lambda: MTCNN_PARAMS.get()["onet"])
    return {
        m + "detect": Case(
            mtcnn.detect,
            {
                "images": IMAGE,
                "min_face_size": 12.0,
                "thresholds": (0.6, 0.7, 0.7),
                "params": params,
            },
            arrays=("images",),
            options=("min_face_size", "thresholds", "params"),
            images=("images",),
            nan="reject",
            # Each accepted example runs the whole cascade: fewer examples.
            max_examples=60,
        ),
        m + "pyramid": Case(
            mtcnn.pyramid,
            {"height": 40, "width": 30, "min_face_size": 20.0, "scale_factor": 0.709},
            options=("height", "width", "min_face_size", "scale_factor"),
            nan="reject",
        ),
        m + "normalize": Case(
            mtcnn.normalize, {"images": IMAGE}, arrays=("images",), images=("images",)
        ),
        m + "pnet_apply": Case(
            mtcnn.pnet_apply,
            {"params": pnet, "x": _f32(1, 12, 12, 3)},
            arrays=("x",),
            options=("params",),
            images=("x",),
        ),
        m + "rnet_apply": Case(
            mtcnn.rnet_apply,
            {"params": rnet, "x": _f32(2, 24, 24, 3)},
            arrays=("x",),
            options=("params",),
            images=("x",),
        ),
        m + "onet_apply": Case(
            mtcnn.onet_apply,
            {"params": onet, "x": _f32(2, 48, 48, 3)},
            arrays=("x",),
            options=("params",),
            images=("x",),
        ),
        # "onet", as tests/mtcnn/test_nets.py: the eager initialisers compile
        # once per weight shape, and a whole-suite run shares them.
        m + "init": Case(
            mtcnn.init, {"rng": KEY, "net": "onet"}, options=("rng", "net")
        ),
        m + "count_params": Case(
            mtcnn.count_params, {"params": pnet}, options=("params",)
        ),
        m + "load_params": Case(
            mtcnn.load_params, {"source": "mtcnn"}, options=("source",)
        ),
        m + "load_torch_params": Case(
            mtcnn.load_torch_params,
            {"directory": None},
            options=("directory",),
            paths=("directory",),
            errors=PATH_ERRORS,
            needs=("torch", "facenet_pytorch"),
        ),
        m + "default_params": Case(mtcnn.default_params, {}),
        m + "empty_detections": Case(mtcnn.empty_detections, {}),
    }


# ---------------------------------------------------------------------------
# jaxcnn.facenet
# ---------------------------------------------------------------------------


def _facenet_cases() -> dict[str, Case]:
    f = "jaxcnn.facenet."
    centers = _f32(3, 4)
    cases = {
        f + "l2_normalize": Case(
            facenet.l2_normalize,
            {"x": EMB, "axis": -1},
            arrays=("x",),
            options=("axis",),
        ),
        f + "pairwise_distances": Case(
            facenet.pairwise_distances, {"embeddings": EMB}, arrays=("embeddings",)
        ),
        f + "contrastive_loss": Case(
            facenet.contrastive_loss,
            {"embeddings": EMB, "labels": LABELS6, "margin": 1.0},
            arrays=("embeddings", "labels"),
            options=("margin",),
        ),
        f + "center_loss": Case(
            facenet.center_loss,
            {"embeddings": EMB, "labels": LABELS6, "centers": centers},
            arrays=("embeddings", "labels", "centers"),
        ),
        f + "update_centers": Case(
            facenet.update_centers,
            {"centers": centers, "embeddings": EMB, "labels": LABELS6, "alpha": 0.5},
            arrays=("centers", "embeddings", "labels"),
            options=("alpha",),
        ),
        f + "fixed_standardize": Case(
            facenet.fixed_standardize,
            {"images": IMAGE[None]},
            arrays=("images",),
            images=("images",),
        ),
        f + "prewhiten": Case(
            facenet.prewhiten,
            {"images": IMAGE_F[None]},
            arrays=("images",),
            images=("images",),
        ),
        f + "evaluate_pairs": Case(
            facenet.evaluate_pairs,
            {
                "distances": _f32(8, low=0.0, high=4.0),
                "is_same": np.array([1, 0] * 4, bool),
                "n_folds": 2,
            },
            arrays=("distances", "is_same"),
            options=("n_folds",),
            nan="reject",
        ),
        f + "parse_pairs": Case(
            facenet.parse_pairs,
            {"text": "1 1\nAnn 1 2\nAnn 1 Bob 1\n"},
            options=("text",),
        ),
        f + "read_pairs": Case(
            facenet.read_pairs,
            {"path": Lazy(_pairs_path)},
            options=("path",),
            paths=("path",),
            errors=PATH_ERRORS,
        ),
        f + "load_npz": Case(
            facenet.load_npz,
            {"path": Lazy(_npz_path)},
            options=("path",),
            paths=("path",),
            errors=PATH_ERRORS,
        ),
        f + "save_npz": Case(
            facenet.save_npz,
            {
                "path": Lazy(lambda: os.path.join(tmp_dir(), "saved.npz")),
                "variables": {"params": {"w": np.ones(3, np.float32)}},
            },
            options=("path", "variables"),
            paths=("path",),
            errors=PATH_ERRORS,
        ),
        f + "from_facenet_pytorch": Case(
            facenet.from_facenet_pytorch,
            {"state_dict": {"conv2d_1a.conv.weight": _f32(32, 3, 3, 3)}},
            options=("state_dict",),
        ),
    }
    for name in ("triplet_loss", "triplet_loss_and_stats"):
        cases[f + name] = Case(
            getattr(facenet, name),
            {"embeddings": EMB, "labels": LABELS6, "margin": 0.2, "mining": "hard"},
            arrays=("embeddings", "labels"),
            options=("margin", "mining"),
        )
    return cases


# ---------------------------------------------------------------------------
# jaxcnn.data
# ---------------------------------------------------------------------------


def _data_cases() -> dict[str, Case]:
    d = "jaxcnn.data."
    return {
        d + "read_idx": Case(
            data.read_idx,
            {"path": Lazy(_idx_path)},
            options=("path",),
            paths=("path",),
            errors=PATH_ERRORS,
        ),
        d + "read_cifar10_batch": Case(
            data.read_cifar10_batch,
            {"path": Lazy(_cifar_path)},
            options=("path",),
            paths=("path",),
            errors=PATH_ERRORS,
        ),
        d + "load_cifar10": Case(
            data.load_cifar10,
            {"data_dir": Lazy(_cifar_dir), "split": "train"},
            options=("data_dir", "split"),
            paths=("data_dir",),
            errors=PATH_ERRORS,
        ),
        d + "load_fashion_mnist": Case(
            data.load_fashion_mnist,
            {"data_dir": FASHION_DIR, "split": "test"},
            options=("data_dir", "split"),
            paths=("data_dir",),
            errors=PATH_ERRORS,
        ),
        d + "find_dataset": Case(
            data.find_dataset,
            {"name": "fashion-mnist", "data_dir": FASHION_DIR},
            options=("name", "data_dir"),
            paths=("data_dir",),
            errors=PATH_ERRORS,
        ),
        d + "read_image_folder": Case(
            data.read_image_folder,
            {"root": Lazy(_folder), "size": (8, 8)},
            options=("root", "size"),
            paths=("root",),
            errors=PATH_ERRORS,
        ),
        d + "random_flip": Case(
            data.random_flip,
            {"key": KEY, "images": IMAGE[None], "axis": "vertical"},
            arrays=("images",),
            options=("key", "axis"),
            images=("images",),
        ),
        d + "random_crop": Case(
            data.random_crop,
            {"key": KEY, "images": IMAGE[None], "size": 20, "padding": 2},
            arrays=("images",),
            options=("key", "size", "padding"),
            images=("images",),
        ),
    }


# ---------------------------------------------------------------------------
# jaxcnn.models and jaxcnn.train
# ---------------------------------------------------------------------------

# The tiny network and 8x8 images of tests/test_train.py: a whole-suite run
# then compiles its initialisation once.
TINY_CNN = Lazy(
    lambda: models.build("simple_cnn", stages=((4,),), hidden=(8,), dropout_rate=0.1)
)
TRAIN_X = _f32(4, 8, 8, 1, low=0.0, high=1.0)
TRAIN_Y = np.array([0, 1, 2, 1], np.int32)
OPTIMIZER = optax.sgd(0.01)
STATE = Lazy(
    lambda: train.create_train_state(TINY_CNN.get(), OPTIMIZER, 0, TRAIN_X[:2])
)
EVAL_STEP = Lazy(lambda: jax.jit(train.make_eval_step(TINY_CNN.get())))
TRAIN_STEP = Lazy(lambda: jax.jit(train.make_train_step(TINY_CNN.get(), OPTIMIZER)))
HISTORY = [{"step": 1, "loss": 1.0, "accuracy": 0.5}]


def _models_train_cases() -> dict[str, Case]:
    t = "jaxcnn.train."
    return {
        "jaxcnn.models.build": Case(
            models.build,
            {"name": "simple_cnn", "num_classes": 3},
            options=("name", "num_classes"),
        ),
        "jaxcnn.models.count_params": Case(
            models.count_params, {"tree": {"w": X2}}, options=("tree",)
        ),
        t + "cross_entropy": Case(
            train.cross_entropy,
            {"logits": X2, "labels": np.array([1, 4], np.int32)},
            arrays=("logits", "labels"),
        ),
        t + "steps_for_epochs": Case(
            train.steps_for_epochs,
            {"epochs": 1.5, "steps_per_epoch": 10},
            options=("epochs", "steps_per_epoch"),
        ),
        t + "check_compatible": Case(
            train.check_compatible,
            {"saved": {"w": X2}, "target": {"w": X2}},
            options=("saved", "target"),
            aliases={"saved": "checkpoint", "target": "model"},
        ),
        t + "create_train_state": Case(
            train.create_train_state,
            {
                "model": TINY_CNN,
                "optimizer": OPTIMIZER,
                "seed": 0,
                "example_x": TRAIN_X[:2],
            },
            arrays=("example_x",),
            options=("model", "optimizer", "seed"),
            images=("example_x",),
            # Each accepted example initialises (and compiles) a network.
            max_examples=20,
        ),
        t + "make_train_step": Case(
            train.make_train_step,
            {"model": TINY_CNN, "optimizer": OPTIMIZER},
            options=("model", "optimizer"),
        ),
        t + "make_eval_step": Case(
            train.make_eval_step, {"model": TINY_CNN}, options=("model",)
        ),
        t + "evaluate": Case(
            train.evaluate,
            {
                "eval_step": EVAL_STEP,
                "state": STATE,
                "arrays": (TRAIN_X, TRAIN_Y),
                "batch_size": 2,
            },
            options=("eval_step", "state", "arrays", "batch_size"),
            max_examples=60,
        ),
        t + "fit": Case(
            train.fit,
            {
                "train_step": TRAIN_STEP,
                "state": STATE,
                "batches": Lazy(lambda: data.BatchIterator((TRAIN_X, TRAIN_Y), 2)),
                "config": train.FitConfig(num_steps=2, log_every=1),
            },
            options=("train_step", "state", "batches", "config"),
            max_examples=60,
        ),
        t + "plot_history": Case(
            train.plot_history,
            {
                "history": HISTORY,
                "path": Lazy(lambda: os.path.join(tmp_dir(), "history.png")),
            },
            options=("history", "path"),
            paths=("path",),
            errors=PATH_ERRORS,
            # matplotlib draws a figure for each accepted example.
            max_examples=30,
        ),
    }


# ---------------------------------------------------------------------------
# jaxcnn.playground and jaxcnn.playground_model
# ---------------------------------------------------------------------------

MLP = Lazy(lambda: playground_model.build_mlp((3,), "tanh", ("x1", "x2")))
MLP_VARS = Lazy(lambda: MLP.get().init(KEY))
SPLIT = ((POINTS, BINARY), (POINTS[:4], BINARY[:4]))


def _playground_cases() -> dict[str, Case]:
    p = "jaxcnn.playground."
    cases = {
        p + name: Case(
            getattr(playground, name),
            {"key": 0, "n": 10, "noise": 0.1},
            options=("key", "n", "noise"),
        )
        for name in ("circle", "xor", "gaussian", "spiral", "plane", "multi_gaussian")
    }
    cases[p + "make"] = Case(
        playground.make,
        {"name": "xor", "key": 0, "n": 10, "noise": 0.1},
        options=("name", "key", "n", "noise"),
    )
    cases[p + "task_of"] = Case(playground.task_of, {"name": "xor"}, options=("name",))
    cases[p + "split"] = Case(
        playground.split,
        {"key": 0, "points": POINTS, "labels": BINARY, "ratio": 0.5},
        arrays=("points", "labels"),
        options=("key", "ratio"),
    )
    cases[p + "check_features"] = Case(
        playground.check_features,
        {"names": ("x1", "sin_x2")},
        options=("names",),
        aliases={"names": "features"},
    )
    cases[p + "feature_map"] = Case(
        playground.feature_map,
        {"points": POINTS, "names": ("x1", "x1_x2")},
        arrays=("points",),
        options=("names",),
        aliases={"names": "features"},
    )
    cases[p + "multi_gaussian_surface"] = Case(
        playground.multi_gaussian_surface, {"points": POINTS}, arrays=("points",)
    )
    m = "jaxcnn.playground_model."
    cases[m + "activation_fn"] = Case(
        playground_model.activation_fn,
        {"name": "relu"},
        options=("name",),
        aliases={"name": "activation"},
    )
    cases[m + "build_mlp"] = Case(
        playground_model.build_mlp,
        {"hidden": (3,), "activation": "relu", "features": ("x1",)},
        options=("hidden", "activation", "features"),
    )
    cases[m + "penalty"] = Case(
        playground_model.penalty,
        {"params": Lazy(lambda: MLP_VARS.get()["params"]), "l1": 0.1, "l2": 0.1},
        options=("params", "l1", "l2"),
    )
    cases[m + "data_loss"] = Case(
        playground_model.data_loss,
        {"task": "classification", "outputs": _f32(8), "labels": BINARY},
        arrays=("outputs", "labels"),
        options=("task",),
    )
    cases[m + "evaluate"] = Case(
        playground_model.evaluate,
        {
            "model": MLP,
            "variables": MLP_VARS,
            "task": "classification",
            "points": POINTS,
            "labels": BINARY,
        },
        arrays=("points", "labels"),
        options=("model", "variables", "task"),
    )
    cases[m + "train"] = Case(
        playground_model.train,
        {
            "model": MLP,
            "task": "classification",
            "train_data": SPLIT[0],
            "test_data": SPLIT[1],
            "key": 0,
            "steps": 3,
        },
        options=("model", "task", "train_data", "test_data", "key", "steps"),
        max_examples=60,
    )
    cases[m + "save_boundary_png"] = Case(
        playground_model.save_boundary_png,
        {
            "path": Lazy(lambda: os.path.join(tmp_dir(), "boundary.png")),
            "model": MLP,
            "variables": MLP_VARS,
            "task": "classification",
            "train_data": SPLIT[0],
            "test_data": SPLIT[1],
            "resolution": 8,
        },
        options=("path", "model", "variables", "task", "train_data", "resolution"),
        paths=("path",),
        errors=PATH_ERRORS,
        # matplotlib draws a figure for each accepted example.
        max_examples=30,
    )
    return cases


CASES: dict[str, Case] = {
    **_ops_cases(),
    **_kernels_cases(),
    **_boxes_cases(),
    **_images_cases(),
    **_mtcnn_cases(),
    **_facenet_cases(),
    **_data_cases(),
    **_models_train_cases(),
    **_playground_cases(),
}

#: Public classes not swept here, with the reason.
EXEMPT = {
    "jaxcnn.mtcnn.Detections": "a result container (NamedTuple)",
    "jaxcnn.mtcnn.MTCNNDefaults": "a frozen record of the documented defaults",
    "jaxcnn.facenet.NN2": "a Flax module; its inputs are checked by its apply",
    "jaxcnn.facenet.InceptionResnetV1": "a Flax module",
    "jaxcnn.facenet.SmallEmbeddingNet": "a Flax module",
    "jaxcnn.models.Model": "built by models.build (swept); init/apply swept below",
    "jaxcnn.data.BatchIterator": "a class; its constructor is swept separately",
    "jaxcnn.train.TrainState": "a result container (NamedTuple)",
    "jaxcnn.train.FitConfig": "a record of settings, checked by fit (swept)",
    "jaxcnn.train.FitResult": "a result container",
    "jaxcnn.train.Checkpoints": "covered by tests/test_resume.py and test_train.py",
    "jaxcnn.train.NonFiniteError": "an exception type",
    "jaxcnn.playground_model.Model": "a result container (NamedTuple)",
    "jaxcnn.playground_model.TrainResult": "a result container (NamedTuple)",
}
