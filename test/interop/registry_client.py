"""Outside-client check of the schema registry with Confluent's own Python client.

Usage: registry_client.py <registry-url> <subject> <topic>
Registers a schema under <subject>, serializes one record with Confluent's AvroSerializer
(Confluent wire format), reads back a schema id given on stdin, and prints JSON results.
"""
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

SCHEMA = {
    "type": "record",
    "name": "PythonEvent",
    "namespace": "dev.tributary.test",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "count", "type": "int"},
    ],
}


def main() -> None:
    url, subject, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    client = SchemaRegistryClient({"url": url})
    schema_id = client.register_schema(subject, Schema(json.dumps(SCHEMA), "AVRO"))
    client.set_compatibility(subject_name=subject, level="BACKWARD")
    compat = client.get_compatibility(subject)
    latest = client.get_latest_version(subject)

    serializer = AvroSerializer(
        client,
        json.dumps(SCHEMA),
        conf={"auto.register.schemas": False, "use.latest.version": True,
              "subject.name.strategy": lambda ctx, record_name: subject},
    )
    payload = serializer({"id": "py-1", "count": 7}, SerializationContext(topic, MessageField.VALUE))

    # A schema the TypeScript side registered: its id arrives on stdin.
    ts_id = int(sys.stdin.readline().strip())
    ts_schema = client.get_schema(ts_id)

    print(json.dumps({
        "id": schema_id,
        "compatibility": compat,
        "latestVersion": latest.version,
        "payloadHex": payload.hex(),
        "tsSchema": json.loads(ts_schema.schema_str),
    }))


if __name__ == "__main__":
    main()
