"""Settings of the FaceNet research run (``train.py``), with their sources."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
    """One run of ``train.py``; the command-line flags override these.

    Attributes:
      train_classes: Fashion-MNIST classes used as training identities.
      eval_classes: unseen classes the verification pairs are drawn from.
      people_per_batch: P, identities per batch (the paper uses about 45;
        here every training class is in every batch).
      images_per_person: K, images per identity (the paper: about 40, SPECS B2).
      steps: training steps for each of the two models.
      learning_rate: AdaGrad learning rate (FaceNet section 3.3: 0.05).
      margin: triplet margin alpha (FaceNet section 3.3: 0.2).
      mining: online mining rule (FaceNet section 3.2: semi-hard).
      widths: channels of the small network's stages.
      embedding_dim: embedding size.
      n_folds: verification folds (LFW protocol: 10).
      pairs_per_fold: same pairs per fold, and as many different pairs
        (LFW: 300).
      seed: seeds the parameters, the batches and the pairs.
    """

    train_classes: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    eval_classes: tuple[int, ...] = (7, 8, 9)
    people_per_batch: int = 7
    images_per_person: int = 16
    steps: int = 300
    learning_rate: float = 0.05
    margin: float = 0.2
    mining: str = "semihard"
    widths: tuple[int, ...] = (8, 16, 32)
    embedding_dim: int = 32
    n_folds: int = 10
    pairs_per_fold: int = 300
    seed: int = 0


def get_config(**overrides) -> Config:
    """The default configuration with ``overrides`` applied."""
    return dataclasses.replace(Config(), **overrides)
