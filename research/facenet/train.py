"""FaceNet's recipe on a CPU: triplet loss with online semi-hard mining.

Schroff, Kalenichenko and Philbin, "FaceNet: A Unified Embedding for Face
Recognition and Clustering", CVPR 2015 (arXiv 1503.03832).

Default run (real data that fits a CPU): Fashion-MNIST classes 0-6 play the
training identities; the verification pairs come from the *unseen* classes 7-9
(test split), scored with the LFW protocol (10 folds of 300 same and 300
different pairs: accuracy, VAL at FAR 1e-3, AUC; ``jaxcnn.facenet.evaluation``).
The same small network is also trained as a softmax classifier on the same
classes and batches; its L2-normalised bottleneck features are the baseline.

    python research/facenet/train.py --data-dir /path/to/fashion-mnist

With ``--lfw DIR --weights FILE`` it instead runs the LFW protocol with a
pretrained network (e.g. facenet-pytorch's VGGFace2 state dict) on aligned
crops ``DIR/<name>/<name>_<nnnn>.{jpg,png}`` and ``DIR/pairs.txt``.

Data lookup for Fashion-MNIST (``jaxcnn.data.find_dataset``): ``--data-dir`` if
given (and then only it), else ``$JAXCNN_DATA`` (the directory itself or its
``fashion-mnist`` subdirectory), then ``/usr/share/datasets/fashion-mnist``
(Debian's ``dataset-fashion-mnist``).
"""

import argparse
import json
import logging
import os
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # facenet_config; research/_script

import _script  # noqa: E402
from facenet_config import Config, get_config  # noqa: E402

from jaxcnn import data as jdata  # noqa: E402
from jaxcnn import train as jtrain  # noqa: E402
from jaxcnn.facenet import (  # noqa: E402
    SmallEmbeddingNet,
    evaluate_pairs,
    l2_normalize,
    triplet_loss_and_stats,
)
from jaxcnn.models import Model  # noqa: E402

LOG = logging.getLogger("facenet")


# ---------------------------------------------------------------------------
# Data


def select_classes(images, labels, classes):
    """The examples whose label is in ``classes``."""
    keep = np.isin(labels, classes)
    return images[keep], labels[keep]


class IdentityBatches:
    """Identity-balanced batches: P identities x K images (FaceNet section 3.2).

    Batch ``step`` is a pure function of ``(seed, step)``, as ``jaxcnn.train.fit``
    expects: P identities drawn without replacement, K images of each drawn
    without replacement. Labels are mapped to ``0 .. len(classes) - 1``.
    """

    def __init__(self, images, labels, classes, p: int, k: int, seed: int):
        if not 2 <= p <= len(classes):
            raise ValueError(
                f"people_per_batch must be in [2, {len(classes)}]; got {p}"
            )
        self.images, self.p, self.k, self.seed = images, p, k, seed
        self.members = [np.flatnonzero(labels == c) for c in classes]
        if min(len(m) for m in self.members) < k:
            raise ValueError(f"images_per_person {k} exceeds a class's image count")

    def batch(self, step: int):
        """Batch number ``step``: ``(images (P K, H, W, 1), labels (P K,))``."""
        rng = np.random.default_rng([self.seed, int(step)])
        people = rng.choice(len(self.members), self.p, replace=False)
        index = np.concatenate(
            [rng.choice(self.members[c], self.k, replace=False) for c in people]
        )
        return self.images[index], np.repeat(people, self.k).astype(np.int32)


def make_pairs(labels, n_folds: int, per_fold: int, seed: int):
    """LFW-style pairs: per fold ``per_fold`` same then ``per_fold`` different.

    Returns index arrays ``first``, ``second`` and the boolean ``is_same``.
    """
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    members = {c: np.flatnonzero(labels == c) for c in classes}
    first, second, same = [], [], []
    for _ in range(n_folds):
        for _ in range(per_fold):
            a, b = rng.choice(members[rng.choice(classes)], 2, replace=False)
            first.append(a), second.append(b), same.append(True)
        for _ in range(per_fold):
            c1, c2 = rng.choice(classes, 2, replace=False)
            (
                first.append(rng.choice(members[c1])),
                second.append(rng.choice(members[c2])),
            )
            same.append(False)
    return np.array(first), np.array(second), np.array(same)


# ---------------------------------------------------------------------------
# Models and steps


class EmbeddingClassifier(nn.Module):
    """The softmax baseline: the same network, a linear classifier on top."""

    backbone: nn.Module
    num_classes: int

    def setup(self):
        """Creates the classifier head."""
        self.head = nn.Dense(self.num_classes)

    def __call__(self, x, train: bool = False):
        """Logits ``(N, num_classes)``."""
        return self.head(self.backbone(x, train))

    def embed(self, x):
        """The L2-normalised bottleneck features ``(N, E)`` (inference mode)."""
        return l2_normalize(self.backbone(x, False))


def _float_images(images):
    return jnp.asarray(images).astype(jnp.float32) / 255.0


def make_triplet_step(model: Model, optimizer, margin: float, mining: str):
    """The pure step ``(state, (images, labels)) -> (state, metrics)``.

    Metrics follow ``jaxcnn.train.fit``: ``loss``, ``grad_norm``, ``finite`` and
    ``accuracy``, here the fraction of mined triplets already satisfying the
    margin (1 - fraction with a positive loss).
    """

    def step(state: jtrain.TrainState, batch):
        images, labels = batch
        key = jax.random.fold_in(state.rng, state.step)

        def loss_fn(params):
            variables = {"params": params, **state.model_state}
            emb, new_state = model.apply(
                variables, _float_images(images), train=True, rngs={"dropout": key}
            )
            loss, stats = triplet_loss_and_stats(
                emb, labels, margin=margin, mining=mining
            )
            return loss, (stats, new_state)

        (loss, (stats, new_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        grad_norm = optax.tree.norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        new = jtrain.TrainState(
            step=state.step + 1,
            params=optax.apply_updates(state.params, updates),
            model_state={**state.model_state, **new_state},
            opt_state=opt_state,
            rng=state.rng,
        )
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(finite, a, b), new, state)
        metrics = {
            "loss": loss,
            "accuracy": 1.0 - stats["fraction_positive"],
            "grad_norm": grad_norm,
            "finite": finite,
        }
        return new, metrics

    return step


def make_optimizer(cfg: Config) -> optax.GradientTransformation:
    """AdaGrad at ``cfg.learning_rate`` (FaceNet section 3.3: 0.05)."""
    return optax.adagrad(cfg.learning_rate)


def fit(
    model: Model, step, optimizer, batches, cfg: Config, label: str
) -> jtrain.TrainState:
    """Trains ``step`` (built with ``optimizer``) with ``jaxcnn.train.fit``."""
    example = batches.batch(0)[0][:1].astype(np.float32)
    state = jtrain.create_train_state(model, optimizer, cfg.seed, example)

    def log(entry):
        if "loss" in entry:
            LOG.info(
                "%s step %d loss %.4f acc %.3f (%.0f s)",
                label,
                entry["step"],
                entry["loss"],
                entry["accuracy"],
                entry["elapsed"],
            )

    config = jtrain.FitConfig(
        num_steps=cfg.steps, log_every=max(cfg.steps // 10, 1), on_history=log
    )
    return jtrain.fit(jax.jit(step), state, batches, config).state


def embed_all(fn, images, batch_size: int = 500) -> np.ndarray:
    """Applies the jitted ``fn`` to ``images`` in batches (last one padded)."""
    out = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        pad = batch_size - len(chunk)
        padded = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        out.append(np.asarray(fn(_float_images(padded)))[: len(chunk)])
    return np.concatenate(out)


def verification(embeddings, pairs, n_folds: int) -> dict:
    """``evaluate_pairs`` on the squared distances of the pairs."""
    first, second, same = pairs
    dist = np.sum((embeddings[first] - embeddings[second]) ** 2, axis=1)
    return evaluate_pairs(dist, same, n_folds=n_folds)


# ---------------------------------------------------------------------------
# The two protocols


def run_fashion(cfg: Config, data_dir: str | os.PathLike) -> dict:
    """Triplet model vs softmax baseline on unseen Fashion-MNIST classes."""
    train_x, train_y = select_classes(
        *jdata.load_fashion_mnist(data_dir, "train"), cfg.train_classes
    )
    test_x, test_y = jdata.load_fashion_mnist(data_dir, "test")
    eval_x, eval_y = select_classes(test_x, test_y, cfg.eval_classes)
    seen_x, seen_y = select_classes(test_x, test_y, cfg.train_classes)
    batches = IdentityBatches(
        train_x,
        np.searchsorted(cfg.train_classes, train_y),
        range(len(cfg.train_classes)),
        cfg.people_per_batch,
        cfg.images_per_person,
        cfg.seed,
    )
    pairs = make_pairs(eval_y, cfg.n_folds, cfg.pairs_per_fold, cfg.seed + 1)
    seen_pairs = make_pairs(seen_y, cfg.n_folds, cfg.pairs_per_fold, cfg.seed + 2)
    backbone = SmallEmbeddingNet(widths=cfg.widths, embedding_dim=cfg.embedding_dim)
    shape = train_x.shape[1:]
    results = {}

    triplet_model = Model("facenet_small", backbone, shape)
    optimizer = make_optimizer(cfg)
    step = make_triplet_step(triplet_model, optimizer, cfg.margin, cfg.mining)
    start = time.perf_counter()
    state = fit(triplet_model, step, optimizer, batches, cfg, "triplet")
    results["triplet_train_s"] = time.perf_counter() - start
    fn = jax.jit(lambda x: triplet_model.apply(state.variables, x))
    results["triplet"] = verification(embed_all(fn, eval_x), pairs, cfg.n_folds)
    results["triplet_seen"] = verification(
        embed_all(fn, seen_x), seen_pairs, cfg.n_folds
    )

    classifier = EmbeddingClassifier(
        SmallEmbeddingNet(cfg.widths, cfg.embedding_dim, normalize=False),
        len(cfg.train_classes),
    )
    softmax_model = Model("facenet_small_softmax", classifier, shape)
    step = jtrain.make_train_step(softmax_model, optimizer)
    start = time.perf_counter()
    state = fit(softmax_model, step, optimizer, batches, cfg, "softmax")
    results["softmax_train_s"] = time.perf_counter() - start
    fn = jax.jit(lambda x: classifier.apply(state.variables, x, method="embed"))
    results["softmax"] = verification(embed_all(fn, eval_x), pairs, cfg.n_folds)
    results["softmax_seen"] = verification(
        embed_all(fn, seen_x), seen_pairs, cfg.n_folds
    )
    return results


def run_lfw(lfw_dir: str, weights: str, pairs_path: str | None, batch_size=32) -> dict:
    """The LFW protocol with a pretrained network on aligned face crops."""
    from jaxcnn import images
    from jaxcnn.facenet import evaluation, fixed_standardize, nets

    pairs = evaluation.read_pairs(pairs_path or os.path.join(lfw_dir, "pairs.txt"))
    model, variables, size = nets.load_model(weights)
    embed = jax.jit(lambda x: nets.embed(model, variables, x))
    cache: dict[tuple[str, int], np.ndarray] = {}

    def path_of(name, number):
        for ext in ("jpg", "png"):
            path = evaluation.image_path(lfw_dir, name, number, ext)
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(f"no image for {name} {number} under {lfw_dir}")

    keys = sorted(
        {(p.name1, p.number1) for p in pairs} | {(p.name2, p.number2) for p in pairs}
    )
    for start in range(0, len(keys), batch_size):
        chunk = keys[start : start + batch_size]
        crops = [
            images.align_faces(
                img, [[0, 0, img.shape[1], img.shape[0]]], size=size, margin=0
            )[0]
            for img in (images.load(path_of(*k)) for k in chunk)
        ]
        vectors = np.asarray(embed(fixed_standardize(np.stack(crops))))
        cache.update(zip(chunk, vectors, strict=True))
    first = np.stack([cache[(p.name1, p.number1)] for p in pairs])
    second = np.stack([cache[(p.name2, p.number2)] for p in pairs])
    dist = np.sum((first - second) ** 2, axis=1)
    same = np.array([p.is_same for p in pairs])
    n_folds = max(p.fold for p in pairs) + 1
    return {"lfw": evaluate_pairs(dist, same, n_folds=max(n_folds, 2))}


# ---------------------------------------------------------------------------
# Command line


def parse_args(argv):
    """The command-line flags (defaults from ``facenet_config.Config``)."""
    defaults = Config()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", help="Fashion-MNIST directory (see the docstring)")
    p.add_argument("--steps", type=int, default=defaults.steps)
    p.add_argument("--images-per-person", type=int, default=defaults.images_per_person)
    p.add_argument("--pairs-per-fold", type=int, default=defaults.pairs_per_fold)
    p.add_argument("--widths", type=int, nargs="+", default=list(defaults.widths))
    p.add_argument("--embedding-dim", type=int, default=defaults.embedding_dim)
    p.add_argument(
        "--mining", default=defaults.mining, choices=("semihard", "hard", "all")
    )
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--lfw", metavar="DIR", help="run the LFW protocol on aligned crops")
    p.add_argument("--pairs", help="pairs.txt for --lfw (default DIR/pairs.txt)")
    p.add_argument("--weights", help="network weights for --lfw (.pt or .npz)")
    p.add_argument("--json", metavar="FILE", help="also write the results here")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Runs the Fashion-MNIST or the LFW protocol; returns the results."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = parse_args(argv)
    start = time.perf_counter()
    if args.lfw:
        if not args.weights:
            raise SystemExit("--lfw needs --weights FILE (a pretrained network)")
        results = run_lfw(args.lfw, args.weights, args.pairs)
    else:
        cfg = get_config(
            steps=args.steps,
            images_per_person=args.images_per_person,
            pairs_per_fold=args.pairs_per_fold,
            widths=tuple(args.widths),
            embedding_dim=args.embedding_dim,
            mining=args.mining,
            seed=args.seed,
        )
        data_dir = _script.find_data("fashion-mnist", args.data_dir)
        if data_dir is None:
            raise SystemExit(2)
        LOG.info("config %s; data %s; devices %s", cfg, data_dir, jax.devices())
        results = run_fashion(cfg, data_dir)
    results["wall_s"] = time.perf_counter() - start
    for name, scores in results.items():
        if isinstance(scores, dict):
            LOG.info(
                "%s: accuracy %.4f +- %.4f, VAL %.4f +- %.4f at FAR %.4f, AUC %.4f",
                name,
                scores["accuracy"],
                scores["accuracy_std"],
                scores["val"],
                scores["val_std"],
                scores["far"],
                scores["auc"],
            )
    LOG.info("wall time %.0f s", results["wall_s"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
