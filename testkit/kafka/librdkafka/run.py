#!/usr/bin/env python3
"""Runs tests of librdkafka's own suite against one Kafka broker.

Each test number runs in a test-runner process of its own, so a test that
hangs or aborts costs only itself, under an outer timeout. The broker is
told through a generated test.conf (bootstrap.servers) and
TEST_KAFKA_VERSION; the runner is the one scripts/install-librdkafka-tests
builds. Prints one line per test number ("pass 0001", "fail 0003 ...",
"skip 0019 ..."), then a line "N passed, N failed, N skipped", and exits 1
when any test failed or timed out.

    run.py --bootstrap 127.0.0.1:9092 --tests allowlist.txt
    run.py --bootstrap 127.0.0.1:9092 --all         # every broker test
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# The Kafka version the suite is told it runs against: the newest its
# Makefile knows (KAFKA_VERSION), so no test is skipped for needing a newer
# broker. Stratus serves a Kafka 3.x-era API set and more.
KAFKA_VERSION = "3.1.0"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# "| 0001_multiobj    |     PASSED |   1.234s |" in the closing summary.
SUMMARY = re.compile(r"^\|\s*(\d{4}_\S+)\s*\|\s*(PASSED|FAILED|SKIPPED|RUNNING|NOT STARTED)\s*\|")


def runner_dir():
    found = sorted((ROOT / "target/librdkafka-tests").glob("librdkafka-*/tests/test-runner"))
    if not found:
        sys.exit(
            "librdkafka's test runner is missing under target/librdkafka-tests; "
            "build it with scripts/install-librdkafka-tests"
        )
    return found[-1].parent


def all_broker_tests(tests_dir):
    """Every test number in the runner's table, less the manual 8000 series."""
    names = re.findall(r"_TEST\((\d{4})_\w+", (tests_dir / "test.c").read_text())
    return sorted({n for n in names if not n.startswith("8")})


def read_list(path):
    """(test number, sub-test filter or None) from a file: a number and an
    optional SUBTESTS substring per line, # starts a comment."""
    out = []
    for line in Path(path).read_text().splitlines():
        words = line.split("#", 1)[0].split(None, 1)
        if words:
            out.append((words[0], words[1].strip() if len(words) > 1 else None))
    return out


def run_one(tests_dir, conf, number, subtests, timeout, quick, scenario):
    env = dict(os.environ)
    env.pop("SUBTESTS", None)
    if subtests:
        # The runner skips every SUB_TEST() whose name lacks this substring.
        env["SUBTESTS"] = subtests
    env.update(
        {
            "TESTS": number,
            "RDKAFKA_TEST_CONF": str(conf),
            "TEST_KAFKA_VERSION": KAFKA_VERSION,
            "LD_LIBRARY_PATH": f"{tests_dir.parent / 'src'}:{tests_dir.parent / 'src-cpp'}",
            "RDKAFKA_GITVER": "debian-source",
        }
    )
    # -L: no broker-less tests, which never reach the broker under test.
    # Quick mode (-Q) is not the default: besides sending fewer messages it
    # skips every sub-test not marked quick, so many tests pass having done
    # nothing.
    args = [str(tests_dir / "test-runner"), "-L", "-p1", "-s", scenario]
    args += ["-Q"] if quick else []
    start = time.monotonic()
    try:
        proc = subprocess.run(
            args, cwd=tests_dir, env=env, capture_output=True, timeout=timeout
        )
        output = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        code = proc.returncode
    except subprocess.TimeoutExpired as e:
        output = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(
            errors="replace"
        )
        code = None
    elapsed = time.monotonic() - start
    output = ANSI.sub("", output)
    states = {}
    for line in output.splitlines():
        m = SUMMARY.match(line)
        if m:
            states[m.group(1)] = m.group(2)
    if code is None:
        verdict = "fail"
        why = f"timed out after {timeout}s"
    elif code != 0 or any(s == "FAILED" for s in states.values()):
        verdict = "fail"
        why = first_failure(output) or f"exit status {code}"
    elif states and all(s == "SKIPPED" for s in states.values()):
        verdict = "skip"
        why = first_skip(output)
    elif subtests and not passed_subtests(output, subtests):
        # A filter that matches no sub-test would pass having run nothing.
        verdict = "fail"
        why = f"no sub-test matching {subtests!r} passed"
    else:
        verdict = "pass"
        why = ""
    return verdict, why, elapsed, output, states


def first_failure(output):
    """The runner's own account of a failure: the line after "### Test ...
    failed at FILE:LINE" says what was expected."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("### Test") and "failed at" in line:
            where = line.split("failed at", 1)[1].split(" at ", 1)[0].strip()
            what = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return f"{where}: {what}"[:400]
    return ""


def passed_subtests(output, subtests):
    """Sub-tests matching the filter that reported PASS ("[ name: PASS (1.2s) ]")."""
    return [
        line
        for line in output.splitlines()
        if re.search(r"\[ .*: PASS \(", line) and subtests in line
    ]


def first_skip(output):
    for line in output.splitlines():
        if "SKIPPING" in line or "Skipping" in line or "SKIP" in line:
            return line.strip()[:300]
    return ""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--tests", help="file of test numbers (allowlist.txt)")
    group.add_argument("--all", action="store_true", help="every test in the runner")
    p.add_argument("--only", help="comma-separated test numbers, a subset of the list")
    p.add_argument("--timeout", type=float, default=180, help="seconds per test number")
    p.add_argument("--quick", action="store_true", help="the suite's quick mode (-Q)")
    p.add_argument(
        "--scenario",
        default="default",
        help="the suite's broker scenario: default (topics are created on first use) "
        "or noautocreate (they are not)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="test-runner processes at once (most tests mostly wait on timers)",
    )
    p.add_argument("--logs", help="directory for each test's full output")
    p.add_argument("--verbose", action="store_true", help="print failing tests' output")
    args = p.parse_args()

    tests_dir = runner_dir()
    if args.all:
        entries = [(n, None) for n in all_broker_tests(tests_dir)]
    else:
        entries = read_list(args.tests)
    if args.only:
        wanted = set(args.only.split(","))
        entries = [e for e in entries if e[0] in wanted]
    logs = Path(args.logs) if args.logs else None
    if logs:
        logs.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "test.conf"
        conf.write_text(
            f"bootstrap.servers={args.bootstrap}\n"
            # Fresh topic names in every run: a second run against the same
            # broker must not read the first run's records.
            "test.topic.random=true\n"
        )
        counts = {"pass": 0, "fail": 0, "skip": 0}
        def one(entry):
            number, subtests = entry
            return entry, run_one(
                tests_dir, conf, number, subtests, args.timeout, args.quick, args.scenario
            )

        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for (number, subtests), result in pool.map(one, entries):
                verdict, why, elapsed, output, states = result
                counts[verdict] += 1
                name = f"{number}/{subtests}" if subtests else number
                detail = ", ".join(f"{k}={v}" for k, v in sorted(states.items()))
                print(f"{verdict} {name} {elapsed:.1f}s [{detail}] {why}".rstrip(), flush=True)
                if logs:
                    log = logs / f"{name.replace('/', '_').replace(' ', '_')}.log"
                    log.write_text(output)
                if verdict == "fail" and args.verbose:
                    print(output[-20000:], flush=True)
    print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    sys.exit(1 if counts["fail"] else 0)


if __name__ == "__main__":
    main()
