"""Shared pieces of the benchmark scripts: the machine, a fake API process, a generated suite repository,
and a child process measured for wall time, CPU seconds and peak memory.

Everything runs out of process, the way a user runs it: the fake server is its own Python process (it
competes for the same cores, as a real network stack would not, so its CPU is reported too) and bench is
started through its console script, so process start and imports are part of every figure.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAKE_KEY = "sk-perf-" + "p" * 32
KEY_ENV = "PERF_OPENAI_KEY"
SUITE = "perf"
MODEL_KEY = "fake/perf"
MODEL_ID = "perf-model"
PYCACHE = "/tmp/bench-perf-pycache"


# ------------------------------------------------------------------------------------------------ machine


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        out = subprocess.run(["free", "-g"], capture_output=True, text=True, check=True).stdout
        total = next(line.split()[1] for line in out.splitlines() if line.startswith("Mem:"))
        mem = f"{total} GiB (free -g)"
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    return {
        "nproc": str(os.cpu_count()),
        "memory": mem,
        "cpu": cpu,
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def print_machine() -> dict[str, str]:
    info = machine()
    print(
        f"machine: nproc={info['nproc']}, memory {info['memory']}, CPU {info['cpu']}, "
        f"Python {info['python']}, {info['date']}; {load()}"
    )
    return info


def load() -> str:
    """The 1-minute load average: above ~1 on 2 cores, something else competes and walls stretch."""
    try:
        return f"load average {os.getloadavg()[0]:.2f}"
    except OSError:
        return "load average unknown"


# ------------------------------------------------------------------------------------------------ bench


def bench_command() -> list[str]:
    """The console script next to this interpreter (not a pyenv shim: a shim is a shell script that adds
    ~0.1 s of its own to every start); ``python -m bench`` when there is none."""
    script = Path(sys.executable).parent / "bench"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "bench"]


def bench_env(bytecode_cache: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env[KEY_ENV] = FAKE_KEY
    env["NO_COLOR"] = "1"
    if bytecode_cache:
        # as on a user's machine, where imports read .pyc files; kept out of the source tree (this
        # environment sets PYTHONDONTWRITEBYTECODE and bench/ has no __pycache__)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = PYCACHE
    return env


# ------------------------------------------------------------------------------------------------ server


class FakeServer:
    """``python -m tests.servers.fake_api`` as a separate process; ``.base_url`` once it listens."""

    def __init__(self, latency: float, wire: str = "openai"):
        self.latency = latency
        self.wire = wire
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> FakeServer:
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "tests.servers.fake_api",
                "--wire", self.wire, "--port", "0", "--latency", str(self.latency),
                "--no-rate-limit-headers",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening "):
            self.proc.kill()
            raise RuntimeError(f"fake server did not start: {line!r} {self.proc.stderr.read()!r}")
        self.url = line.split(" ", 1)[1]
        return self

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def cpu_seconds(self) -> float:
        """utime + stime of the server process so far (from /proc; 0 where there is no /proc)."""
        assert self.proc is not None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------------------------------------ suite


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_repo(
    root: Path,
    base_url: str,
    n_cases: int,
    repeat: int = 1,
    concurrency: int = 50,
    git: bool = True,
) -> Path:
    """A bench repository in ``root``: one catalog entry on the fake server, one suite of ``n_cases``
    tiny cases, one candidate, a rubric with one automatic check. Committed to git (bench records the
    commit) when ``git`` is true and git is on PATH."""
    catalog = {
        "version": "perf",
        "models": {
            MODEL_KEY: {
                "provider": "openai",
                "model": MODEL_ID,
                "base_url": base_url,
                "api_key_env": KEY_ENV,
                "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                "limits": {"concurrency": concurrency},
            }
        },
    }
    write(root / "suites" / "models.yaml", json.dumps(catalog, indent=1))  # JSON is YAML
    suite_dir = root / "suites" / SUITE
    write(suite_dir / "prompts" / "user.md", "Say hello to {{ name }}.\n")
    categories = ["normal", "difficult", "edge", "reject", "messy"]
    lines = [
        json.dumps({"id": f"case-{i:05d}", "category": categories[i % 5], "vars": {"name": f"user {i}"}})
        for i in range(n_cases)
    ]
    write(suite_dir / "cases.jsonl", "\n".join(lines) + "\n")
    write(
        suite_dir / "suite.yaml",
        f"""name: {SUITE}
workflow: Greet a user by name (a benchmark of bench itself).
prompt:
  user: prompts/user.md
cases: cases.jsonl
candidates:
  - model: {MODEL_KEY}
    role: frontier
    params: {{temperature: 0, max_tokens: 20}}
rubric:
  - id: length
    kind: format
    pass: The answer is short.
    checks:
      - {{type: max-chars, value: 2000}}
repeat: {repeat}
""",
    )
    write(root / ".gitignore", ".bench/\n")
    if git and shutil.which("git"):
        run = {"cwd": root, "check": True, "capture_output": True}
        subprocess.run(["git", "init", "-q"], **run)
        subprocess.run(["git", "add", "-A"], **run)
        subprocess.run(
            [
                "git",
                "-c",
                "user.name=perf",
                "-c",
                "user.email=perf@example.invalid",
                "commit",
                "-qm",
                "suite",
            ],
            **run,
        )
    return root


# ------------------------------------------------------------------------------------------------ measuring


@dataclass
class Measured:
    wall: float  # seconds, from fork to exit
    cpu: float  # user + system seconds of the process and the children it waited for
    user: float
    system: float
    max_rss_mb: float  # peak resident set, MiB
    returncode: int
    stdout: str
    stderr: str


def measure(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd`` and return its own rusage (``os.wait4`` on its pid: no delta arithmetic, and peak RSS
    is this child's, not the largest of every child so far)."""
    out_path = cwd / ".perf-stdout"
    err_path = cwd / ".perf-stderr"
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    out_path.unlink()
    err_path.unlink()
    return Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        user=usage.ru_utime,
        system=usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,  # Linux: KiB
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
    )


def check(m: Measured, what: str) -> Measured:
    if m.returncode != 0:
        raise SystemExit(f"{what} failed with exit {m.returncode}:\n{m.stdout[-2000:]}\n{m.stderr[-2000:]}")
    return m


def snapshot_sources(root: Path) -> dict[str, int]:
    """How many records of the snapshot came from a call, the cache or the previous snapshot."""
    data = json.loads((root / "results" / f"{SUITE}.json").read_text())
    counts: dict[str, int] = {}
    for record in data["records"]:
        source = record.get("source", "call")
        counts[source] = counts.get(source, 0) + 1
    errors = sum(1 for r in data["records"] if r.get("error"))
    if errors:
        counts["errors"] = errors
    return counts


def verdict(value: float, target: float) -> str:
    return "meets" if value <= target else "MISSES"
