#!/usr/bin/env python3
"""Runs scenario.py against a reference broker (Apache Kafka) and a broker
under test (Stratus) and compares what the client observed, step by step.
A step may differ only if known-differences.json lists it with its reason
(docs/kafka.md says why each is so); a listed step that no longer differs is
reported too, so the list stays true. Exit status 1 on any unlisted
difference or stale entry.

  python3 testkit/kafka/diff/compare.py --reference HOST:PORT --subject HOST:PORT
      [--json FILE]   (both observations and the verdict per step)

Needs scripts/install-kafka-clients (confluent-kafka in target/py-venv/kafka).
Standard library only."""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
VENV_PY = os.path.join(ROOT, "target", "py-venv", "kafka", "bin", "python")


def observe(bootstrap):
    if not os.path.exists(VENV_PY):
        sys.exit(f"{VENV_PY} is missing; install the Kafka clients with scripts/install-kafka-clients")
    r = subprocess.run([VENV_PY, os.path.join(HERE, "scenario.py"), "--bootstrap", bootstrap],
                       capture_output=True, text=True, timeout=900)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode != 0 or not lines:
        sys.exit(f"scenario.py against {bootstrap} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return json.loads(lines[-1])


def short(value, width=110):
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[:width - 3] + "..."


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reference", required=True, help="Apache Kafka bootstrap")
    p.add_argument("--subject", required=True, help="Stratus bootstrap")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    with open(os.path.join(HERE, "known-differences.json")) as f:
        known = json.load(f)

    reference, subject = observe(a.reference), observe(a.subject)
    verdicts, bad = {}, 0
    for step in sorted(set(reference) | set(subject)):
        ref, sub = reference.get(step), subject.get(step)
        same = ref == sub
        if same and step in known:
            verdict = "STALE"  # listed as different, but is not
        elif same:
            verdict = "same"
        elif step in known:
            verdict = "known"
        else:
            verdict = "DIFFERS"
        verdicts[step] = verdict
        if verdict in ("STALE", "DIFFERS"):
            bad += 1
        print(f"{verdict:8} {step}")
        if not same:
            print(f"         kafka:   {short(ref)}")
            print(f"         stratus: {short(sub)}")
            if step in known:
                print(f"         why:     {known[step]}")
    same = sum(v == "same" for v in verdicts.values())
    listed = sum(v == "known" for v in verdicts.values())
    print(f"{len(verdicts)} steps: {same} the same, {listed} known differences, {bad} unexplained or stale")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"reference": reference, "subject": subject, "verdicts": verdicts}, f,
                      indent=1, sort_keys=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
