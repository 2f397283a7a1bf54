#!/usr/bin/env python3
"""Creates the leadrouter table (as infra/template.yaml declares it) and the intake and events
queues on an AWS-compatible endpoint (moto), for benchmarks that run the Lambda binaries.

Usage: aws_setup.py ENDPOINT TABLE   (prints `export ...` lines for the functions' environment)
"""
import sys
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parents[2]


class CfnLoader(yaml.SafeLoader):
    pass


# CloudFormation short tags (!Ref, !If, ...): the table's key schema uses none; read them as None.
CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def main() -> None:
    endpoint, table = sys.argv[1], sys.argv[2]
    template = yaml.load((ROOT / "infra" / "template.yaml").read_text(), Loader=CfnLoader)
    props = template["Resources"]["Table"]["Properties"]
    kw = dict(endpoint_url=endpoint, region_name="us-east-1",
              aws_access_key_id="bench", aws_secret_access_key="bench")
    ddb = boto3.client("dynamodb", **kw)
    args = {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
    }
    if props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    ddb.create_table(**args)
    sqs = boto3.client("sqs", **kw)
    intake = sqs.create_queue(QueueName=f"{table}-intake")["QueueUrl"]
    events = sqs.create_queue(QueueName=f"{table}-events")["QueueUrl"]
    print(f"export LEADROUTER_TABLE={table}")
    print(f"export LEADROUTER_QUEUE_URL={intake}")
    print(f"export LEADROUTER_EVENTS_QUEUE_URL={events}")


if __name__ == "__main__":
    main()
