"""LFW pairs.txt parsing and the 10-fold verification metrics, on fixtures
worked out by hand."""

import numpy as np
import pytest

from jaxcnn.facenet import evaluate_pairs, parse_pairs, read_pairs
from jaxcnn.facenet.evaluation import (
    VAL_THRESHOLDS,
    _far_threshold,
    fold_indices,
    image_path,
)

PAIRS_TXT = """2\t2
Abel_Pacheco\t1\t4
Akhmed_Zakayev\t1\t3
Abdel_Madi_Shabneh\t1\tDean_Barker\t1
Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1
Zico\t2 3
Zoe_Ball\t1\t2
Zico\t1\tZoe_Ball\t1
A_B  10   C_D 12
"""


def test_parse_pairs_both_line_forms_and_folds(tmp_path):
    pairs = parse_pairs(PAIRS_TXT)
    assert len(pairs) == 8
    assert [p.fold for p in pairs] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert [p.is_same for p in pairs] == [True, True, False, False] * 2
    assert pairs[0] == ("Abel_Pacheco", 1, "Abel_Pacheco", 4, True, 0)
    assert pairs[2][:4] == ("Abdel_Madi_Shabneh", 1, "Dean_Barker", 1)
    assert pairs[7][:4] == ("A_B", 10, "C_D", 12)
    path = tmp_path / "pairs.txt"
    path.write_text(PAIRS_TXT)
    assert read_pairs(path) == pairs
    assert image_path("/lfw", "Zico", 2) == "/lfw/Zico/Zico_0002.jpg"


def test_parse_pairs_errors():
    with pytest.raises(ValueError, match="header"):
        parse_pairs("ten\t300\n")
    with pytest.raises(ValueError, match="line 3"):
        parse_pairs("1\t1\nA\t1\t2\nB\t1\tC\n")
    with pytest.raises(ValueError, match="promises"):
        parse_pairs("2\t1\nA\t1\t2\nB\t1\tC\t2\n")
    with pytest.raises(ValueError, match="empty"):
        parse_pairs("\n\n")


def test_single_number_header_is_one_fold():
    pairs = parse_pairs("1\nA 1 2\nA 1 B 1\n")
    assert [p.fold for p in pairs] == [0, 0]


def test_folds_follow_unshuffled_kfold():
    sizes = [len(f) for f in fold_indices(23, 10)]
    assert sizes == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
    assert np.array_equal(np.concatenate(fold_indices(23, 10)), np.arange(23))


# Fold 0: pairs 0-3, fold 1: pairs 4-7 (two "same" then two "different").
DIST = np.array([0.2, 1.0, 2.0, 3.0, 1.0, 2.0, 0.4, 3.0])
SAME = np.array([True, True, False, False] * 2)


def test_evaluate_pairs_by_hand():
    r = evaluate_pairs(
        DIST,
        SAME,
        n_folds=2,
        far_target=0.25,
        thresholds=[0.5, 1.5, 2.5],
        val_thresholds=[0.0, 1.0, 2.0, 3.0, 4.0],
    )
    # Accuracy. Test fold 0, train fold 1: accuracies at 0.5 / 1.5 / 2.5 are
    # 1/4, 2/4, 3/4 -> 2.5; on fold 0, d < 2.5 predicts T,T,T,F -> 3/4.
    # Test fold 1, train fold 0: 3/4, 4/4, 3/4 -> 1.5; on fold 1 predicts
    # T,F,T,F against T,T,F,F -> 2/4.
    assert r["fold_threshold"] == [2.5, 1.5]
    assert r["fold_accuracy"] == [0.75, 0.5]
    assert r["accuracy"] == pytest.approx(0.625)
    assert r["accuracy_std"] == pytest.approx(0.125)
    assert r["threshold"] == pytest.approx(2.0)
    # VAL. Test fold 0: train FAR over the grid is 0, .5, .5, .5, 1; FAR 0.25
    # lies between t=0 (FAR 0) and t=1 (FAR .5) -> t = 0.5. On fold 0: VAL 1/2
    # (0.2 < 0.5), FAR 0. Test fold 1: train FAR 0, 0, 0, .5, 1 -> t = 2.5. On
    # fold 1: VAL 2/2, FAR 1/2 (0.4 < 2.5, 3.0 is not).
    assert r["val"] == pytest.approx(0.75)
    assert r["val_std"] == pytest.approx(0.25)
    assert r["far"] == pytest.approx(0.25)
    # AUC: test-fold (FAR, TAR) at 0.5 / 1.5 / 2.5: fold 0 (0, .5), (0, 1),
    # (.5, 1); fold 1 (.5, 0), (.5, .5), (.5, 1). Means: (.25, .25), (.25, .75),
    # (.5, 1). Trapezoids: 0 + .25 * (.75 + 1) / 2 = 0.21875.
    assert r["auc"] == pytest.approx(0.21875)


def test_evaluate_pairs_default_grids_separable():
    """10 folds of one same pair (d = 0.5) and one different pair (d = 1.5003)."""
    dist = np.tile([0.5, 1.5003], 10)
    same = np.tile([True, False], 10)
    r = evaluate_pairs(dist, same)
    assert r["accuracy"] == 1.0 and r["accuracy_std"] == 0.0
    # First grid threshold above 0.5 with 0.01 steps: 0.51.
    assert r["threshold"] == pytest.approx(0.51)
    # Training FAR is 0 up to t = 1.500 and 1 from t = 1.501: the interpolated
    # threshold 1.500001 accepts every same pair and no different pair.
    assert r["val"] == 1.0 and r["far"] == 0.0
    # FAR never reaching the target gives threshold 0: nothing accepted.
    r = evaluate_pairs(np.tile([0.5, 5.0], 10), same)
    assert r["val"] == 0.0 and r["far"] == 0.0


def test_evaluate_pairs_far_target_on_a_plateau():
    """The training FAR equals the target on a run of thresholds: the largest."""
    r = evaluate_pairs(
        DIST,
        SAME,
        n_folds=2,
        far_target=0.5,
        val_thresholds=[0.0, 1.0, 2.0, 3.0, 4.0],
    )
    # Test fold 0: train FAR 0, .5, .5, .5, 1 hits 0.5 at t = 1, 2, 3 -> t = 3
    # (the first, t = 1, would give VAL 1/2 and FAR 0). On fold 0: VAL 2/2
    # (0.2, 1.0 < 3), FAR 1/2 (2.0 < 3). Test fold 1: train FAR 0, 0, 0, .5, 1
    # -> t = 3; on fold 1: VAL 2/2, FAR 1/2 (0.4 < 3).
    assert r["val"] == 1.0 and r["val_std"] == 0.0
    assert r["far"] == 0.5


GRID5 = np.array([0.0, 1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize(
    ("far", "target", "expected"),
    [
        # Flat at the first points: the slope there is 0 / 0.
        ([0.5, 0.5, 1.0], 0.5, 1.0),  # last threshold of the plateau
        ([0.25, 0.25, 1.0], 0.25, 1.0),
        ([0.5, 0.5, 1.0], 0.75, 1.5),  # between the plateau's end and 1.0
        ([0.5, 0.5, 1.0], 0.25, 0.0),  # below the first FAR: thresholds[0]
        # Plateaus inside the curve.
        ([0.0, 0.5, 0.5, 0.5, 1.0], 0.5, 3.0),
        ([0.0, 0.5, 0.5, 0.5, 1.0], 0.25, 0.5),
        ([0.0, 0.5, 0.5, 0.5, 1.0], 0.75, 3.5),
        ([0.0, 0.0, 0.0, 0.5, 1.0], 0.25, 2.5),
        # A plateau that ends the grid at the target, and a target not reached.
        ([0.0, 0.5, 0.5], 0.5, 2.0),
        ([0.0, 0.1, 0.2], 0.5, 0.0),
    ],
)
def test_far_threshold_plateaus_are_finite(far, target, expected):
    far = np.asarray(far)
    with np.errstate(all="raise"):  # no 0 / 0 or x / 0 on the way
        t = _far_threshold(far, GRID5[: far.size], target)
    assert t == pytest.approx(expected, abs=1e-12)


def _scipy_slinear(far, thresholds, target):
    """scipy's ``interp1d(far, thresholds, kind="slinear")(target)``.

    Recent scipy (1.17 here) rejects repeated ``far`` values ("Expect x to not
    have duplicates"). The scipy of davidsandberg/facenet's time accepted them:
    for ``kind="slinear"`` it built the degree-1 B-spline with knots
    ``[far[0], *far, far[-1]]`` and coefficients ``thresholds`` without any
    check, which is rebuilt here with scipy's own ``BSpline``.
    """
    interpolate = pytest.importorskip("scipy.interpolate")
    try:
        return float(interpolate.interp1d(far, thresholds, kind="slinear")(target))
    except ValueError:
        knots = np.r_[far[0], far, far[-1]]
        return float(interpolate.BSpline(knots, thresholds, 1)(target))


def test_far_threshold_matches_scipy_slinear():
    """Against scipy on curves with plateaus and targets on and between them."""
    pytest.importorskip("scipy")
    curves = [
        (np.array([0.0, 0.2, 0.5, 1.0]), GRID5[:4]),  # no plateau: plain interp1d
        (np.array([0.0, 0.5, 0.5, 0.5, 1.0]), GRID5),
        (np.array([0.5, 0.5, 1.0]), GRID5[:3]),
        (np.array([0.25, 0.25, 1.0]), GRID5[:3]),
        (np.array([0.0, 0.0, 0.5, 0.5, 1.0, 1.0]), np.arange(6.0)),
    ]
    # FAR of 40 random "different" distances on the real 4,000-point grid:
    # 41 plateaus, each level k / 40 reached exactly.
    diff = np.sort(np.random.default_rng(0).uniform(0.5, 3.5, 40))
    far = np.searchsorted(diff, VAL_THRESHOLDS, side="left") / diff.size
    curves.append((far, VAL_THRESHOLDS))
    checked = 0
    for far, grid in curves:
        levels = np.unique(far)
        targets = np.r_[levels, (levels[1:] + levels[:-1]) / 2]
        for target in targets:
            if far.size > 1 and far[-2] == far[-1] == target:
                continue  # scipy's spline is 0 on its zero-length last piece
            want = _scipy_slinear(far, grid, target)
            assert _far_threshold(far, grid, target) == pytest.approx(
                want, rel=1e-12, abs=1e-12
            ), (far, target)
            checked += 1
    assert checked > 80


def test_evaluate_pairs_validation():
    with pytest.raises(ValueError, match="is_same"):
        evaluate_pairs(DIST, SAME[:4])
    with pytest.raises(TypeError, match="is_same"):
        evaluate_pairs(DIST, SAME.astype(int))
    with pytest.raises(ValueError, match="n_folds"):
        evaluate_pairs(DIST, SAME, n_folds=9)
    with pytest.raises(ValueError, match="far_target"):
        evaluate_pairs(DIST, SAME, n_folds=2, far_target=0.0)
    with pytest.raises(ValueError, match="distances"):
        evaluate_pairs(np.full(8, np.nan), SAME, n_folds=2)
    with pytest.raises(ValueError, match="distances"):
        evaluate_pairs(DIST[:, None], SAME, n_folds=2)
    with pytest.raises(ValueError, match="val_thresholds must be .* increasing"):
        evaluate_pairs(DIST, SAME, n_folds=2, val_thresholds=[0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="thresholds must be .* increasing"):
        evaluate_pairs(DIST, SAME, n_folds=2, thresholds=[0.5, 0.5, 1.0])
    with pytest.raises(ValueError, match="val_thresholds"):
        evaluate_pairs(DIST, SAME, n_folds=2, val_thresholds=[0.0, np.nan])
    with pytest.raises(ValueError, match="thresholds"):
        evaluate_pairs(DIST, SAME, n_folds=2, thresholds=[[0.5, 1.5]])
    with pytest.raises(ValueError, match="val_thresholds"):
        evaluate_pairs(DIST, SAME, n_folds=2, val_thresholds=[])
    with pytest.raises(TypeError, match="thresholds"):
        evaluate_pairs(DIST, SAME, n_folds=2, thresholds=["a", "b"])
