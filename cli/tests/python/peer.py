"""A Stratus client from another ecosystem: Python grpcio with stubs generated
from proto/ right now. Produces (plain, and idempotent with a deliberate
retry), reads everything back and checks it. Prints one JSON summary line;
exits non-zero naming the first mismatch.

usage: peer.py PROTO_DIR OUT_DIR HOST:PORT TOPIC
"""

import json
import sys

from grpc_tools import protoc


def generate(proto_dir, out_dir):
    code = protoc.main([
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"{proto_dir}/stratus/v1/stratus.proto",
    ])
    if code != 0:
        sys.exit(f"protoc failed with {code}")
    sys.path.insert(0, out_dir)


def fail(message):
    print(json.dumps({"ok": False, "error": message}))
    sys.exit(1)


def main():
    proto_dir, out_dir, address, topic = sys.argv[1:5]
    generate(proto_dir, out_dir)
    import grpc
    from stratus.v1 import stratus_pb2 as pb
    from stratus.v1 import stratus_pb2_grpc as rpc

    channel = grpc.insecure_channel(address)
    admin = rpc.AdminStub(channel)
    producer = rpc.ProducerStub(channel)
    consumer = rpc.ConsumerStub(channel)

    admin.CreateTopic(pb.CreateTopicRequest(name=topic, partitions=2))

    # Plain produce, keyed records routed by the gateway.
    sent = []
    for i in range(50):
        key, value = f"key-{i % 5}".encode(), f"plain-{i}".encode()
        sent.append(value)
        producer.Produce(pb.ProduceRequest(
            topic=topic, records=[pb.Record(key=key, value=value)]))

    # Idempotent produce to partition 1: the same batch twice is written once.
    init = producer.InitProducerId(pb.InitProducerIdRequest())
    batch = pb.PartitionRecords(
        partition=1, base_sequence=0,
        records=[pb.Record(value=f"idem-{i}".encode()) for i in range(3)])
    request = pb.ProduceRequest(
        topic=topic, partitions=[batch],
        producer_id=init.producer_id, producer_epoch=init.producer_epoch)
    first = producer.Produce(request)
    retry = producer.Produce(request)
    if first.partitions[0].base_offset != retry.partitions[0].base_offset:
        fail(f"retry got offset {retry.partitions[0].base_offset}, "
             f"first {first.partitions[0].base_offset}")
    sent += [f"idem-{i}".encode() for i in range(3)]

    # A skipped sequence is refused with FAILED_PRECONDITION.
    gap = pb.ProduceRequest(
        topic=topic, producer_id=init.producer_id,
        producer_epoch=init.producer_epoch,
        partitions=[pb.PartitionRecords(partition=1, base_sequence=10,
                                        records=[pb.Record(value=b"gap")])])
    try:
        producer.Produce(gap)
        fail("a sequence gap was accepted")
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
            fail(f"a sequence gap gave {error.code()}, not FAILED_PRECONDITION")

    received = []
    for partition in (0, 1):
        offset = 0
        while True:
            response = consumer.Fetch(pb.FetchRequest(
                topic=topic, partition=partition, offset=offset,
                max_bytes=1 << 20, max_wait_ms=0))
            if not response.records:
                break
            received += [r.value for r in response.records]
            offset = response.next_fetch_offset

    if sorted(received) != sorted(sent):
        fail(f"sent {len(sent)} records, read back {len(received)}")
    print(json.dumps({"ok": True, "produced": len(sent), "consumed": len(received),
                      "producer_id": init.producer_id}))


if __name__ == "__main__":
    main()
