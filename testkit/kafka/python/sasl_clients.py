"""Kafka clients authenticating with SASL against a Stratus gateway.

    sasl_clients.py confluent    --bootstrap H:P --topic T --user U --password P
                                 --mechanism SCRAM-SHA-512|SCRAM-SHA-256|PLAIN
                                 [--ca CA.pem] [--count N] [--seconds S]
    sasl_clients.py kafka-python (same options)
    sasl_clients.py admin        --bootstrap H:P --user U --password P
                                 --mechanism M [--ca CA.pem]
                                 --create NAME --create-password PW
    sasl_clients.py preauth      --bootstrap H:P [--ca CA.pem]

`confluent` and `kafka-python` produce N records with acks=all (spread over
at least S seconds, so a short session lifetime forces re-authentication)
and read them back by assignment. `admin` logs in as U and creates the
SCRAM-SHA-512 user NAME with confluent-kafka's AdminClient
(AlterUserScramCredentials), then lists users (DescribeUserScramCredentials).
`preauth` sends a Metadata request before authenticating and checks that the
gateway closes the connection.

Every mode prints one JSON line. Exit status 0 on success, 3 when the broker
refused the authentication (the line says how), 1 otherwise.
"""

import argparse
import json
import socket
import ssl
import struct
import sys
import time


def protocol(args):
    return "SASL_SSL" if args.ca else "SASL_PLAINTEXT"


def confluent_settings(args):
    out = {
        "bootstrap.servers": args.bootstrap,
        "security.protocol": protocol(args),
        "sasl.mechanism": args.mechanism,
        "sasl.username": args.user,
        "sasl.password": args.password,
    }
    if args.ca:
        out["ssl.ca.location"] = args.ca
    return out


def run_confluent(args):
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

    errors = []
    producer = Producer(
        {**confluent_settings(args), "acks": "all", "error_cb": errors.append}
    )
    acked = []

    def on_delivery(err, msg):
        if err is None:
            acked.append((msg.partition(), msg.offset(), msg.value().decode()))
        else:
            errors.append(err)

    values = [f"sasl-{i:05}" for i in range(args.count)]
    pause = args.seconds / max(len(values), 1)
    deadline = time.monotonic() + args.seconds + args.timeout
    for value in values:
        producer.produce(args.topic, value=value.encode(), on_delivery=on_delivery)
        producer.poll(pause)
        if any(e.code() == KafkaError._AUTHENTICATION for e in errors):
            print(json.dumps({"refused": str(errors[0])}))
            return 3
    while len(acked) < len(values) and time.monotonic() < deadline:
        producer.poll(0.2)
        if any(e.code() == KafkaError._AUTHENTICATION for e in errors):
            print(json.dumps({"refused": str(errors[0])}))
            return 3
    producer.flush(1)
    if len(acked) < len(values):
        print(json.dumps({"acked": len(acked), "errors": [str(e) for e in errors[:5]]}))
        return 1

    consumer = Consumer(
        {**confluent_settings(args), "group.id": "sasl-check", "enable.auto.commit": False}
    )
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
    read = {k: v for k, v in read.items() if k in expected}
    if read != expected:
        print(json.dumps({"acked": len(acked), "read": len(read), "errors": [str(e) for e in errors[:5]]}))
        return 1
    print(json.dumps({"acked": len(acked), "read": len(read)}))
    return 0


def kafka_python_settings(args):
    out = {
        "bootstrap_servers": args.bootstrap,
        "security_protocol": protocol(args),
        "sasl_mechanism": args.mechanism,
        "sasl_plain_username": args.user,
        "sasl_plain_password": args.password,
    }
    if args.ca:
        out["ssl_cafile"] = args.ca
        out["ssl_check_hostname"] = False
    return out


def run_kafka_python(args):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.errors import KafkaError

    import logging

    # kafka-python's producer reports a refused login as a bootstrap
    # timeout; its log says why.
    reasons = []

    class Keep(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if "uthentication" in message:
                reasons.append(message)

    logging.getLogger("kafka").addHandler(Keep())
    logging.getLogger("kafka").setLevel(logging.INFO)
    pause = args.seconds / max(args.count, 1)
    acked = []
    try:
        producer = KafkaProducer(acks="all", **kafka_python_settings(args))
        for i in range(args.count):
            value = f"sasl-{i:05}"
            meta = producer.send(args.topic, value=value.encode()).get(timeout=args.timeout)
            acked.append((meta.partition, meta.offset, value))
            time.sleep(pause)
    except KafkaError as e:
        # A refused login surfaces as the authentication error itself or,
        # once every bootstrap connection failed, as no broker available.
        refused = {"acked": len(acked), "refused": f"{type(e).__name__}: {e}", "log": reasons[:3]}
        print(json.dumps(refused))
        return 3
    producer.close()

    consumer = KafkaConsumer(**kafka_python_settings(args), enable_auto_commit=False)
    first = {}
    for p, o, _ in acked:
        first[p] = min(o, first.get(p, o))
    consumer.assign([TopicPartition(args.topic, p) for p in first])
    for p, o in first.items():
        consumer.seek(TopicPartition(args.topic, p), o)
    expected = {(p, o): v for p, o, v in acked}
    read = {}
    deadline = time.monotonic() + args.timeout
    while not set(expected) <= set(read) and time.monotonic() < deadline:
        for tp, records in consumer.poll(timeout_ms=500).items():
            for r in records:
                read[(tp.partition, r.offset)] = r.value.decode()
    consumer.close()
    read = {k: v for k, v in read.items() if k in expected}
    if read != expected:
        print(json.dumps({"acked": len(acked), "read": len(read)}))
        return 1
    print(json.dumps({"acked": len(acked), "read": len(read)}))
    return 0


def run_admin(args):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient(confluent_settings(args))
    upsert = UserScramCredentialUpsertion(
        args.create,
        ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096),
        args.create_password.encode(),
    )
    try:
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=args.timeout)
        described = admin.describe_user_scram_credentials().result(timeout=args.timeout)
    except KafkaException as e:
        print(json.dumps({"error": str(e)}))
        return 1
    users = {
        name: [
            {"mechanism": str(info.mechanism), "iterations": info.iterations}
            for info in description.scram_credential_infos
        ]
        for name, description in described.items()
    }
    print(json.dumps({"users": users}))
    return 0


def run_preauth(args):
    host, port = args.bootstrap.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=args.timeout)
    if args.ca:
        context = ssl.create_default_context(cafile=args.ca)
        context.check_hostname = False
        sock = context.wrap_socket(sock)
    # Metadata v1 (all topics: a null array), correlation id 7.
    client_id = b"preauth"
    body = struct.pack(">hhih", 3, 1, 7, len(client_id)) + client_id + struct.pack(">i", -1)
    sock.sendall(struct.pack(">i", len(body)) + body)
    try:
        answer = sock.recv(4)
    except (ConnectionResetError, ssl.SSLError, socket.timeout) as e:
        answer = b""
        how = type(e).__name__
    else:
        how = "closed" if not answer else "answered"
    sock.close()
    print(json.dumps({"connection": how}))
    return 0 if not answer else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["confluent", "kafka-python", "admin", "preauth"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--mechanism", default="SCRAM-SHA-512")
    parser.add_argument("--ca")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=0)
    parser.add_argument("--timeout", type=float, default=20)
    parser.add_argument("--create")
    parser.add_argument("--create-password")
    args = parser.parse_args()
    modes = {
        "confluent": run_confluent,
        "kafka-python": run_kafka_python,
        "admin": run_admin,
        "preauth": run_preauth,
    }
    return modes[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
