#!/usr/bin/env python3
"""Runs every client scenario of testkit/kafka/ against one Kafka endpoint
(Apache Kafka from scripts/apache-kafka, or Stratus's listener), each on its own
topic <prefix>-<client>-<mode>, and prints one line per run plus a check that
every client put each key in the same partition. Exit status 1 if any run's
summary is not ok, a program is missing, or the placements differ.

  python3 testkit/kafka/run-all.py --bootstrap 127.0.0.1:9092 [--count 1000]
      [--partitions 8] [--modes group,assign] [--clients confluent,kcat,...]
      [--codecs none,gzip,snappy,lz4,zstd]   (confluent runs once per codec)
      [--summaries FILE]   (every JSON summary, one per line)

Needs scripts/install-kafka-clients. Standard library only."""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VENV_PY = os.path.join(ROOT, "target", "py-venv", "kafka", "bin", "python")
JAVA_CP = os.path.join(ROOT, "target", "kafka-java", "classes") + os.pathsep + \
    os.path.join(ROOT, "target", "kafka-java", "lib", "*")

CLIENTS = {
    "confluent": [VENV_PY, os.path.join(HERE, "python", "scenario_confluent.py")],
    "kafka-python": [VENV_PY, os.path.join(HERE, "python", "scenario_kafka_python.py")],
    "aiokafka": [VENV_PY, os.path.join(HERE, "python", "scenario_aiokafka.py")],
    "kcat": [VENV_PY, os.path.join(HERE, "kcat", "scenario_kcat.py")],
    "kafkajs": ["node", os.path.join(HERE, "node", "scenario.js")],
    "java": ["java", "-cp", JAVA_CP, "Scenario"],
    "franz-go": [os.path.join(ROOT, "target", "kafka-go", "kafka-scenario")],
}
GROUP_ONLY = {"kafkajs"}  # no manual partition assignment
CODEC_CLIENTS = {"confluent"}  # take --compression; the others send uncompressed batches


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--modes", default="group,assign")
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument("--prefix", default=f"scn{os.getpid()}")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--summaries", default=None)
    p.add_argument("--codecs", default="none", help="codecs the confluent producer runs with, one run each")
    a = p.parse_args()

    runs = failed = 0
    placements = {}
    out = open(a.summaries, "w") if a.summaries else None
    runs_wanted = []
    for client in a.clients.split(","):
        for mode in a.modes.split(","):
            if mode != "group" and client in GROUP_ONLY:
                continue
            for codec in (a.codecs.split(",") if client in CODEC_CLIENTS else [None]):
                runs_wanted.append((client, mode, codec))
    for client, mode, codec in runs_wanted:
        topic = f"{a.prefix}-{client}-{mode}" + (f"-{codec}" if codec else "")
        cmd = CLIENTS[client] + ["--bootstrap", a.bootstrap, "--topic", topic, "--count", str(a.count),
                                 "--partitions", str(a.partitions), "--consume", mode,
                                 "--timeout", str(a.timeout)]
        if codec:
            cmd += ["--compression", codec]
        t = time.monotonic()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout * 4 + 30, cwd=ROOT)
            lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
            s = json.loads(lines[-1]) if lines else {"ok": False, "error": r.stderr.strip()[-400:]}
        except (OSError, subprocess.TimeoutExpired) as e:
            s = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        secs = time.monotonic() - t
        runs += 1
        if out:
            out.write(json.dumps({"runner_client": client, "runner_seconds": round(secs, 1), **s}) + "\n")
        if not s.get("ok"):
            failed += 1
        if s.get("placement"):
            placements[f"{client}/{mode}/{codec}"] = s["placement"]
        label = client + (f"/{codec}" if codec else "")
        print(f"{'ok  ' if s.get('ok') else 'FAIL'} {label:16} {mode:6} {secs:5.1f}s "
              f"produced={s.get('produced')} consumed={s.get('consumed')} dense={s.get('offsets_dense')} "
              f"identical={s.get('records_identical')} ordered={s.get('order_preserved')} "
              f"murmur2={s.get('placement_murmur2')} version={s.get('client_version')}"
              + (f" error={s.get('error')}" if s.get("error") else ""), flush=True)
    distinct = {json.dumps(v, sort_keys=True) for v in placements.values()}
    same = len(distinct) <= 1
    if not same:
        verdict = f"{len(distinct)} different key->partition maps"
    elif placements:
        verdict = "all put each key in the same partition"
    else:
        verdict = "no placement to compare"
    print(f"{'ok  ' if same else 'FAIL'} placement: {len(placements)} runs, {verdict}")
    print(f"{runs - failed} passed, {failed} failed")
    return 1 if failed or not same else 0


if __name__ == "__main__":
    sys.exit(main())
