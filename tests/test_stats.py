"""Tests of bench.scoring.stats against published or hand-computed values (sources in comments)."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from bench.scoring.stats import (
    Agreement,
    PairedComparison,
    Rate,
    agreement,
    cohen_kappa,
    consistency,
    exact_mcnemar,
    flaky_cases,
    format_p,
    krippendorff_alpha,
    mean,
    min_discordant_for_significance,
    paired_comparison,
    pass_hat_k,
    percentile,
    rate,
    wilson_interval,
)

Z95 = 1.959963984540054  # Phi^-1(0.975)

# ---------------------------------------------------------------------------------------------
# Wilson score interval
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # 8/10 at 95%: standard Wilson table value (0.4902, 0.9433).
        (8, 10, 0.4902, 0.9433),
        # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score):
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_published_values(successes: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(successes, n)
    assert round(got_low, 4) == low
    assert round(got_high, 4) == high


def test_wilson_extremes_closed_form() -> None:
    # With 0 successes the Wilson upper bound is z^2 / (n + z^2); with n successes the lower bound is
    # n / (n + z^2) (Wilson 1927, setting p = 0 or 1 in the score formula).
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(Z95**2 / (10 + Z95**2), abs=1e-12)
    assert round(high, 4) == 0.2775
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(10 / (10 + Z95**2), abs=1e-12)
    assert round(low, 4) == 0.7225
    assert high == 1.0


def test_wilson_no_trials_and_symmetry_and_confidence() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # Swapping successes and failures mirrors the interval.
    low, high = wilson_interval(3, 17)
    mirror_low, mirror_high = wilson_interval(14, 17)
    assert low == pytest.approx(1 - mirror_high)
    assert high == pytest.approx(1 - mirror_low)
    # A higher confidence gives a strictly wider interval around the same point.
    low99, high99 = wilson_interval(8, 10, confidence=0.99)
    assert low99 < 0.4902 and high99 > 0.9433
    assert low99 < 0.8 < high99


def test_wilson_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        wilson_interval(-1, 10)
    with pytest.raises(ValueError):
        wilson_interval(1, 10, confidence=1.0)


def test_rate() -> None:
    r = rate(8, 10)
    assert isinstance(r, Rate)
    assert r.value == 0.8
    assert (r.successes, r.n) == (8, 10)
    assert (round(r.low, 4), round(r.high, 4)) == (0.4902, 0.9433)
    empty = rate(0, 0)
    assert empty.value is None
    assert (empty.low, empty.high) == (0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Exact McNemar
# ---------------------------------------------------------------------------------------------


def _brute_force_mcnemar(b: int, c: int) -> Fraction:
    """Two-sided exact binomial test on d = b + c with p = 1/2, summing the probabilities of all
    outcomes at most as likely as the observed one (the textbook definition of the two-sided p)."""
    d = b + c
    if d == 0:
        return Fraction(1)
    probs = [Fraction(math.comb(d, i), 2**d) for i in range(d + 1)]
    observed = probs[b]
    return min(Fraction(1), sum(p for p in probs if p <= observed))


def test_mcnemar_hand_value() -> None:
    # b=1, c=9: p = 2 * (C(10,0) + C(10,1)) / 2^10 = 2 * 11 / 1024 = 0.021484375
    assert exact_mcnemar(1, 9) == 0.021484375
    assert exact_mcnemar(9, 1) == 0.021484375
    # A clean sweep of d discordant pairs gives 2 * 0.5^d.
    assert exact_mcnemar(0, 8) == 2 * 0.5**8
    assert exact_mcnemar(0, 1) == 1.0


@pytest.mark.parametrize("b", range(0, 13))
@pytest.mark.parametrize("c", range(0, 13))
def test_mcnemar_matches_brute_force_binomial(b: int, c: int) -> None:
    assert exact_mcnemar(b, c) == pytest.approx(float(_brute_force_mcnemar(b, c)), rel=1e-12)


def test_mcnemar_balanced_and_empty() -> None:
    assert exact_mcnemar(0, 0) == 1.0
    for b in range(1, 20):
        assert exact_mcnemar(b, b) == 1.0
    with pytest.raises(ValueError):
        exact_mcnemar(-1, 2)


def test_min_discordant_for_significance() -> None:
    # 2 * 0.5^5 = 0.0625 > 0.05 but 2 * 0.5^6 = 0.03125 <= 0.05;
    # 2 * 0.5^7 = 0.0156 > 0.01 but 2 * 0.5^8 = 0.0078 <= 0.01.
    assert min_discordant_for_significance(0.05) == 6
    assert min_discordant_for_significance(0.01) == 8


# ---------------------------------------------------------------------------------------------
# Paired comparison
# ---------------------------------------------------------------------------------------------


def _outcomes(a_only: int, b_only: int, both_pass: int, both_fail: int) -> tuple[dict, dict]:
    a: dict[str, bool] = {}
    b: dict[str, bool] = {}
    cells = [(True, False)] * a_only + [(False, True)] * b_only
    cells += [(True, True)] * both_pass + [(False, False)] * both_fail
    for i, (pa, pb) in enumerate(cells):
        a[f"case-{i}"] = pa
        b[f"case-{i}"] = pb
    return a, b


def test_paired_comparison_a_better() -> None:
    a, b = _outcomes(a_only=9, b_only=1, both_pass=10, both_fail=5)
    a["only-in-a"] = True  # unpaired cases are ignored
    b["only-in-b"] = False
    cmp = paired_comparison("gpt-5.5", a, "smollm2", b)
    assert isinstance(cmp, PairedComparison)
    assert (cmp.n, cmp.a_only, cmp.b_only, cmp.both_pass, cmp.both_fail) == (25, 9, 1, 10, 5)
    assert cmp.p_value == 0.021484375
    assert cmp.verdict == "A better"
    assert cmp.sentence == "gpt-5.5 better than smollm2 (McNemar exact p=0.021, 25 paired cases)"
    assert cmp.min_detectable is None


def test_paired_comparison_b_better_and_clean_sweep() -> None:
    a, b = _outcomes(a_only=0, b_only=8, both_pass=12, both_fail=5)
    cmp = paired_comparison("smollm2", a, "gpt-5.5", b)
    assert cmp.verdict == "B better"
    assert cmp.p_value == 2 * 0.5**8
    assert cmp.sentence == "gpt-5.5 better than smollm2 (McNemar exact p=0.008, 25 paired cases)"


def test_paired_comparison_cannot_tell() -> None:
    a, b = _outcomes(a_only=6, b_only=3, both_pass=10, both_fail=6)
    cmp = paired_comparison("gpt-5.5", a, "smollm2", b)
    # 2 * (1 + 9 + 36 + 84) / 512 = 260 / 512 = 0.5078125
    assert cmp.p_value == 260 / 512
    assert cmp.verdict == "cannot tell"
    assert cmp.sentence == "cannot tell gpt-5.5 and smollm2 apart with 25 cases (p=0.51)"
    # 9 discordant cases: significance was possible, so no "too few" statement.
    assert cmp.min_detectable is None


def test_paired_comparison_alpha_boundary() -> None:
    a, b = _outcomes(a_only=9, b_only=1, both_pass=0, both_fail=0)
    assert paired_comparison("A", a, "B", b, alpha=0.05).verdict == "A better"
    assert paired_comparison("A", a, "B", b, alpha=0.01).verdict == "cannot tell"


def test_paired_comparison_too_few_cases() -> None:
    # Only 4 paired cases: even 4 of 4 discordant one way gives p = 2 * 0.5^4 = 0.125.
    a, b = _outcomes(a_only=4, b_only=0, both_pass=0, both_fail=0)
    cmp = paired_comparison("A", a, "B", b)
    assert cmp.verdict == "cannot tell"
    assert cmp.p_value == 0.125
    assert cmp.min_detectable is not None
    assert cmp.min_detectable.startswith(
        "too few cases to separate the candidates: even a clean sweep of 4 discordant cases gives p=0.12"
    )
    # Enough cases, but only 3 discordant: a clean sweep of those 3 gives p = 0.25.
    a, b = _outcomes(a_only=3, b_only=0, both_pass=20, both_fail=7)
    cmp = paired_comparison("A", a, "B", b)
    assert cmp.min_detectable is not None
    assert "clean sweep of 3 discordant cases gives p=0.25" in cmp.min_detectable
    # No discordant case at all.
    a, b = _outcomes(a_only=0, b_only=0, both_pass=20, both_fail=7)
    cmp = paired_comparison("A", a, "B", b)
    assert cmp.p_value == 1.0
    assert cmp.min_detectable is not None
    assert "same 27 cases" in cmp.min_detectable


def test_paired_comparison_no_overlap() -> None:
    cmp = paired_comparison("A", {"x": True}, "B", {"y": True})
    assert cmp.n == 0
    assert cmp.verdict == "cannot tell"
    assert cmp.p_value == 1.0


def test_format_p() -> None:
    assert format_p(0.38) == "0.38"
    assert format_p(0.021484375) == "0.021"
    assert format_p(0.0078125) == "0.008"
    assert format_p(0.0004) == "<0.001"
    assert format_p(1.0) == "1.00"


# ---------------------------------------------------------------------------------------------
# pass^k and consistency
# ---------------------------------------------------------------------------------------------


def _brute_pass_hat_k(outcomes: list[bool], k: int) -> Fraction:
    """Fraction of all k-subsets of the trials that pass entirely (definition of C(c,k)/C(n,k))."""
    subsets = list(itertools.combinations(outcomes, k))
    return Fraction(sum(all(s) for s in subsets), len(subsets))


def test_pass_hat_k_hand_example() -> None:
    trials = {
        "a": [True, True, True, False],  # k=2: C(3,2)/C(4,2) = 3/6 = 0.5
        "b": [True, True, True, True],  # 1
        "c": [True, False, False],  # C(1,2) = 0 -> 0
        "d": [True],  # n < k: skipped for k=2
    }
    assert pass_hat_k(trials, 2) == pytest.approx((0.5 + 1 + 0) / 3)
    # k = 1 is the mean pass rate over all cases: (3/4 + 1 + 1/3 + 1) / 4
    assert pass_hat_k(trials, 1) == pytest.approx((0.75 + 1 + 1 / 3 + 1) / 4)
    # k = 4: only a and b have 4 trials: (0 + 1) / 2
    assert pass_hat_k(trials, 4) == pytest.approx(0.5)
    assert pass_hat_k(trials, 5) is None
    for k in (1, 2, 3):
        eligible = [t for t in trials.values() if len(t) >= k]
        expected = sum(_brute_pass_hat_k(t, k) for t in eligible) / len(eligible)
        assert pass_hat_k(trials, k) == pytest.approx(float(expected))
    with pytest.raises(ValueError):
        pass_hat_k(trials, 0)


def test_consistency_and_flaky() -> None:
    trials = {
        "steady": [True, True, True],
        "broken": [False, False],
        "wobbly": [True, False, True],
        "empty": [],
        "flip": [False, True],
    }
    assert consistency(trials) == {
        "steady": "all pass",
        "broken": "all fail",
        "wobbly": "flaky",
        "flip": "flaky",
    }
    assert flaky_cases(trials) == ["wobbly", "flip"]


# ---------------------------------------------------------------------------------------------
# Cohen's kappa
# ---------------------------------------------------------------------------------------------


def _ratings_from_table(table: list[list[int]], categories: list[str]) -> tuple[list[str], list[str]]:
    a: list[str] = []
    b: list[str] = []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [categories[i]] * count
            b += [categories[j]] * count
    return a, b


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # Wikipedia, "Cohen's kappa", worked example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10,
        # no/no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
        ([[20, 5], [10, 15]], 0.4),
        # Same article, "same percentages but different numbers": p_o = 0.6 in both, kappa 0.1304 and 0.2593.
        ([[45, 15], [25, 15]], 0.1304),
        ([[25, 35], [5, 35]], 0.2593),
    ],
)
def test_cohen_kappa_wikipedia(table: list[list[int]], expected: float) -> None:
    a, b = _ratings_from_table(table, ["yes", "no"])
    assert round(cohen_kappa(a, b, ["yes", "no"]), 4) == expected


# Rows: rater A (fail, mixed, pass); columns: rater B.  n = 25; row totals 8, 7, 10; column totals 6, 8, 11.
WEIGHTED_TABLE = [[5, 2, 1], [1, 4, 2], [0, 2, 8]]
CATS = ["fail", "mixed", "pass"]


def _weighted_kappa_by_matrices(table: list[list[int]], w: list[list[Fraction]]) -> Fraction:
    """Cohen (1968): kappa_w = 1 - sum(w * observed) / sum(w * expected), expected = row x col / n."""
    n = sum(map(sum, table))
    rows = [sum(r) for r in table]
    cols = [sum(table[i][j] for i in range(3)) for j in range(3)]
    obs = sum(w[i][j] * table[i][j] for i in range(3) for j in range(3))
    exp = sum(w[i][j] * Fraction(rows[i] * cols[j], n) for i in range(3) for j in range(3))
    return 1 - obs / exp


def test_cohen_kappa_weighted_explicit_matrices() -> None:
    a, b = _ratings_from_table(WEIGHTED_TABLE, CATS)
    h = Fraction(1, 2)
    q = Fraction(1, 4)
    nominal_w = [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    linear_w = [[0, h, 1], [h, 0, h], [1, h, 0]]
    quadratic_w = [[0, q, 1], [q, 0, q], [1, q, 0]]
    # By hand: nominal p_o = 17/25, p_e = 214/625 -> kappa = 211/411;
    # linear: 1 - (4.5/25) / (279.5/625) = 334/559; quadratic: 1 - (2.75/25) / (213.75/625) = 116/171.
    assert _weighted_kappa_by_matrices(WEIGHTED_TABLE, nominal_w) == Fraction(211, 411)
    assert _weighted_kappa_by_matrices(WEIGHTED_TABLE, linear_w) == Fraction(334, 559)
    assert _weighted_kappa_by_matrices(WEIGHTED_TABLE, quadratic_w) == Fraction(116, 171)
    assert cohen_kappa(a, b, CATS) == pytest.approx(211 / 411, abs=1e-12)
    assert cohen_kappa(a, b, CATS, weights="linear") == pytest.approx(334 / 559, abs=1e-12)
    assert cohen_kappa(a, b, CATS, weights="quadratic") == pytest.approx(116 / 171, abs=1e-12)


def test_cohen_kappa_order_matters_only_when_weighted() -> None:
    a, b = _ratings_from_table(WEIGHTED_TABLE, CATS)
    shuffled = ["mixed", "pass", "fail"]
    assert cohen_kappa(a, b, shuffled) == pytest.approx(cohen_kappa(a, b, CATS))
    assert cohen_kappa(a, b, shuffled, weights="linear") != pytest.approx(
        cohen_kappa(a, b, CATS, weights="linear")
    )


def test_cohen_kappa_two_categories_weights_coincide() -> None:
    # With K = 2 the linear and quadratic disagreement weights are the nominal ones.
    a, b = _ratings_from_table([[20, 5], [10, 15]], ["yes", "no"])
    for weights in ("linear", "quadratic"):
        assert cohen_kappa(a, b, ["yes", "no"], weights=weights) == pytest.approx(0.4)


def test_cohen_kappa_drops_missing_and_degenerate() -> None:
    a, b = _ratings_from_table([[20, 5], [10, 15]], ["yes", "no"])
    a_missing = [*a, None, "yes"]
    b_missing = [*b, "no", None]
    assert cohen_kappa(a_missing, b_missing, ["yes", "no"]) == pytest.approx(0.4)
    # Both raters used one category throughout: expected agreement is 1, observed is 1 -> 1.0.
    assert cohen_kappa(["pass"] * 5, ["pass"] * 5, CATS) == 1.0
    assert cohen_kappa(["pass"] * 5, ["pass"] * 5, CATS, weights="quadratic") == 1.0
    # Perfect agreement across categories is 1; systematic disagreement is negative.
    assert cohen_kappa(["fail", "pass"], ["fail", "pass"], CATS) == 1.0
    assert cohen_kappa(["fail", "pass"], ["pass", "fail"], CATS) == pytest.approx(-1.0)


def test_cohen_kappa_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        cohen_kappa(["pass"], ["great"], CATS)
    with pytest.raises(ValueError):
        cohen_kappa(["pass"], ["pass", "fail"], CATS)
    with pytest.raises(ValueError):
        cohen_kappa([None], ["pass"], CATS)
    with pytest.raises(ValueError):
        cohen_kappa(["pass"], ["pass"], CATS, weights="cubic")


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha
# ---------------------------------------------------------------------------------------------

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers,
# 12 units, values 1-5, missing data (unit 12 has a single value and is not pairable).  Printed as
# observers x units; published results: nominal .743, ordinal .815, interval .849, ratio .797.
_ = None
OBSERVERS = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    "C": [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
}
UNITS = [list(unit) for unit in zip(*OBSERVERS.values(), strict=True)]


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_published_example_c(level: str, published: float) -> None:
    assert round(krippendorff_alpha(UNITS, level), 3) == published


def test_krippendorff_nominal_example_c_exact() -> None:
    # As worked in the paper: n = 40 pairable values, n_1..n_5 = 9, 13, 10, 5, 3, sum_c o_cc = 32, so
    # alpha = 1 - (n - 1) (n - sum o_cc) / (n^2 - sum n_c^2) = 1 - 39 * 8 / (1600 - 384) = 113/152.
    assert krippendorff_alpha(UNITS, "nominal") == pytest.approx(113 / 152, abs=1e-12)


def test_krippendorff_mapping_input_and_string_categories() -> None:
    as_mapping = {
        f"unit-{u}": {coder: values[u] for coder, values in OBSERVERS.items()} for u in range(len(UNITS))
    }
    assert krippendorff_alpha(as_mapping, "nominal") == pytest.approx(krippendorff_alpha(UNITS, "nominal"))
    # The same data with labelled ordered categories: ordinal via the category order, interval via
    # positions (equally spaced, so the interval metric is unchanged up to scale).
    labels = ["one", "two", "three", "four", "five"]
    labelled = [[None if v is None else labels[v - 1] for v in unit] for unit in UNITS]
    assert round(krippendorff_alpha(labelled, "ordinal", categories=labels), 3) == 0.815
    assert round(krippendorff_alpha(labelled, "interval", categories=labels), 3) == 0.849
    assert round(krippendorff_alpha(labelled, "nominal"), 3) == 0.743
    # Reversing the order of an ordinal scale does not change alpha; scrambling it does.
    assert krippendorff_alpha(labelled, "ordinal", categories=labels[::-1]) == pytest.approx(
        krippendorff_alpha(labelled, "ordinal", categories=labels)
    )
    scrambled = ["three", "one", "five", "two", "four"]
    assert round(krippendorff_alpha(labelled, "ordinal", categories=scrambled), 3) != 0.815


def test_krippendorff_binary_two_coders() -> None:
    # Krippendorff (2011), example A: two coders, binary data, 10 units; published alpha = 0.095.
    # Coincidences o_00 = 10, o_01 = o_10 = 4, o_11 = 2; alpha = 1 - 19 * 4 / (14 * 6) = 8/84.
    coder_a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    coder_b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    units = [list(u) for u in zip(coder_a, coder_b, strict=True)]
    assert round(krippendorff_alpha(units), 3) == 0.095
    assert krippendorff_alpha(units) == pytest.approx(8 / 84, abs=1e-12)


def test_krippendorff_nominal_two_coders_example_b() -> None:
    # Krippendorff (2011), example B: two coders, nominal values a-e, 12 units; published alpha = 0.692.
    coder_a = "aabbdcccedda"
    coder_b = "babbbccceddd"
    units = [list(u) for u in zip(coder_a, coder_b, strict=True)]
    assert round(krippendorff_alpha(units, "nominal"), 3) == 0.692


def test_krippendorff_drops_unpairable_units_and_degenerate() -> None:
    base = krippendorff_alpha(UNITS, "interval")
    extra = [*UNITS, [None, 4, None, None], [None, None, None, None]]
    assert krippendorff_alpha(extra, "interval") == pytest.approx(base)
    # Perfect agreement is 1.
    assert krippendorff_alpha([[1, 1, 1], [2, 2, None], [3, 3, 3]], "interval") == 1.0
    # No variation at all: expected disagreement 0, documented as 1.0.
    assert krippendorff_alpha([["pass", "pass"], ["pass", "pass"]]) == 1.0
    with pytest.raises(ValueError):
        krippendorff_alpha([[1, None], [None, 2]])


def test_krippendorff_rejects_bad_input() -> None:
    labelled = [["fail", "pass"], ["mixed", "pass"]]
    with pytest.raises(ValueError):
        krippendorff_alpha(labelled, "ordinal")  # no categories and not numeric
    with pytest.raises(ValueError):
        krippendorff_alpha(labelled, "interval")
    with pytest.raises(ValueError):
        krippendorff_alpha(labelled, "ordinal", categories=["fail", "pass"])  # "mixed" unknown
    with pytest.raises(ValueError):
        krippendorff_alpha(labelled, "circular", categories=CATS)


# ---------------------------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------------------------


def test_agreement_pairs_on_shared_keys() -> None:
    a, b = _ratings_from_table(WEIGHTED_TABLE, CATS)
    judge = {f"item-{i}": r for i, r in enumerate(a)}
    humans = {f"item-{i}": r for i, r in enumerate(b)}
    judge["judge-only"] = "pass"
    humans["humans-only"] = "fail"
    humans["item-0"] = None  # unrated by the humans: dropped
    result = agreement("the judge", judge, "humans", humans, criterion="grounding")
    assert isinstance(result, Agreement)
    assert result.pair == ("the judge", "humans")
    assert result.n == 24
    xs, ys = a[1:], b[1:]
    assert result.kappa == pytest.approx(cohen_kappa(xs, ys, CATS))
    assert result.weighted_kappa == pytest.approx(cohen_kappa(xs, ys, CATS, weights="quadratic"))
    assert result.alpha == pytest.approx(
        krippendorff_alpha([[x, y] for x, y in zip(xs, ys, strict=True)], "ordinal", CATS)
    )


def test_agreement_bands_and_reading() -> None:
    def make(alpha: float, n: int = 40, criterion: str | None = "grounding") -> Agreement:
        return Agreement(("the judge", "humans"), criterion, n, 0.5, 0.5, alpha)

    assert make(0.81).band == "reliable"
    assert make(0.81).reading == "the judge agrees with humans on grounding: alpha 0.81, n 40 (reliable)"
    assert make(0.800).band == "reliable"
    assert make(0.75).band == "tentative"
    assert make(0.75).reading.startswith("the judge tentatively agrees with humans on grounding: alpha 0.75")
    assert make(0.667).band == "tentative"
    assert make(0.5).band == "unreliable"
    assert "does not reliably agree" in make(0.5).reading
    pooled = make(0.9, criterion=None).reading  # pooling unlike criteria inflates alpha: no verdict word
    assert "over all criteria pooled: alpha 0.90" in pooled and "reliable" not in pooled


def test_agreement_perfect_and_empty() -> None:
    ratings = {"x": "pass", "y": "fail", "z": "mixed"}
    perfect = agreement("judge", ratings, "humans", dict(ratings))
    assert (perfect.kappa, perfect.weighted_kappa, perfect.alpha) == (1.0, 1.0, 1.0)
    assert perfect.band == "reliable"
    empty = agreement("judge", {"x": "pass"}, "humans", {"y": "pass"})
    assert empty.n == 0
    assert math.isnan(empty.alpha)
    assert empty.band == "no data"
    assert "no item rated by both" in empty.reading


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def test_percentile_linear_interpolation() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    # Sorted 1, 2, 3, 4; h = 3q/100: q=50 -> h=1.5 -> 2.5; q=25 -> h=0.75 -> 1.75; q=90 -> h=2.7 -> 3.7.
    assert percentile(values, 50) == 2.5
    assert percentile(values, 25) == 1.75
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    # numpy.percentile documentation example: a = [[10, 7, 4], [3, 2, 1]], np.percentile(a, 50) = 3.5.
    assert percentile([10, 7, 4, 3, 2, 1], 50) == 3.5
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_mean() -> None:
    assert mean([1.0, 2.0, 3.0, 4.0]) == 2.5
    assert mean([0.1] * 10) == 0.1  # fsum: no accumulated rounding error
    assert mean([]) is None
