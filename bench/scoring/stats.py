"""The statistics every aggregate in bench uses.

One module, standard library only, so that a rate, an interval, a paired test or an agreement
coefficient is computed the same way everywhere (reports, comparisons, judge calibration) and is
never recomputed ad hoc elsewhere.

Contents:

* proportions: :func:`wilson_interval`, :class:`Rate`, :func:`rate`;
* paired comparison of two candidates on the same cases: :func:`exact_mcnemar`,
  :class:`PairedComparison`, :func:`paired_comparison`;
* repeated trials: :func:`pass_hat_k`, :func:`consistency`, :func:`flaky_cases`;
* agreement between raters (judge vs humans, judge vs judge): :func:`cohen_kappa`,
  :func:`krippendorff_alpha`, :class:`Agreement`, :func:`agreement`;
* small helpers: :func:`mean`, :func:`percentile`.

Each public function names the formula it implements and where it comes from.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal, TypeVar

__all__ = [
    "KRIPPENDORFF_RELIABLE",
    "KRIPPENDORFF_TENTATIVE",
    "Agreement",
    "PairedComparison",
    "Rate",
    "agreement",
    "cohen_kappa",
    "consistency",
    "exact_mcnemar",
    "flaky_cases",
    "format_p",
    "krippendorff_alpha",
    "mean",
    "min_discordant_for_significance",
    "paired_comparison",
    "pass_hat_k",
    "percentile",
    "rate",
    "wilson_interval",
]

#: Krippendorff (2004, "Content Analysis", 2nd ed., sec. 11.4): rely on data with alpha >= .800,
#: draw only tentative conclusions for .667 <= alpha < .800, discard below .667.
KRIPPENDORFF_RELIABLE = 0.800
KRIPPENDORFF_TENTATIVE = 0.667


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean of ``values``, or ``None`` when there are none.

    Computed with :func:`math.fsum` (exactly rounded sum) divided by the count.
    """
    values = list(values)
    if not values:
        return None
    return math.fsum(values) / len(values)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (``0 <= q <= 100``) of ``values``, or ``None`` when there are none.

    Linear interpolation between the two nearest order statistics, the default of
    ``numpy.percentile`` (Hyndman & Fan 1996, "Sample quantiles in statistical packages", definition
    7): with the sorted values ``x[0..n-1]``, position ``h = (n - 1) * q / 100`` and result
    ``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])``.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within [0, 100], got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    h = (len(ordered) - 1) * q / 100
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    frac = h - lo
    return ordered[lo] + frac * (ordered[hi] - ordered[lo])


def format_p(p: float) -> str:
    """A p-value as shown in sentences: 2 decimals from 0.1 up, 3 decimals below, ``<0.001`` below that.

    E.g. ``0.38 -> "0.38"``, ``0.0215 -> "0.021"``, ``0.0078 -> "0.008"``, ``1e-5 -> "<0.001"``.
    """
    if p < 0.001:
        return "<0.001"
    if p < 0.1:
        return f"{p:.3f}"
    return f"{p:.2f}"


# ---------------------------------------------------------------------------------------------
# Proportions
# ---------------------------------------------------------------------------------------------


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a binomial proportion ``successes / n``.

    Inputs: the number of successes, the number of trials ``n`` and the two-sided confidence level;
    ``z`` is the standard normal quantile ``Phi^-1(1 - (1 - confidence) / 2)`` (1.95996 at 95%).
    With ``p = successes / n``::

        centre = (p + z^2 / (2n)) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))

    and the interval is ``(centre - half, centre + half)``, clipped to ``[0, 1]``.  With ``n == 0``
    nothing is known and the interval is ``(0.0, 1.0)``.

    Source: Wilson (1927), "Probable inference, the law of succession, and statistical inference",
    JASA 22:209-212; method 3 in Newcombe (1998), "Two-sided confidence intervals for the single
    proportion", Statistics in Medicine 17:857-872.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    z = _z(confidence)
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


@dataclass(frozen=True)
class Rate:
    """A proportion with its Wilson score interval (see :func:`wilson_interval`)."""

    successes: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float | None:
        """``successes / n``, or ``None`` when there were no trials."""
        return self.successes / self.n if self.n else None


def rate(successes: int, n: int, confidence: float = 0.95) -> Rate:
    """The rate ``successes / n`` with its two-sided Wilson score interval at ``confidence``.

    Source: :func:`wilson_interval` (Wilson 1927; Newcombe 1998).
    """
    low, high = wilson_interval(successes, n, confidence)
    return Rate(successes=successes, n=n, low=low, high=high)


# ---------------------------------------------------------------------------------------------
# Paired comparison (McNemar)
# ---------------------------------------------------------------------------------------------


def exact_mcnemar(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs.

    Inputs: ``b`` = pairs where only the first candidate succeeded, ``c`` = pairs where only the
    second did.  Under the null hypothesis each of the ``d = b + c`` discordant pairs goes either way
    with probability 1/2, so the test is an exact binomial (sign) test::

        p = min(1, 2 * sum_{i=0}^{min(b, c)} C(d, i) / 2^d)

    With no discordant pair (``d == 0``) there is no evidence either way: ``p = 1.0``.

    Source: McNemar (1947), Psychometrika 12:153-157; the exact (binomial) form as in Fagerland,
    Lydersen & Laake (2013), "The McNemar test for binary matched-pairs data: mid-p and asymptotic
    are better than exact conditional", BMC Med Res Methodol 13:91, eq. (2).
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be non-negative, got b={b}, c={c}")
    d = b + c
    if d == 0:
        return 1.0
    tail = sum(math.comb(d, i) for i in range(min(b, c) + 1))
    # Exact integer arithmetic up to the final division.
    return min(1.0, 2 * tail / 2**d)


def min_discordant_for_significance(alpha: float = 0.05) -> int:
    """The fewest discordant pairs with which the exact McNemar test can reach ``p <= alpha``.

    The smallest achievable p-value with ``d`` discordant pairs is a clean sweep, ``2 * 0.5**d``
    (see :func:`exact_mcnemar`); this returns the least ``d`` with ``2 * 0.5**d <= alpha``
    (6 at alpha 0.05, 8 at 0.01).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    d = 1
    while 2 * 0.5**d > alpha:
        d += 1
    return d


Verdict = Literal["A better", "B better", "cannot tell"]


@dataclass(frozen=True)
class PairedComparison:
    """Two candidates compared on the same cases with the exact McNemar test.

    ``a_only`` counts the cases A passed and B failed, ``b_only`` the reverse; ``n`` is the number
    of paired cases.  ``verdict`` is "A better" / "B better" when ``p_value <= alpha`` (the side
    with more exclusive passes wins), else "cannot tell".
    """

    a_name: str
    b_name: str
    n: int
    a_only: int
    b_only: int
    both_pass: int
    both_fail: int
    p_value: float
    alpha: float
    verdict: Verdict

    @property
    def discordant(self) -> int:
        """The number of cases on which exactly one candidate passed."""
        return self.a_only + self.b_only

    @property
    def sentence(self) -> str:
        """A plain reading of the comparison, e.g.
        "gpt-5.5 better than smollm2 (McNemar exact p=0.008, 25 paired cases)"."""
        p = format_p(self.p_value)
        if self.verdict == "A better":
            return f"{self.a_name} better than {self.b_name} (McNemar exact p={p}, {self.n} paired cases)"
        if self.verdict == "B better":
            return f"{self.b_name} better than {self.a_name} (McNemar exact p={p}, {self.n} paired cases)"
        return f"cannot tell {self.a_name} and {self.b_name} apart with {self.n} cases (p={p})"

    @property
    def min_detectable(self) -> str | None:
        """Why this comparison cannot reach significance whatever the outcome, or ``None``.

        The smallest p the exact McNemar test can give with ``d`` discordant cases is
        ``2 * 0.5**d`` (all of them going one way).  If that is above ``alpha`` for all ``n``
        paired cases, the case set is too small to ever separate two candidates; otherwise, if it is
        above ``alpha`` for the ``d`` discordant cases observed, these cases cannot separate these
        two.  ``None`` when a significant result was possible.
        """
        need = min_discordant_for_significance(self.alpha)
        if self.n < need:
            best = min(1.0, 2 * 0.5**self.n)
            return (
                f"too few cases to separate the candidates: even a clean sweep of {self.n} discordant "
                f"cases gives p={format_p(best)}; at least {need} discordant cases are needed "
                f"at alpha={self.alpha:g}"
            )
        d = self.discordant
        if d == 0:
            return (
                f"no case separates the candidates: they passed and failed the same {self.n} cases; "
                f"at least {need} discordant cases are needed at alpha={self.alpha:g}"
            )
        if d < need:
            best = min(1.0, 2 * 0.5**d)
            return (
                f"too few cases to separate the candidates: even a clean sweep of {d} discordant "
                f"cases gives p={format_p(best)}; at least {need} are needed at alpha={self.alpha:g}"
            )
        return None


def paired_comparison(
    a_name: str,
    a: Mapping[str, bool],
    b_name: str,
    b: Mapping[str, bool],
    alpha: float = 0.05,
) -> PairedComparison:
    """Compare candidates A and B on the cases both were run on, with the exact McNemar test.

    Inputs: for each candidate a mapping case id -> passed.  Only the case ids present in both
    mappings are paired; the others are ignored.  The 2x2 table of paired outcomes (both pass,
    A only, B only, both fail) is tested with :func:`exact_mcnemar` on the discordant cells; the
    verdict favours the side with more exclusive passes when ``p <= alpha``.

    Source: McNemar (1947); exact form per Fagerland et al. (2013), see :func:`exact_mcnemar`.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    shared = [key for key in a if key in b]
    a_only = b_only = both_pass = both_fail = 0
    for key in shared:
        pa, pb = bool(a[key]), bool(b[key])
        if pa and pb:
            both_pass += 1
        elif pa:
            a_only += 1
        elif pb:
            b_only += 1
        else:
            both_fail += 1
    p = exact_mcnemar(a_only, b_only)
    verdict: Verdict = "cannot tell"
    if p <= alpha and a_only != b_only:
        verdict = "A better" if a_only > b_only else "B better"
    return PairedComparison(
        a_name=a_name,
        b_name=b_name,
        n=len(shared),
        a_only=a_only,
        b_only=b_only,
        both_pass=both_pass,
        both_fail=both_fail,
        p_value=p,
        alpha=alpha,
        verdict=verdict,
    )


# ---------------------------------------------------------------------------------------------
# Repeated trials
# ---------------------------------------------------------------------------------------------


def pass_hat_k(outcomes_per_case: Mapping[str, Sequence[bool]], k: int) -> float | None:
    """pass^k: the chance that ``k`` independent trials of a case all pass, averaged over cases.

    Inputs: case id -> the outcomes of its repeated trials, and ``k >= 1``.  For a case with ``n``
    trials of which ``c`` passed, the unbiased estimate is ``C(c, k) / C(n, k)``; only cases with
    ``n >= k`` count, and the result is their mean, or ``None`` if no case has ``k`` trials.

    Source: Yao et al. (2024), "tau-bench: A Benchmark for Tool-Agent-User Interaction in Real-World
    Domains", arXiv:2406.12045, sec. 5 (pass^k), the counterpart of the unbiased pass@k estimator of
    Chen et al. (2021), arXiv:2107.03374.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    per_case: list[float] = []
    for outcomes in outcomes_per_case.values():
        n = len(outcomes)
        if n < k:
            continue
        c = sum(1 for o in outcomes if o)
        per_case.append(math.comb(c, k) / math.comb(n, k))
    return mean(per_case)


Consistency = Literal["all pass", "all fail", "flaky"]


def consistency(outcomes_per_case: Mapping[str, Sequence[bool]]) -> dict[str, Consistency]:
    """Classify each case's repeated trials as "all pass", "all fail" or "flaky" (mixed).

    Inputs: case id -> the outcomes of its trials.  Cases with no trial are left out.  (A single
    trial is trivially "all pass" or "all fail".)
    """
    result: dict[str, Consistency] = {}
    for case, outcomes in outcomes_per_case.items():
        if not outcomes:
            continue
        if all(outcomes):
            result[case] = "all pass"
        elif not any(outcomes):
            result[case] = "all fail"
        else:
            result[case] = "flaky"
    return result


def flaky_cases(outcomes_per_case: Mapping[str, Sequence[bool]]) -> list[str]:
    """The ids of the cases whose repeated trials both passed and failed, in input order."""
    return [case for case, label in consistency(outcomes_per_case).items() if label == "flaky"]


# ---------------------------------------------------------------------------------------------
# Agreement between raters
# ---------------------------------------------------------------------------------------------


def _disagreement_weights(k: int, weights: str | None) -> list[list[float]]:
    if weights is None:
        return [[0.0 if i == j else 1.0 for j in range(k)] for i in range(k)]
    if k < 2:
        return [[0.0]]
    if weights == "linear":
        return [[abs(i - j) / (k - 1) for j in range(k)] for i in range(k)]
    if weights == "quadratic":
        return [[((i - j) / (k - 1)) ** 2 for j in range(k)] for i in range(k)]
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")


def cohen_kappa(
    a: Sequence[str | None],
    b: Sequence[str | None],
    categories: Sequence[str],
    weights: str | None = None,
) -> float:
    """Cohen's kappa between two raters who rated the same items, optionally weighted.

    Inputs: the two raters' ratings, aligned item by item; the categories (for weighted kappa their
    order is the scale, e.g. ``["fail", "mixed", "pass"]``); ``weights`` is ``None`` (nominal),
    ``"linear"`` or ``"quadratic"``.  Items where either rating is ``None`` are dropped.

    With observed proportions ``p_ij``, marginals ``p_i.``, ``p_.j`` and disagreement weights
    ``w_ij`` (nominal: 0 on the diagonal, 1 off it; linear: ``|i - j| / (K - 1)``; quadratic:
    ``((i - j) / (K - 1))^2``)::

        kappa_w = 1 - sum(w_ij p_ij) / sum(w_ij p_i. p_.j)

    which for nominal weights is Cohen's ``(p_o - p_e) / (1 - p_e)``.

    Degenerate case: when the expected disagreement is 0 (expected agreement 1, i.e. both raters
    used one and the same category throughout) kappa is undefined; this returns 1.0 if the observed
    agreement is perfect and 0.0 otherwise.  Raises ``ValueError`` when no item is left to compare.

    Source: Cohen (1960), "A coefficient of agreement for nominal scales", Educ Psychol Meas
    20:37-46; Cohen (1968), "Weighted kappa", Psychol Bull 70:213-220; quadratic weights per
    Fleiss & Cohen (1973), Educ Psychol Meas 33:613-619.
    """
    if len(a) != len(b):
        raise ValueError(f"the two raters rated different numbers of items ({len(a)} vs {len(b)})")
    index = {cat: i for i, cat in enumerate(categories)}
    if len(index) != len(categories):
        raise ValueError(f"categories must be distinct, got {list(categories)}")
    w = _disagreement_weights(len(categories), weights)
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if not pairs:
        raise ValueError("no item rated by both raters")
    k = len(categories)
    observed = [[0] * k for _ in range(k)]
    for x, y in pairs:
        for rating in (x, y):
            if rating not in index:
                raise ValueError(f"rating {rating!r} is not one of the categories {list(categories)}")
        observed[index[x]][index[y]] += 1
    n = len(pairs)
    row = [sum(observed[i]) for i in range(k)]
    col = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    obs_dis = math.fsum(w[i][j] * observed[i][j] for i in range(k) for j in range(k)) / n
    exp_dis = math.fsum(w[i][j] * row[i] * col[j] for i in range(k) for j in range(k)) / (n * n)
    if exp_dis == 0:
        return 1.0 if obs_dis == 0 else 0.0
    return 1 - obs_dis / exp_dis


def _units_values(
    units: Mapping[Any, Mapping[Any, Any]] | Sequence[Sequence[Any]],
) -> list[list[Any]]:
    if isinstance(units, Mapping):
        rows = [list(coders.values()) for coders in units.values()]
    else:
        rows = [list(unit) for unit in units]
    return [[v for v in row if v is not None] for row in rows]


def krippendorff_alpha(
    units: Mapping[Any, Mapping[Any, Hashable | None]] | Sequence[Sequence[Hashable | None]],
    level: str = "nominal",
    categories: Sequence[Hashable] | None = None,
) -> float:
    """Krippendorff's alpha reliability coefficient for any number of coders, with missing data.

    Inputs: reliability data, per unit the value each coder gave (``None`` = missing), either as a
    mapping unit -> {coder: value} or as a sequence of units, each a sequence of values (one per
    coder; note this is the transpose of the coders-by-units table printed in Krippendorff's
    papers).  ``level`` is the metric:

    * ``"nominal"``: ``delta^2 = 0 if c == k else 1``;
    * ``"ordinal"``: ``delta^2_ck = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2`` over the ordered
      categories, ``n_g`` the number of pairable values in category g; the order is ``categories``
      (required unless all values are numbers, which are then ordered numerically);
    * ``"interval"``: ``delta^2 = (c - k)^2`` on the numeric values, or on the positions of the values
      in ``categories`` when given;
    * ``"ratio"``: ``delta^2 = ((c - k) / (c + k))^2`` on numeric values.

    Units with fewer than 2 values are not pairable and are dropped.  From the coincidence matrix
    ``o_ck = sum_u (number of c-k pairs of values in u from different coders) / (m_u - 1)``, with
    ``n_c = sum_k o_ck`` and ``n = sum_c n_c``::

        alpha = 1 - (n - 1) * sum_ck o_ck delta^2_ck / sum_ck n_c n_k delta^2_ck

    Degenerate case: when the expected disagreement is 0 (every pairable value is the same) alpha is
    undefined; this returns 1.0, as there is no observed disagreement either.  Raises
    ``ValueError`` when no unit is pairable.

    Source: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", Annenberg School for
    Communication Departmental Papers 43, sections C and E (coincidence matrix and metrics).
    """
    rows = [row for row in _units_values(units) if len(row) >= 2]
    if not rows:
        raise ValueError("no unit has two or more values to pair")

    # Coincidence matrix, keyed by value.
    coincidence: dict[Hashable, dict[Hashable, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        m = len(row)
        counts = Counter(row)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_c - 1) if c == k else n_c * n_k
                if pairs:
                    coincidence[c][k] += pairs / (m - 1)
    values = list(coincidence)
    totals = {c: math.fsum(coincidence[c].values()) for c in values}
    n = math.fsum(totals.values())

    delta2 = _metric(level, values, totals, categories)
    observed = math.fsum(coincidence[c].get(k, 0.0) * delta2(c, k) for c in values for k in values if c != k)
    expected = math.fsum(totals[c] * totals[k] * delta2(c, k) for c in values for k in values if c != k)
    if expected == 0:
        return 1.0
    return 1 - (n - 1) * observed / expected


def _metric(
    level: str,
    values: list[Hashable],
    totals: Mapping[Hashable, float],
    categories: Sequence[Hashable] | None,
) -> Any:
    """The squared difference function ``delta^2(c, k)`` for a Krippendorff metric."""
    position: dict[Hashable, float] | None = None
    if categories is not None:
        position = {cat: float(i) for i, cat in enumerate(categories)}
        unknown = [v for v in values if v not in position]
        if unknown:
            raise ValueError(f"values {unknown!r} are not among the categories {list(categories)}")

    def numeric(v: Hashable) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"level needs numeric values or categories; got {v!r}")
        return float(v)

    if level == "nominal":
        return lambda c, k: 0.0 if c == k else 1.0
    if level == "interval":
        if position is not None:
            pos = position
            return lambda c, k: (pos[c] - pos[k]) ** 2
        return lambda c, k: (numeric(c) - numeric(k)) ** 2
    if level == "ratio":

        def ratio(c: Hashable, k: Hashable) -> float:
            x, y = numeric(c), numeric(k)
            return 0.0 if x + y == 0 else ((x - y) / (x + y)) ** 2

        return ratio
    if level == "ordinal":
        if categories is not None:
            order = [cat for cat in categories if cat in totals]
        else:
            order = sorted(values, key=numeric)
        rank = {v: i for i, v in enumerate(order)}
        freq = [totals[v] for v in order]
        # cumulative[i] = sum of freq[:i]
        cumulative = [0.0]
        for f in freq:
            cumulative.append(cumulative[-1] + f)

        def ordinal(c: Hashable, k: Hashable) -> float:
            i, j = sorted((rank[c], rank[k]))
            between = cumulative[j + 1] - cumulative[i]
            return (between - (freq[i] + freq[j]) / 2) ** 2

        return ordinal
    raise ValueError(f"level must be 'nominal', 'ordinal', 'interval' or 'ratio', got {level!r}")


@dataclass(frozen=True)
class Agreement:
    """How well two raters agree on one criterion (or overall when ``criterion`` is None).

    ``n`` is the number of items both rated; ``kappa`` is Cohen's (nominal) kappa,
    ``weighted_kappa`` the quadratic-weighted kappa over the ordered categories and ``alpha``
    Krippendorff's ordinal alpha.  All three are NaN when ``n == 0``.
    """

    pair: tuple[str, str]
    criterion: str | None
    n: int
    kappa: float
    weighted_kappa: float
    alpha: float

    @property
    def band(self) -> str:
        """Krippendorff's reading of alpha: "reliable" (>= 0.800), "tentative" (0.667 to 0.800),
        "unreliable" (below 0.667), or "no data"."""
        if self.n == 0 or math.isnan(self.alpha):
            return "no data"
        if self.alpha >= KRIPPENDORFF_RELIABLE:
            return "reliable"
        if self.alpha >= KRIPPENDORFF_TENTATIVE:
            return "tentative"
        return "unreliable"

    @property
    def reading(self) -> str:
        """A plain sentence, e.g. "judge agrees with humans on grounding: alpha 0.81, n 40 (reliable)"."""
        a, b = self.pair
        on = self.criterion if self.criterion is not None else "all criteria"
        band = self.band
        if band == "no data":
            return f"cannot say whether {a} agrees with {b} on {on}: no item rated by both"
        if self.criterion is None:
            # pooling unlike criteria inflates alpha: the figures only; trust is read per criterion
            return (
                f"{a} and {b} over all criteria pooled: alpha {self.alpha:.2f}, n {self.n} "
                "(read the criteria one by one before trusting it)"
            )
        verb = {
            "reliable": "agrees with",
            "tentative": "tentatively agrees with",
            "unreliable": "does not reliably agree with",
        }[band]
        return f"{a} {verb} {b} on {on}: alpha {self.alpha:.2f}, n {self.n} ({band})"


_Item = TypeVar("_Item", bound=Hashable)


def agreement(
    name_a: str,
    ratings_a: Mapping[_Item, str | None],
    name_b: str,
    ratings_b: Mapping[_Item, str | None],
    categories: Sequence[str] = ("fail", "mixed", "pass"),
    criterion: str | None = None,
) -> Agreement:
    """Agreement between two raters on the items both rated.

    Inputs: each rater's mapping item key -> rating (one of ``categories``, ordered from worst to
    best; ``None`` = not rated).  Items are paired on the keys present in both with a rating from
    both.  Computes Cohen's kappa (nominal), the quadratic-weighted kappa (:func:`cohen_kappa`) and
    Krippendorff's ordinal alpha (:func:`krippendorff_alpha`), whose band is read per Krippendorff
    (2004): >= 0.800 reliable, >= 0.667 tentative, below unreliable.
    """
    keys = [k for k in ratings_a if k in ratings_b and ratings_a[k] is not None and ratings_b[k] is not None]
    if not keys:
        nan = float("nan")
        return Agreement((name_a, name_b), criterion, 0, nan, nan, nan)
    xs = [ratings_a[k] for k in keys]
    ys = [ratings_b[k] for k in keys]
    return Agreement(
        pair=(name_a, name_b),
        criterion=criterion,
        n=len(keys),
        kappa=cohen_kappa(xs, ys, categories),
        weighted_kappa=cohen_kappa(xs, ys, categories, weights="quadratic"),
        alpha=krippendorff_alpha([[x, y] for x, y in zip(xs, ys, strict=True)], "ordinal", categories),
    )
