"""Faults the sweep found that are not fixed yet (each one a TODO).

Key: ``(function, argument, mutation kind prefix)``; value: what happens. The
sweep tolerates exactly these; ``test_known_faults_still_reproduce`` fails as
soon as one is fixed, so that its entry is deleted and the sweep guards it.
"""

from tests.sweep.framework import Spoiled

KNOWN_FAULTS: dict[tuple[str, str, str], str] = {
    # TODO: a channels-first example (4, 1, 28, 28) is a valid rank-4 array; the
    # network's own pooling then fails while tracing, naming window_shape rather
    # than example_x. Fixing it needs each architecture to state its minimum
    # input size (Model.input_shape is only the published size).
    ("jaxcnn.train.create_train_state", "example_x", "channels-first"): (
        "ValueError from the model's max_pool while tracing (names window_shape)"
    ),
}


def known_fault(name: str, spoiled: Spoiled) -> tuple[str, str, str] | None:
    """The KNOWN_FAULTS key covering this spoiled call of ``name``, if any."""
    for key in KNOWN_FAULTS:
        function, argument, kind = key
        if function == name and argument == spoiled.name:
            if spoiled.kind.startswith(kind):
                return key
    return None
