"""Outside Kafka client (Confluent's Python client, librdkafka) for the offset-gap tests.

Usage:
  kafka_client.py produce <bootstrap>   records and transaction steps as JSON lines on stdin
  kafka_client.py read <bootstrap> <topic>

produce: each stdin line is one step, in order:
  {"op": "begin"}                       begin a transaction (transactional.id from the first line)
  {"op": "send", "topic": t, "partition": p, "key": k, "value": hex, "headers": {..}, "txn": bool}
  {"op": "commit"} | {"op": "abort"}
A send with "txn": true goes through the transactional producer (inside the open transaction),
otherwise through a plain idempotent producer. Prints {"sent": n} when done.

read: every committed record of <topic> (isolation.level=read_committed) up to each partition's
high watermark as it stands when called, in offset order per partition, as JSON:
  {"records": [{"partition", "offset", "key", "value"}], "ends": {partition: high watermark}}
Reading stops at a partition once the consumer's position reaches its high watermark: the
position moves past transaction markers, which no record carries.
"""
import json
import sys

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def produce(bootstrap: str) -> None:
    txn = None
    plain = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    sent = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        step = json.loads(line)
        op = step["op"]
        if op == "begin":
            if txn is None:
                txn = Producer({
                    "bootstrap.servers": bootstrap,
                    "transactional.id": step["transactionalId"],
                    "linger.ms": 5,
                })
                txn.init_transactions(30)
            plain.flush(30)
            txn.begin_transaction()
        elif op == "send":
            producer = txn if step.get("txn") else plain
            producer.produce(
                step["topic"],
                key=step["key"].encode(),
                value=bytes.fromhex(step["value"]),
                partition=step["partition"],
                headers=[(k, v.encode()) for k, v in step.get("headers", {}).items()],
            )
            producer.poll(0)
            sent += 1
        elif op == "commit":
            txn.commit_transaction(30)
        elif op == "abort":
            txn.flush(30)
            txn.abort_transaction(30)
        else:
            raise ValueError(f"unknown op {op!r}")
    if plain.flush(30) != 0:
        raise KafkaException("plain records not delivered")
    print(json.dumps({"sent": sent}))


def read(bootstrap: str, topic: str) -> None:
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "tributary-test-outside-reader",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    metadata = consumer.list_topics(topic, timeout=30)
    partitions = sorted(metadata.topics[topic].partitions)
    ends = {}
    assign = []
    for p in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        ends[p] = high
        if high > low:
            assign.append(TopicPartition(topic, p, low))
    consumer.assign(assign)
    pending = {tp.partition for tp in assign}
    records = []
    while pending:
        msg = consumer.poll(1.0)
        if msg is not None:
            if msg.error():
                raise KafkaException(msg.error())
            if msg.offset() < ends[msg.partition()]:
                records.append({
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "key": msg.key().decode() if msg.key() is not None else None,
                    "value": msg.value().hex() if msg.value() is not None else None,
                })
        for tp in consumer.position([TopicPartition(topic, p) for p in list(pending)]):
            if tp.offset >= ends[tp.partition]:
                pending.discard(tp.partition)
    consumer.close()
    records.sort(key=lambda r: (r["partition"], r["offset"]))
    print(json.dumps({"records": records, "ends": ends}))


def main() -> None:
    if sys.argv[1] == "produce":
        produce(sys.argv[2])
    elif sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
