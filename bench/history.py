"""Git history *is* the run history: snapshots at revisions, snapshot commits, what changed since a revision.

Every function here reads git through GitPython (imported inside the functions, so ``bench --help`` stays
fast) or, where one process must serve many objects, through a single ``git`` subprocess:
:func:`history` lists the commits that touched ``results/<suite>.json`` with one ``git log`` and reads every
version of the file with one ``git cat-file --batch``, so 200 commits cost two processes, not 200.

Paths given to git are relative to the repository's top level; ``root`` (the bench root, ``--root``) may be
a folder inside the repository, and :func:`repo_path` maps a path under it to the path git knows.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import git

#: where the default branch may live, in the order :func:`default_base` tries them
DEFAULT_BRANCHES = ("origin/HEAD", "main", "master", "origin/main", "origin/master")
FINGERPRINT_CHARS = 12
CATALOG_PATH = "suites/models.yaml"


# ---------------------------------------------------------------------------------------------
# Finding the repository and revisions
# ---------------------------------------------------------------------------------------------


def find_repo(root: Path) -> git.Repo:
    """The git repository holding ``root`` (which may be a folder inside it)."""
    import git

    try:
        return git.Repo(Path(root), search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(f"{root} is not inside a git repository") from None


def work_dir(repo: git.Repo) -> Path:
    if repo.working_tree_dir is None:
        raise InputError(f"{repo.git_dir} is a bare repository: bench needs a working tree")
    return Path(repo.working_tree_dir).resolve()


def repo_path(repo: git.Repo, root: Path | None, relative: str | Path) -> str:
    """The path git knows (relative to the top level, ``/``-separated) of ``relative`` under ``root``."""
    top = work_dir(repo)
    base = Path(root).resolve() if root is not None else top
    target = (base / relative).resolve() if not Path(relative).is_absolute() else Path(relative).resolve()
    try:
        return target.relative_to(top).as_posix()
    except ValueError:
        raise InputError(f"{target} is outside the git repository {top}") from None


def resolve_rev(repo: git.Repo, rev: str) -> str:
    """The full commit hash ``rev`` names (a branch, tag, ``HEAD~2``, a short hash...)."""
    import git

    try:
        return repo.commit(rev).hexsha
    except (git.BadName, git.BadObject, ValueError, git.GitCommandError):
        raise InputError(f"unknown revision {rev!r}") from None


def _try_rev(repo: git.Repo, rev: str) -> str | None:
    try:
        return resolve_rev(repo, rev)
    except InputError:
        return None


def default_branch(repo: git.Repo) -> str | None:
    """The first of origin/HEAD, main, master, origin/main, origin/master that exists."""
    return next((name for name in DEFAULT_BRANCHES if _try_rev(repo, name) is not None), None)


def default_base(repo: git.Repo, working_tree_paths: Sequence[str] = ()) -> str:
    """What a change is compared against when no ``--base`` is given.

    On a feature branch (or a detached CI checkout of one): where it forked from the default branch (their
    merge-base), so a pull request is compared with what it would merge into. On the default branch itself,
    or at its tip, or when there is no default branch: the previous commit (HEAD~1) -- unless the head side
    is the working tree and one of ``working_tree_paths`` (e.g. ``results/``, ``suites/``) has uncommitted
    changes: then HEAD, so "what did my uncommitted run change" is not mixed with the last commit's change.
    """
    head = _try_rev(repo, "HEAD")
    if head is None:
        raise InputError("the repository has no commit yet: nothing to compare with")
    branch = default_branch(repo)
    if branch is not None and not _on_default_branch(repo, branch, head):
        bases = repo.merge_base("HEAD", branch)
        if bases:
            return bases[0].hexsha
    if working_tree_paths and _uncommitted(repo, working_tree_paths):
        return head
    parent = _try_rev(repo, "HEAD~1")
    if parent is None:
        raise InputError(
            "HEAD is the first commit: there is no earlier commit to compare with (pass --base REV)"
        )
    return parent


def _uncommitted(repo: git.Repo, paths: Sequence[str]) -> bool:
    """Whether any of ``paths`` differs from HEAD in the working tree (untracked files included)."""
    status = repo.git.status("--porcelain", "--untracked-files=all", "--", *paths)
    return bool(status.strip())


def _on_default_branch(repo: git.Repo, branch: str, head: str) -> bool:
    if resolve_rev(repo, branch) == head:
        return True
    try:
        current = repo.active_branch.name
    except TypeError:  # detached HEAD, e.g. a CI checkout of a pull request
        return False
    if branch == "origin/HEAD":
        target = repo.git.symbolic_ref("--quiet", "refs/remotes/origin/HEAD").removeprefix(
            "refs/remotes/origin/"
        )
    else:
        target = branch.split("/", 1)[1] if branch.startswith("origin/") else branch
    return current == target


# ---------------------------------------------------------------------------------------------
# Files and snapshots at a revision
# ---------------------------------------------------------------------------------------------


def file_at(repo: git.Repo, rev: str | None, path: str) -> str | None:
    """The text of ``path`` (relative to the repository's top level) at ``rev``; ``None`` when absent.

    ``rev=None`` reads the working tree, so "head" can be what is on disk before it is committed.
    """
    if rev is None:
        target = work_dir(repo) / path
        try:
            return target.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
    commit = repo.commit(resolve_rev(repo, rev))
    try:
        blob = commit.tree / path
    except KeyError:
        return None
    if blob.type != "blob":
        return None
    return _text(blob.data_stream.read())


def _text(data: bytes) -> str:
    """Decode like ``Path.read_text`` does (universal newlines), so fingerprints of both agree."""
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def rev_label(repo: git.Repo, rev: str | None) -> str:
    """How a side of a comparison is named in messages: a short hash, or "the working tree"."""
    return "the working tree" if rev is None else repo.git.rev_parse("--short", rev)


def snapshot_path_in_repo(repo: git.Repo, suite: str, root: Path | None = None) -> str:
    from bench.snapshot import RESULTS_DIR

    return repo_path(repo, root, f"{RESULTS_DIR}/{suite}.json")


def snapshot_at(repo: git.Repo, rev: str | None, suite: str, root: Path | None = None) -> dict[str, Any]:
    """The parsed snapshot ``results/<suite>.json`` at ``rev`` (``None``: the working tree).

    Raises InputError naming the revision and the path when there is no snapshot there, so "no snapshot at
    that commit" reads as such, not as a traceback.
    """
    from bench.snapshot import loads

    path = snapshot_path_in_repo(repo, suite, root)
    text = file_at(repo, rev, path)
    where = "the working tree" if rev is None else f"revision {rev[:12]}"
    if text is None:
        raise InputError(f"no snapshot {path} in {where}: run `bench run {suite}` and commit the result")
    return loads(text, f"{path} ({where})")


def _suite_dir(snapshot: Mapping[str, Any]) -> str:
    suite = snapshot.get("suite") or {}
    path = suite.get("path")
    if not path or Path(path).is_absolute():
        path = f"suites/{suite.get('name')}"
    return str(path)


def _suite_config_at(
    repo: git.Repo, rev: str | None, snapshot: Mapping[str, Any], root: Path | None
) -> dict[str, Any]:
    import yaml

    text = file_at(repo, rev, repo_path(repo, root, f"{_suite_dir(snapshot)}/suite.yaml"))
    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def prompt_files_at(
    repo: git.Repo, rev: str | None, snapshot: Mapping[str, Any], root: Path | None = None
) -> dict[str, str]:
    """The prompt templates a snapshot was made with, by role (for compare's diff).

    The snapshot names its template files (``suite.files``; an older snapshot without them: the
    ``prompt:`` block of suite.yaml at ``rev``) and fingerprints their text. The text at ``rev`` is used when
    its fingerprint matches; otherwise (the snapshot was made before a template edit was committed) the
    version at the commit the run was made on, else the most recent earlier version that matches. A role
    whose text cannot be found is left out: no diff beats a wrong diff.
    """
    files = (snapshot.get("suite") or {}).get("files") or {}
    paths = {name.split(".", 1)[1]: path for name, path in files.items() if name.startswith("prompt.")}
    if not paths:
        prompt = _suite_config_at(repo, rev, snapshot, root).get("prompt")
        prompt = prompt if isinstance(prompt, dict) else {}  # an old commit's suite.yaml may be malformed
        paths = {role: path for role, path in prompt.items() if isinstance(path, str)}
    wanted = (snapshot.get("fingerprints") or {}).get("prompts") or {}
    made_on = (snapshot.get("git") or {}).get("commit")
    texts = {}
    for role, path in paths.items():
        full = repo_path(repo, root, f"{_suite_dir(snapshot)}/{path}")
        text = _version_with_fingerprint(repo, full, wanted.get(role), rev, made_on)
        if text is not None:
            texts[role] = text
    return texts


NOT_SNAPSHOTS = (".probe.json", ".partial.json")  # files of results/ that are not snapshots
HISTORY_SEARCH = 100  # earlier versions of a template searched for a matching fingerprint


def _version_with_fingerprint(
    repo: git.Repo, path: str, fingerprint: str | None, rev: str | None, made_on: str | None
) -> str | None:
    from bench.catalog import sha256_json

    text = file_at(repo, rev, path)
    if fingerprint is None or (text is not None and sha256_json(text) == fingerprint):
        return text
    if made_on and _try_rev(repo, made_on):
        text = file_at(repo, made_on, path)
        if text is not None and sha256_json(text) == fingerprint:
            return text
    start = resolve_rev(repo, rev) if rev is not None else "HEAD"
    out = _git(repo, ["log", "--format=%H", f"--max-count={HISTORY_SEARCH}", start, "--", path])
    commits = out.decode().split()
    for blob in _read_blobs(repo, [f"{c}:{path}" for c in commits]):
        if blob is not None and sha256_json(_text(blob)) == fingerprint:
            return _text(blob)
    return None


def compare_thresholds_at(
    repo: git.Repo, rev: str | None, snapshot: Mapping[str, Any], root: Path | None = None
) -> dict[str, Any]:
    """The suite's ``compare:`` thresholds: the block the snapshot was run with (``settings.compare``),
    overridden by the suite.yaml at ``rev``, so a threshold edited in a pull request applies at once."""
    recorded = (snapshot.get("settings") or {}).get("compare")
    block = _suite_config_at(repo, rev, snapshot, root).get("compare")
    merged = dict(recorded) if isinstance(recorded, dict) else {}
    return merged | (dict(block) if isinstance(block, dict) else {})


def snapshots_present(repo: git.Repo, rev: str | None, root: Path | None = None) -> list[str]:
    """Names of the suites with a snapshot ``results/<suite>.json`` at ``rev`` (``None``: working tree)."""
    from bench.snapshot import RESULTS_DIR

    folder = repo_path(repo, root, RESULTS_DIR)
    if rev is None:
        names = [p.name for p in (work_dir(repo) / folder).glob("*.json")]
    else:
        listing = repo.git.ls_tree("--name-only", "-z", resolve_rev(repo, rev), f"{folder}/")
        names = [Path(p).name for p in listing.split("\0") if p]
    # results/ also holds <suite>.probe.json and <suite>.I-of-N.partial.json, which are not snapshots;
    # filtered by suffix, since a suite name may itself contain dots (crm.v2)
    return sorted(
        n.removesuffix(".json") for n in names if n.endswith(".json") and not n.endswith(NOT_SNAPSHOTS)
    )


# ---------------------------------------------------------------------------------------------
# Committing a snapshot
# ---------------------------------------------------------------------------------------------


def commit_snapshot(root: Path, path: Path, message: str) -> str:
    """Commit ``path`` alone, whatever else is staged or modified, and return the commit's hash.

    ``git commit --only -- path`` builds the commit from HEAD plus this one file, then updates the index for
    this file only: another staged file stays staged (and out of the commit), an unstaged edit stays unstaged.
    When the file equals HEAD's version there is nothing to commit and HEAD's hash is returned.
    """
    import git

    repo = find_repo(root)
    relative = repo_path(repo, None, Path(path).resolve())
    if not (work_dir(repo) / relative).is_file():
        raise InputError(f"no file {path} to commit")
    try:
        repo.git.add("--", relative)
        if _try_rev(repo, "HEAD") is not None and not repo.git.diff(
            "--cached", "--name-only", "HEAD", "--", relative
        ):
            return repo.head.commit.hexsha
        repo.git.commit("--only", "--quiet", "-m", message, "--", relative)
    except git.GitCommandError as exc:
        detail = (exc.stderr or str(exc)).strip().removeprefix("stderr:").strip().strip("'")
        raise InputError(f"could not commit {relative}: {detail}") from None
    return repo.head.commit.hexsha


def _short_name(key: str, keys: Iterable[str]) -> str:
    """``openai/gpt-5.5`` -> ``gpt-5.5``, unless another candidate has the same short name."""
    short = key.rsplit("/", 1)[-1]
    clashes = [k for k in keys if k.rsplit("/", 1)[-1] == short]
    return short if len(clashes) <= 1 else key


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _fingerprint(value: Any) -> str:
    """First 12 hex of a fingerprint; a mapping of them (prompts by role) is fingerprinted as a whole."""
    from bench.catalog import sha256_json

    if isinstance(value, str):
        return value[:FINGERPRINT_CHARS]
    if value is None:
        return "none"
    return sha256_json(value)[:FINGERPRINT_CHARS]


def commit_message(snapshot: Mapping[str, Any]) -> str:
    """A commit message that reads in ``git log --oneline`` and greps by trailer.

    Subject: the suite and each candidate's quality pass rate, best first
    (``bench: support-crm-notes — gpt-5.5 92% quality, smollm2 40%``). Body: one line per candidate (pass
    rates, cost per request and p95 latency when known, skip reasons). Trailers: ``Bench-Suite``,
    ``Bench-Prompts``, ``Bench-Cases``, ``Bench-Rubric`` (first 12 hex of the fingerprints), so
    ``git log --grep 'Bench-Prompts: 8dd9'`` finds every run of one prompt version.
    """
    suite = snapshot["suite"]["name"]
    summary = snapshot.get("summary") or {}
    keys = [c["key"] for c in snapshot.get("candidates", [])]
    ranked = sorted(
        (k for k in keys if (summary.get(k, {}).get("quality") or {}).get("rate") is not None),
        key=lambda k: -summary[k]["quality"]["rate"],
    )
    parts = [f"{_short_name(k, keys)} {_percent(summary[k]['quality']['rate'])}" for k in ranked]
    if parts:
        parts[0] += " quality"
        subject = f"bench: {suite} — " + ", ".join(parts)
    else:
        subject = f"bench: {suite} — no candidate scored"
    lines = [subject, ""]
    lines += [_candidate_line(c, summary.get(c["key"]), keys) for c in snapshot.get("candidates", [])]
    if not snapshot.get("complete", True):
        lines.append("incomplete run: some calls did not finish")
    prints = snapshot.get("fingerprints") or {}
    lines += [
        "",
        f"Bench-Suite: {suite}",
        f"Bench-Prompts: {_fingerprint(prints.get('prompts'))}",
        f"Bench-Cases: {_fingerprint(prints.get('cases'))}",
        f"Bench-Rubric: {_fingerprint(prints.get('rubric'))}",
    ]
    return "\n".join(lines) + "\n"


def _candidate_line(candidate: Mapping[str, Any], summary: Mapping[str, Any] | None, keys: list[str]) -> str:
    key = candidate["key"]
    name = f"{key} ({candidate['role']})" if candidate.get("role") else key
    if candidate.get("status") != "ran" or summary is None:
        reason = candidate.get("skip_reason") or candidate.get("status", "not run")
        return f"- {name}: not run ({reason})"
    quality = summary.get("quality") or {}
    bits = [f"quality {_percent(quality.get('rate'))}"]
    if quality.get("n"):
        bits[0] += f" ({quality['low']:.0%}–{quality['high']:.0%}, n={quality['n']})"
    for metric in ("format", "safety", "edge_cases"):
        rate = (summary.get(metric) or {}).get("rate")
        if rate is not None:
            bits.append(f"{metric.replace('_', ' ')} {rate:.0%}")
    cost = (summary.get("cost") or {}).get("per_request_usd")
    if cost is not None:
        bits.append(f"${cost:.6g} per request")
    p95 = (summary.get("latency_ms") or {}).get("p95")
    if p95 is not None:
        bits.append(f"p95 {p95:.0f} ms")
    if summary.get("errors"):
        bits.append(f"{summary['errors']} errors")
    outcome = (summary.get("recommendation") or {}).get("outcome")
    if outcome:
        bits.append(f"outcome: {outcome}")
    return f"- {name}: " + ", ".join(bits)


# ---------------------------------------------------------------------------------------------
# Which suites changed since a revision
# ---------------------------------------------------------------------------------------------


def changed_suites(root: Path, rev: str) -> list[str]:
    """Suites (that exist now) whose inputs changed since ``rev``, committed or not.

    A suite changed when any file under ``suites/<name>/`` differs between ``rev`` and the working tree
    (untracked files included), or when the catalog entry of one of its models (a candidate's ``model`` or
    ``judge``, the suite's ``judge``) differs between ``suites/models.yaml`` at ``rev`` and now. Other
    catalog edits (the ``version`` line, comments, models nobody uses) change nothing; a catalog (or a
    suite.yaml) that cannot be parsed counts as changed for every suite it may concern.
    """
    from bench.suite import discover_suites

    repo = find_repo(root)
    base = resolve_rev(repo, rev)
    existing = {p.name for p in discover_suites(Path(root))}
    changed = {
        n for n in _touched_suite_folders(repo, base, repo_path(repo, root, "suites")) if n in existing
    }
    moved = _changed_catalog_entries(repo, base, repo_path(repo, root, CATALOG_PATH))
    for name in sorted(existing - changed):
        if moved is None:
            changed.add(name)
        elif moved:
            used = _models_of_suite(Path(root) / "suites" / name / "suite.yaml")
            if used is None or used & moved:
                changed.add(name)
    return sorted(changed)


def _touched_suite_folders(repo: git.Repo, base: str, suites_dir: str) -> set[str]:
    diffed = repo.git.diff("--name-only", "-z", base, "--", f"{suites_dir}/").split("\0")
    untracked = repo.git.ls_files("--others", "--exclude-standard", "-z", "--", f"{suites_dir}/").split("\0")
    names = set()
    for path in (p for p in [*diffed, *untracked] if p):
        parts = path[len(suites_dir) + 1 :].split("/")
        if len(parts) >= 2:  # suites/<name>/<file...>; suites/models.yaml counts through its entries
            names.add(parts[0])
    return names


def _catalog_entries(text: str | None) -> dict[str, Any] | None:
    """The ``models:`` mapping of a catalog text; empty when there is no file, None when unreadable."""
    import yaml

    if text is None:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    models = data.get("models") if isinstance(data, dict) else None
    return models if isinstance(models, dict) else None


def _changed_catalog_entries(repo: git.Repo, base: str, catalog: str) -> set[str] | None:
    """Catalog keys whose entry differs between ``base`` and now; None when either side is unreadable."""
    before = _catalog_entries(file_at(repo, base, catalog))
    after = _catalog_entries(file_at(repo, None, catalog))
    if before is None or after is None:
        return None
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def _models_of_suite(suite_yaml: Path) -> set[str] | None:
    """Catalog keys a suite uses (candidates' ``model`` and ``judge``, the suite's ``judge``); None if unreadable."""
    import yaml

    try:
        data = yaml.safe_load(suite_yaml.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    used = {data["judge"]} if isinstance(data.get("judge"), str) else set()
    for candidate in data.get("candidates") or []:
        if isinstance(candidate, dict):
            used |= {candidate[k] for k in ("model", "judge") if isinstance(candidate.get(k), str)}
    return used


# ---------------------------------------------------------------------------------------------
# History of one suite
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidatePoint:
    """One candidate's headline figures in one snapshot."""

    quality: dict[str, Any] | None  # the rate dict: rate, low, high, n
    cost_per_request_usd: float | None
    latency_p95_ms: float | None
    outcome: str | None
    errors: int = 0


@dataclass(frozen=True)
class HistoryRow:
    """One commit that changed ``results/<suite>.json``: who, when, the figures, and which inputs moved."""

    commit: str
    date: str
    author: str
    subject: str
    candidates: dict[str, CandidatePoint]
    changed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LOG_FORMAT = "%H%x1f%aI%x1f%an%x1f%s%x1e"


def history(
    repo: git.Repo, suite: str, limit: int | None = None, root: Path | None = None
) -> list[HistoryRow]:
    """One row per commit that changed ``results/<suite>.json``, newest first.

    Two git processes whatever the number of commits: ``git log`` lists the commits, one
    ``git cat-file --batch`` reads every version of the file. ``changed`` compares each snapshot's input
    fingerprints with the previous (older) one's; one commit more than ``limit`` is read for that.
    """
    path = snapshot_path_in_repo(repo, suite, root)
    commits = _log(repo, path, None if limit is None else limit + 1)
    if not commits:
        raise InputError(f"no commit changed {path}: run `bench run {suite}` and commit the snapshot")
    blobs = _read_blobs(repo, [f"{c[0]}:{path}" for c in commits])
    rows: list[HistoryRow] = []
    documents = [_parse(blob) for blob in blobs]
    for index, (sha, date, author, subject) in enumerate(commits):
        document = documents[index]
        if document is None:  # the commit deleted the file (or it is not a snapshot)
            continue
        older = next((d for d in documents[index + 1 :] if d is not None), None)
        is_first = older is None and (limit is None or len(commits) <= limit)
        changed = ["first snapshot"] if is_first else _changed_inputs(older, document)
        rows.append(HistoryRow(sha, date, author, subject, _points(document), changed))
    return rows[:limit] if limit is not None else rows


def _log(repo: git.Repo, path: str, limit: int | None) -> list[tuple[str, str, str, str]]:
    args = ["log", f"--format={LOG_FORMAT}"]
    if limit is not None:
        args.append(f"--max-count={limit}")
    out = _git(repo, [*args, "--", path]).decode("utf-8", errors="replace")
    commits = []
    for entry in out.split("\x1e"):
        fields = entry.strip("\n").split("\x1f")
        if len(fields) == 4:
            commits.append((fields[0], fields[1], fields[2], fields[3]))
    return commits


def _git(repo: git.Repo, args: list[str], stdin: bytes | None = None) -> bytes:
    import git

    executable = git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git"
    done = subprocess.run(
        [executable, *args], cwd=work_dir(repo), input=stdin, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise InputError(f"git {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _read_blobs(repo: git.Repo, objects: list[str]) -> list[bytes | None]:
    """Every object named in ``objects`` (``rev:path``) through one ``git cat-file --batch``."""
    out = _git(repo, ["cat-file", "--batch"], stdin="".join(f"{o}\n" for o in objects).encode())
    blobs: list[bytes | None] = []
    position = 0
    for _ in objects:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        position = end + 1
        if header[-1] == b"missing" or len(header) < 3:
            blobs.append(None)
            continue
        size = int(header[2])
        blobs.append(out[position : position + size] if header[1] == b"blob" else None)
        position += size + 1  # the content is followed by a newline
    return blobs


def _parse(blob: bytes | None) -> dict[str, Any] | None:
    if blob is None:
        return None
    try:
        document = json.loads(blob)
    except ValueError:
        return None
    return document if isinstance(document, dict) and "summary" in document else None


def _points(snapshot: Mapping[str, Any]) -> dict[str, CandidatePoint]:
    points = {}
    summary = snapshot.get("summary") or {}
    for candidate in snapshot.get("candidates", []):
        mine = summary.get(candidate["key"])
        if mine is None:
            continue
        points[candidate["key"]] = CandidatePoint(
            quality=mine.get("quality"),
            cost_per_request_usd=(mine.get("cost") or {}).get("per_request_usd"),
            latency_p95_ms=(mine.get("latency_ms") or {}).get("p95"),
            outcome=(mine.get("recommendation") or {}).get("outcome"),
            errors=int(mine.get("errors") or 0),
        )
    return points


def _changed_inputs(older: Mapping[str, Any] | None, newer: Mapping[str, Any]) -> list[str]:
    """Which input fingerprints differ: ``prompts (user)``, ``cases``, ``rubric``, ``candidates (key)``."""
    if older is None:
        return []
    before, after = older.get("fingerprints") or {}, newer.get("fingerprints") or {}
    changed = []
    for group in ("prompts", "candidates"):
        old, new = before.get(group) or {}, after.get(group) or {}
        moved = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        if moved:
            changed.append(f"{group} ({', '.join(moved)})")
    changed += [group for group in ("cases", "rubric") if before.get(group) != after.get(group)]
    return changed
