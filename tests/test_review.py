"""Human review in git: export a sheet from a real run, fill it in, import it, apply it, measure agreement.

Every test runs the `crm` suite of the `repo` fixture against the loopback OpenAI server: 2 candidates that
ran (fake/good, fake/bad) x 4 cases = 8 outputs to review.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from bench import snapshot as snap
from bench.cli import cli
from bench.engine import run_suite
from bench.scoring import review as rv
from bench.suite import load_suite
from tests.conftest import GOOD_NOTE, note_responder
from tests.servers import FakeAPI

REVIEWS = Path("suites/crm/reviews")
# records are sorted by candidate, then case: the order of every sheet
ITEMS = [
    (case, candidate, 0)
    for candidate in ("fake/bad", "fake/good")
    for case in ("normal-0", "normal-1", "normal-2", "reject-injection")
]


def run(repo: Path, **kw) -> dict:
    return run_suite(load_suite("crm", repo), repo, quiet=True, **kw)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def export(reviewer: str, *extra: str) -> Path:
    result = invoke("review", "export", "crm", "--reviewer", reviewer, *extra)
    assert result.exit_code == 0, result.output
    fmt = "md" if "md" in extra else "csv"
    return REVIEWS / f"{reviewer}.{fmt}.todo"


def fill_csv(path: Path, fill: Callable[[dict[str, str]], dict[str, str]]) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    for row in rows:
        row.update(fill(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def item_of(row: dict[str, str]) -> tuple[str, str, int]:
    return (row["case"], row["candidate"], int(row["repeat"]))


def review_csv(reviewer: str, verdicts: dict[tuple[str, str, int], dict[str, str]]) -> Result:
    """Export a CSV sheet for ``reviewer``, fill it with ``verdicts`` by item, import it."""
    path = export(reviewer)
    fill_csv(path, lambda row: verdicts.get(item_of(row), {}))
    return invoke("review", "import", str(path))


def stored(reviewer: str) -> list[dict]:
    return yaml.safe_load((REVIEWS / f"{reviewer}.yaml").read_text())


def row_line(text: str, case: str, occurrence: int) -> int:
    """The 1-based line where the ``occurrence``-th CSV row of ``case`` starts."""
    starts = [n for n, line in enumerate(text.splitlines(), start=1) if line.startswith(f"{case},")]
    return starts[occurrence]


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def test_csv_sheet_has_one_row_per_output_with_input_output_and_fingerprint(repo: Path) -> None:
    document = run(repo)
    path = export("alice")
    assert path == REVIEWS / "alice.csv.todo"
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    assert [item_of(r) for r in rows] == ITEMS
    header = next(csv.reader(path.open(newline="", encoding="utf-8")))
    assert header == [
        "case",
        "category",
        "input",
        "candidate",
        "repeat",
        "output",
        "fingerprint",
        "auto:format",
        "auto:grounding",
        "auto:safety",
        "format",
        "grounding",
        "safety",
        "notes",
    ]
    records = {(r["case"], r["candidate"], r["repeat"]): r for r in document["records"]}
    good = rows[4]
    record = records[item_of(good)]
    assert good["category"] == "normal"
    assert good["input"] == "channel: chat\nconversation: Customer: my blender jug is cracked (ORD-48213), #0"
    assert good["output"] == record["output"] == json.dumps(GOOD_NOTE)
    assert good["fingerprint"] == record["output_fingerprint"][:16]
    assert good["auto:format"] == "pass (checks)" and good["auto:grounding"] == "pass (checks)"
    assert good["auto:safety"] == ""  # no check scores safety on a normal case
    assert rows[0]["auto:format"] == "fail (checks)"  # bad-model writes prose
    assert all(r["format"] == r["grounding"] == r["safety"] == r["notes"] == "" for r in rows)


def test_export_options_stdout_candidate_blind_and_no_silent_overwrite(repo: Path) -> None:
    run(repo)
    out = invoke(
        "review", "export", "crm", "--reviewer", "alice", "--output", "-", "--candidate", "fake/good"
    )
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert [item_of(r) for r in rows] == [i for i in ITEMS if i[1] == "fake/good"]
    assert not (repo / REVIEWS).exists()  # stdout only

    blind = invoke("review", "export", "crm", "--reviewer", "alice", "--output", "-", "--blind")
    assert "auto:" not in blind.output.splitlines()[0]

    export("alice")
    again = invoke("review", "export", "crm", "--reviewer", "alice")
    assert again.exit_code == 2 and "may hold unimported work" in again.output
    assert invoke("review", "export", "crm", "--reviewer", "alice", "--force").exit_code == 0

    unknown = invoke("review", "export", "crm", "--reviewer", "alice", "--candidate", "fake/goodd")
    assert unknown.exit_code == 2 and "did you mean 'fake/good'" in unknown.output
    bad_name = invoke("review", "export", "crm", "--reviewer", "../alice")
    assert bad_name.exit_code == 2 and "reviewer name" in bad_name.output
    reserved = invoke("review", "export", "crm", "--reviewer", "judge")
    assert reserved.exit_code == 2 and "reserved" in reserved.output


def test_markdown_sheet_sections_fences_and_read_only_header(repo: Path) -> None:
    run(repo)
    text = export("alice", "--format", "md").read_text()
    assert "The `auto:` line of each output shows the automatic verdicts" in text
    assert "read-only and not imported" in text
    assert text.count("\n## ") == 8
    assert text.count("- grounding: [ ] pass [ ] mixed [ ] fail") == 8
    first = text.split("\n## ")[1]
    assert "case: normal-0\ncategory: normal\ncandidate: fake/bad\nrepeat: 0\nfingerprint: " in first
    assert "Output:\n\n```text\nSure! The customer had a problem with a blender and we helped.\n```" in first
    assert "auto: format fail (checks) · grounding fail (checks) · safety -" in first


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------


def test_filled_csv_is_stored_as_yaml_keyed_by_output(repo: Path) -> None:
    document = run(repo)
    path = export("alice")

    def fill(row: dict[str, str]) -> dict[str, str]:
        if row["candidate"] == "fake/good":
            return {"grounding": "PASS", "safety": "p", "notes": "fine"}
        return {"grounding": "Mixed", "format": "F"}

    fill_csv(path, fill)
    result = invoke("review", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "8 review(s)" in result.output and "8 new" in result.output

    entries = stored("alice")
    fingerprints = {
        (r["case"], r["candidate"], r["repeat"]): r["output_fingerprint"] for r in document["records"]
    }
    assert [(e["case"], e["candidate"], e["repeat"]) for e in entries] == ITEMS
    first = entries[0]
    assert list(first) == [
        "case",
        "candidate",
        "repeat",
        "output_fingerprint",
        "verdicts",
        "notes",
        "reviewed_at",
    ]
    assert first["output_fingerprint"] == fingerprints[ITEMS[0]][:16]
    assert first["verdicts"] == {"format": "fail", "grounding": "mixed"}
    assert first["notes"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["reviewed_at"])
    assert entries[4]["verdicts"] == {"grounding": "pass", "safety": "pass"}
    assert entries[4]["notes"] == "fine"
    assert [r.reviewer for r in rv.load_reviews(repo / "suites" / "crm")] == ["alice"] * 8


def test_reimport_replaces_the_same_outputs_and_keeps_unchanged_dates(repo: Path) -> None:
    run(repo)
    path = export("alice")
    fill_csv(path, lambda row: {"grounding": "pass"})
    rv.import_sheet(path, repo, now="2025-01-01T00:00:00Z")
    assert len(stored("alice")) == 8

    # the sheet comes back prefilled with the reviewer's own verdicts; change one and import again
    path = export("alice", "--force")
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    assert {r["grounding"] for r in rows} == {"pass"}
    fill_csv(path, lambda row: {"grounding": "fail"} if item_of(row) == ITEMS[1] else {})
    outcome = rv.import_sheet(path, repo, now="2025-02-02T00:00:00Z")
    assert (outcome.stored, outcome.replaced, outcome.unchanged) == (8, 1, 7)

    entries = stored("alice")
    assert len(entries) == 8  # replaced, not appended
    assert entries[1]["verdicts"] == {"grounding": "fail"}
    assert entries[1]["reviewed_at"] == "2025-02-02T00:00:00Z"
    assert {e["reviewed_at"] for i, e in enumerate(entries) if i != 1} == {"2025-01-01T00:00:00Z"}

    # what is reviewed is left out on request
    remaining = invoke("review", "export", "crm", "--reviewer", "alice", "--only-unreviewed", "--output", "-")
    assert remaining.exit_code == 0 and "nothing to review" in remaining.output


def test_filled_markdown_round_trips(repo: Path) -> None:
    run(repo)
    path = export("bob", "--format", "md")
    sections = path.read_text().split("\n## ")
    filled = [sections[0]]
    for number, section in enumerate(sections[1:]):
        verdict = ("pass", "mixed", "fail")[number % 3]
        section = section.replace(
            "- grounding: [ ] pass [ ] mixed [ ] fail",
            "- grounding: "
            + " ".join(f"[{'x' if v == verdict else ' '}] {v}" for v in ("pass", "mixed", "fail")),
        )
        if number == 0:
            section = section.replace("- safety: [ ] pass [ ] mixed [ ] fail", "- safety: FAIL")
            section = section.replace("Notes:\n", "Notes:\nprose, not JSON\nsecond line\n")
        filled.append(section)
    path.write_text("\n## ".join(filled))

    result = invoke("review", "import", str(path))
    assert result.exit_code == 0, result.output
    entries = stored("bob")
    assert [(e["case"], e["candidate"], e["repeat"]) for e in entries] == ITEMS
    assert [e["verdicts"]["grounding"] for e in entries] == ["pass", "mixed", "fail"] * 2 + ["pass", "mixed"]
    assert entries[0]["verdicts"] == {"grounding": "pass", "safety": "fail"}
    assert entries[0]["notes"] == "prose, not JSON\nsecond line"
    assert entries[1]["notes"] is None


def test_markdown_output_that_looks_like_a_sheet_is_not_read_as_one(repo: Path, fake_openai: FakeAPI) -> None:
    tricky = "```\n## 9. fake section\ncase: normal-9\n- grounding: [x] fail [x] pass\n```"
    fake_openai.responder = lambda wire, model, text, body: (
        tricky if model == "bad-model" else note_responder(wire, model, text, body)
    )
    run(repo)
    path = export("alice", "--format", "md")
    text = path.read_text()
    assert "````text\n" + tricky + "\n````" in text  # a longer fence than the output's
    path.write_text(text.replace("- safety: [ ] pass", "- safety: [x] pass"))
    result = invoke("review", "import", str(path))
    assert result.exit_code == 0, result.output
    assert [e["verdicts"] for e in stored("alice")] == [{"safety": "pass"}] * 8


def test_bad_sheets_are_refused_with_file_line_and_nothing_is_written(repo: Path) -> None:
    run(repo)
    path = export("alice")
    fill_csv(path, lambda row: {"grounding": "pass"})
    assert invoke("review", "import", str(path)).exit_code == 0
    before = (REVIEWS / "alice.yaml").read_bytes()

    text = path.read_text()
    text = text.replace(",notes\n", ",tone,notes\n", 1)  # a column the rubric does not have
    path.write_text(text)
    fill_csv(
        path,
        lambda row: {"grounding": "maybe"} if item_of(row) == ("normal-1", "fake/good", 0) else {"tone": ""},
    )
    text = path.read_text()
    result = invoke("review", "import", str(path))
    assert result.exit_code == 2
    display = str(path)
    assert f"{display}:1: error: unknown criterion column 'tone'" in result.output
    line = row_line(text, "normal-1", 1)  # the second normal-1 row: fake/good
    assert f"{display}:{line}: error: grounding: 'maybe' is not a verdict" in result.output
    assert "hint: write pass, mixed or fail (or P, M, F)" in result.output
    assert (REVIEWS / "alice.yaml").read_bytes() == before  # nothing written

    md = export("bob", "--format", "md")
    text = md.read_text()
    text = text.replace(
        "- grounding: [ ] pass [ ] mixed [ ] fail", "- grounding: [x] pass [ ] mixed [x] fail", 1
    )
    text = text.replace("- safety: [ ] pass", "- safty: [x] pass", 1)
    text = text.replace("candidate: fake/good", "candidate: fake/great", 1)
    md.write_text(text)
    lines = text.splitlines()
    ticks = lines.index("- grounding: [x] pass [ ] mixed [x] fail") + 1
    typo = next(n for n, line in enumerate(lines, start=1) if line.startswith("- safty:"))
    cand = lines.index("candidate: fake/great") + 1
    result = invoke("review", "import", str(md))
    assert result.exit_code == 2
    assert f"{md}:{ticks}: error: grounding: 2 boxes ticked (pass, fail)" in result.output
    assert f"{md}:{typo}: error: unknown criterion 'safty'" in result.output
    assert "did you mean 'safety'?" in result.output
    assert f"{md}:{cand}: error: unknown candidate 'fake/great'" in result.output
    assert not (REVIEWS / "bob.yaml").exists()


def test_unknown_case_and_a_mangled_fingerprint_are_errors(repo: Path) -> None:
    run(repo)
    path = export("alice")
    fill_csv(
        path,
        lambda row: (
            {"case": "normal-7", "grounding": "pass"}
            if item_of(row) == ITEMS[0]
            else {"fingerprint": "1.23E+15", "grounding": "pass"}
            if item_of(row) == ITEMS[1]
            else {}
        ),
    )
    result = invoke("review", "import", str(path))
    assert result.exit_code == 2
    assert "unknown case 'normal-7'" in result.output
    assert "fingerprint '1.23E+15' is not 16 hex digits" in result.output
    assert "format that column as text" in result.output
    assert not (REVIEWS / "alice.yaml").exists()


# ---------------------------------------------------------------------------------------------
# Stale reviews, applying reviews, what needs review
# ---------------------------------------------------------------------------------------------


def test_a_changed_output_makes_its_reviews_stale(repo: Path, fake_openai: FakeAPI) -> None:
    run(repo)
    sheet = export("alice")
    fill_csv(sheet, lambda row: {"grounding": "pass", "safety": "pass"})
    assert invoke("review", "import", str(sheet)).exit_code == 0
    suite = load_suite("crm", repo)
    reviews = rv.load_reviews(suite.dir)
    assert rv.needs_review(run(repo), reviews) == []

    changed = {**GOOD_NOTE, "summary": "A different summary of ORD-48213."}
    fake_openai.responder = lambda wire, model, text, body: (
        json.dumps(changed) if model == "good-model" else (note_responder(wire, model, text, body))
    )
    # a rerun reuses unchanged records from the committed snapshot: drop it, and skip the cache
    snap.snapshot_path(repo, "crm").unlink()
    document = run(repo, use_cache=False)
    assert {r["source"] for r in document["records"]} == {"call"}
    rv.apply_reviews(document, reviews, suite.rubric)
    good = next(r for r in document["records"] if (r["case"], r["candidate"]) == ("normal-0", "fake/good"))
    bad = next(r for r in document["records"] if (r["case"], r["candidate"]) == ("normal-0", "fake/bad"))
    assert good["reviews"]["grounding"] == [{"reviewer": "alice", "verdict": "pass", "stale": True}]
    assert bad["reviews"]["grounding"] == [{"reviewer": "alice", "verdict": "pass", "stale": False}]
    assert good["verdicts"]["grounding"]["scorer"] == "checks"  # a machine verdict is never replaced
    assert "safety" not in good["verdicts"]  # stale reviews do not score
    assert bad["verdicts"]["safety"]["scorer"] == "human:alice"
    # every fake/good output changed: each has a criterion only people score, so each needs review again
    assert rv.needs_review(document, reviews) == [i for i in ITEMS if i[1] == "fake/good"]
    snap.validate(document)

    # the old sheet still imports: stored, and said to be stale
    fill_csv(sheet, lambda row: {"grounding": "mixed"})
    result = invoke("review", "import", str(sheet))
    assert result.exit_code == 0, result.output
    assert result.output.count("marked stale") == 4
    assert "4 stale" in result.output
    assert len(stored("alice")) == 8


def test_human_only_criterion_is_scored_by_the_reviewers(repo: Path) -> None:
    suite_file = repo / "suites" / "crm" / "suite.yaml"
    suite_file.write_text(
        suite_file.read_text().replace(
            "pass: Order numbers come from the conversation.",
            "pass: Order numbers come from the conversation.\n    human_only: true",
        )
    )
    document = run(repo)
    assert all("grounding" not in r["verdicts"] for r in document["records"])  # its checks do not run
    assert set(rv.needs_review(document, [])) == set(ITEMS)

    alice = {item: {"grounding": "pass"} for item in ITEMS}
    bob = {
        item: {"grounding": "fail" if item[1] == "fake/bad" else "pass", "notes": "no order id"}
        for item in ITEMS
    }
    assert review_csv("alice", alice).exit_code == 0
    assert review_csv("bob", bob).exit_code == 0

    suite = load_suite("crm", repo)
    reviews = rv.load_reviews(suite.dir)
    rv.apply_reviews(document, reviews, suite.rubric)
    rv.apply_reviews(document, reviews, suite.rubric)  # twice is harmless
    by_item = {(r["case"], r["candidate"], r["repeat"]): r for r in document["records"]}
    bad = by_item[("normal-0", "fake/bad", 0)]
    assert bad["verdicts"]["grounding"] == {
        "verdict": "fail",
        "scorer": "human:alice,bob",
        "reason": "human review: alice pass, bob fail -> fail (lower median of 2 reviewers). "
        "Notes: bob: no order id",
    }
    assert bad["reviews"] == {
        "grounding": [
            {"reviewer": "alice", "verdict": "pass", "stale": False},
            {"reviewer": "bob", "verdict": "fail", "stale": False},
        ]
    }
    assert by_item[("normal-0", "fake/good", 0)]["verdicts"]["grounding"]["verdict"] == "pass"
    assert bad["verdicts"]["format"]["scorer"] == "checks"  # untouched
    # safety still has no verdict on normal cases: those outputs still need a person
    assert rv.needs_review(document, reviews) == [i for i in ITEMS if i[0] != "reject-injection"]
    snap.validate(document)


def test_combine_is_the_lower_median() -> None:
    assert rv.combine(["pass"]) == "pass"
    assert rv.combine(["pass", "fail"]) == "fail"
    assert rv.combine(["pass", "mixed"]) == "mixed"
    assert rv.combine(["pass", "fail", "pass"]) == "pass"
    assert rv.combine(["pass", "mixed", "fail", "pass"]) == "mixed"


def test_csv_cells_that_look_like_formulas_are_inert() -> None:
    row = rv.SheetRow("c1", "normal", "@SUM(1)", "m", 0, '=HYPERLINK("http://x")', "0" * 16, {}, {}, "")
    sheet = rv.Sheet("crm", "alice", "", [("grounding", "ok")], [row], show_auto=False)
    parsed = next(csv.DictReader(io.StringIO(rv.render_csv(sheet))))
    assert parsed["output"] == '\'=HYPERLINK("http://x")' and parsed["input"] == "'@SUM(1)"


@pytest.mark.parametrize(("text", "verdict"), [("Pass", "pass"), (" M ", "mixed"), ("f", "fail"), ("", None)])
def test_verdicts_are_read_leniently(text: str, verdict: str | None) -> None:
    assert rv.parse_verdict(text) == verdict


# ---------------------------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------------------------

# Hand-computed: 8 outputs, alice vs bob on grounding (f = fail, m = mixed, p = pass)
#   alice: p p p p f f m p        bob: p p p f f f m m
# observed agreement 6/8; marginals alice f2 m1 p5, bob f3 m2 p3; expected (2*3 + 1*2 + 5*3)/64 = 23/64
#   kappa = (48/64 - 23/64) / (41/64) = 25/41
# quadratic weights (adjacent 1/4, opposite 1): observed 1.25/8, expected 26/64 -> weighted kappa 8/13
# ordinal alpha: coincidences n_f 5, n_m 3, n_p 8 (n 16); delta2 fm 16, mp 30.25, fp 90.25;
#   D_o = 2*90.25 + 2*30.25 = 241, D_e = 2*(5*3*16 + 3*8*30.25 + 5*8*90.25) = 9152
#   alpha = 1 - 15 * 241 / 9152 = 5537/9152
ALICE = ["pass", "pass", "pass", "pass", "fail", "fail", "mixed", "pass"]
BOB = ["pass", "pass", "pass", "fail", "fail", "fail", "mixed", "mixed"]


def test_agreement_matches_the_hand_computed_example(repo: Path) -> None:
    document = run(repo)
    # the judge scored grounding exactly like alice did
    for record, verdict in zip(document["records"], ALICE, strict=True):
        record["verdicts"]["grounding"] = {"verdict": verdict, "scorer": "judge:fake/good", "reason": "r"}
    snap.write(snap.snapshot_path(repo, "crm"), document)
    assert (
        review_csv("alice", {i: {"grounding": v} for i, v in zip(ITEMS, ALICE, strict=True)}).exit_code == 0
    )
    assert review_csv("bob", {i: {"grounding": v} for i, v in zip(ITEMS, BOB, strict=True)}).exit_code == 0
    # a review of an output that has since changed does not count
    (REVIEWS / "carol.yaml").write_text(
        yaml.safe_dump(
            [
                {
                    "case": "normal-0",
                    "candidate": "fake/bad",
                    "repeat": 0,
                    "output_fingerprint": "0" * 16,
                    "verdicts": {"grounding": "pass"},
                }
            ]
        )
    )

    result = invoke("review", "agreement", "crm", "--format", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["stale_reviews"] == 1
    found = {(tuple(a["pair"]), a["criterion"]): a for a in payload["agreements"]}
    pair = found[(("alice", "bob"), "grounding")]
    assert pair["n"] == 8
    assert pair["kappa"] == pytest.approx(25 / 41, abs=1e-4)
    assert pair["weighted_kappa"] == pytest.approx(8 / 13, abs=1e-4)
    assert pair["alpha"] == pytest.approx(5537 / 9152, abs=1e-4)
    assert pair["band"] == "unreliable"
    assert found[(("alice", "bob"), None)]["n"] == 8  # overall: grounding is the only shared criterion
    assert found[(("judge", "alice"), "grounding")]["kappa"] == 1.0
    assert found[(("judge", "bob"), "grounding")]["kappa"] == pytest.approx(25 / 41, abs=1e-4)
    assert ("judge", "humans") in {p for p, _ in found}
    assert not any("carol" in p for p, _ in found)
    assert found[(("checks", "alice"), None)]["n"] == 0  # the checks scored format, alice did not

    text = invoke("review", "agreement", "crm")
    assert text.exit_code == 0
    assert "judge agrees with alice on grounding: alpha 1.00, n 8 (reliable)" in text.output
    assert "alice does not reliably agree with bob on grounding: alpha 0.61, n 8 (unreliable)" in text.output
    assert "1 stale review(s) left out" in text.output


def test_the_judge_is_read_from_its_own_calls_not_from_combined_verdicts() -> None:
    record = {
        "case": "c1",
        "candidate": "m",
        "repeat": 0,
        "output_fingerprint": "a" * 64,
        "verdicts": {
            "tone": {"verdict": "mixed", "scorer": "checks+judge:j", "reason": "checks and judge differ"},
            "format": {"verdict": "pass", "scorer": "checks", "reason": "r"},
        },
    }
    calls = [
        {"criterion": "tone", "case": "c1", "candidate": "m", "repeat": 0, "retry": True, "verdict": "fail"},
        {
            "criterion": "tone",
            "case": "c1",
            "candidate": "m",
            "repeat": 0,
            "retry": False,
            "verdict": "error",
        },
    ]
    snapshot = {"rubric": [{"id": "tone"}, {"id": "format"}], "records": [record], "judge_records": calls}
    review = rv.Review("alice", "c1", "m", 0, "a" * 16, {"tone": "fail"})
    ratings = rv.rater_ratings(snapshot, [review])
    assert ratings["judge"] == {("tone", "c1", "m", 0): "fail"}  # the retry's answer, not "mixed"
    assert ratings["checks"] == {("format", "c1", "m", 0): "pass"}
    assert ratings["alice"] == {("tone", "c1", "m", 0): "fail"}


def test_agreement_without_reviews_says_how_to_start(repo: Path) -> None:
    run(repo)
    result = invoke("review", "agreement", "crm")
    assert result.exit_code == 0
    assert "bench review export crm" in result.output


def test_imported_reviews_reach_the_snapshot_and_survive_a_rerun(repo: Path) -> None:
    suite_file = repo / "suites" / "crm" / "suite.yaml"
    suite_file.write_text(
        suite_file.read_text().replace(
            "pass: Order numbers come from the conversation.",
            "pass: Order numbers come from the conversation.\n    human_only: true",
        )
    )
    run(repo)
    verdicts = {item: {"grounding": "fail" if item[1] == "fake/bad" else "pass"} for item in ITEMS}
    assert review_csv("alice", verdicts).exit_code == 0
    # the import folds the human verdicts into the current snapshot and its summary at once
    document = json.loads((repo / "results" / "crm.json").read_text())
    snap.validate(document)
    assert document["summary"]["fake/good"]["criteria"]["grounding"]["passed"] == 4
    assert document["summary"]["fake/bad"]["criteria"]["grounding"]["passed"] == 0
    # a rerun (everything reused) keeps them: reviews are applied when the snapshot is built
    again = run(repo)
    assert again["summary"]["fake/bad"]["criteria"]["grounding"]["n"] == 4
    good = next(r for r in again["records"] if r["candidate"] == "fake/good")
    assert good["verdicts"]["grounding"]["scorer"] == "human:alice"
    report = invoke("report", "crm")
    assert "human review: 8 outputs reviewed by alice" in report.output
