"""confluent-kafka (librdkafka) over TLS: produce records to an existing
topic with acks=all, read them back by assignment, and print one JSON line.

    tls_confluent.py --bootstrap HOST:PORT --topic T --count N --ca CA.pem \
        [--cert CERT.pem --key KEY.pem] [--plaintext] [--timeout S]

Exit status 0 when every record was acknowledged and read back, 3 when the
broker refused the connection (the JSON line says how), 1 otherwise. A test
of a refused client expects 3.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition


def settings(args):
    if args.plaintext:
        return {"bootstrap.servers": args.bootstrap, "security.protocol": "PLAINTEXT"}
    out = {
        "bootstrap.servers": args.bootstrap,
        "security.protocol": "SSL",
        "ssl.ca.location": args.ca,
    }
    if args.cert:
        out["ssl.certificate.location"] = args.cert
        out["ssl.key.location"] = args.key
    return out


# librdkafka reports a refused handshake or a connection closed on it as
# these; every other error is a failure of the test.
REFUSALS = {
    KafkaError._SSL,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._AUTHENTICATION,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--plaintext", action="store_true")
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()

    errors = []

    def on_error(err):
        errors.append(err)

    producer = Producer({**settings(args), "acks": "all", "error_cb": on_error})
    acked = []

    def on_delivery(err, msg):
        if err is None:
            acked.append((msg.partition(), msg.offset(), msg.value().decode()))
        else:
            errors.append(err)

    values = [f"tls-{i:05}" for i in range(args.count)]
    for value in values:
        producer.produce(args.topic, value=value.encode(), on_delivery=on_delivery)
    deadline = time.monotonic() + args.timeout
    while len(acked) < len(values) and time.monotonic() < deadline:
        producer.poll(0.2)
        if any(e.code() in REFUSALS for e in errors) and not acked:
            print(json.dumps({"refused": str(errors[0])}))
            return 3
    producer.flush(1)
    if len(acked) < len(values):
        print(json.dumps({"acked": len(acked), "errors": [str(e) for e in errors[:5]]}))
        return 3 if errors and all(e.code() in REFUSALS for e in errors) else 1

    consumer = Consumer(
        {**settings(args), "group.id": "tls-check", "enable.auto.commit": False}
    )
    # From each partition's first acknowledged offset: the topic may hold
    # records other clients wrote before.
    first = {}
    for p, o, _ in acked:
        first[p] = min(o, first.get(p, o))
    consumer.assign([TopicPartition(args.topic, p, o) for p, o in sorted(first.items())])
    expected = {(p, o): v for p, o, v in acked}
    read = {}
    deadline = time.monotonic() + args.timeout
    while not set(expected) <= set(read) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        read[(msg.partition(), msg.offset())] = msg.value().decode()
    consumer.close()
    read = {k: v for k, v in read.items() if k in expected or v.startswith("tls-")}
    if read != expected:
        missing = len(set(expected) - set(read))
        print(json.dumps({"acked": len(acked), "read": len(read), "missing": missing}))
        return 1
    print(json.dumps({"acked": len(acked), "read": len(read)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
