"""``jaxcnn verify``: are the largest faces of two images the same person?

Usage::

    jaxcnn verify IMAGE1 IMAGE2 --weights FILE [--threshold D] [--margin PX]
                  [--no-detect]

Both images go through the ``jaxcnn embed`` pipeline (MTCNN, largest face,
aligned crop, FaceNet embedding; see ``jaxcnn.commands.embed`` for
``--weights``, ``--margin`` and ``--no-detect``). The verdict compares the
**squared** Euclidean distance of the two unit embeddings (0 = identical,
4 = opposite) with ``--threshold``: "same" when ``distance < threshold``.

The default threshold 1.1 is the one the FaceNet paper gives for its Fig. 1
("a threshold of 1.1 would classify every pair correctly"; Schroff et al.
2015, SPECS B1). It was chosen for the paper's own network; for another model,
pick it on labelled pairs, e.g. with ``jaxcnn.facenet.evaluate_pairs`` (whose
``threshold`` is the 10-fold choice).

Output (stdout): one JSON document with ``distance``, ``threshold``,
``same`` (bool), ``verdict`` ("same" or "different") and ``images`` (``path``
and ``box`` of the face used, per image). A one-line summary goes to stderr.

Exit status: 0 the pair was compared (whatever the verdict); 1 an image could
not be read or had no face; 2 bad command line or weights file.
"""

import argparse
import json
import math
import sys

import numpy as np

from jaxcnn.commands import embed

#: Squared-L2 threshold of FaceNet's Fig. 1 (Schroff et al. 2015; SPECS B1).
PAPER_THRESHOLD = 1.1


def add_parser(sub) -> None:
    """Adds the ``verify`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "verify",
        help="compare the largest faces of two images (same / different person)",
        description=__doc__.split("\n\n")[0].replace("``", ""),
    )
    p.add_argument("images", nargs=2, metavar="IMAGE", help="two image files")
    embed.add_model_arguments(p)
    p.add_argument(
        "--threshold",
        type=_threshold,
        default=PAPER_THRESHOLD,
        metavar="D",
        help="squared-distance threshold, in (0, 4] "
        f"(default {PAPER_THRESHOLD}, FaceNet paper Fig. 1)",
    )
    p.set_defaults(run=run)


def _threshold(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or not 0 < value <= 4:
        raise argparse.ArgumentTypeError(f"must be in (0, 4]; got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    """Runs ``jaxcnn verify``; returns the exit status."""
    try:
        embedder = embed.load_embedder(args)
    except (ValueError, ImportError, OSError) as err:
        print(f"jaxcnn verify: error: {err}", file=sys.stderr)
        return embed.EXIT_USAGE
    faces = []
    for path in args.images:
        try:
            faces.append((path, *embedder(path)))
        except embed.FaceError as err:
            print(f"jaxcnn verify: {err}", file=sys.stderr)
            return embed.EXIT_INPUT
    (_, _, first), (_, _, second) = faces[0], faces[1]
    distance = float(np.sum((first.astype(np.float64) - second) ** 2))
    same = distance < args.threshold
    verdict = "same" if same else "different"
    result = {
        "distance": distance,
        "threshold": args.threshold,
        "same": same,
        "verdict": verdict,
        "images": [{"path": p, "box": box} for p, box, _ in faces],
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    print(
        f"{verdict}: squared distance {distance:.4f} "
        f"{'<' if same else '>='} threshold {args.threshold}",
        file=sys.stderr,
    )
    return embed.EXIT_OK
