"""Runs moto's server (the WSGI application `moto_server` runs) for the tests, with two changes.

Usage: python moto_harness.py HOST PORT [--threaded]

One request at a time (the default). moto does not lock items: in its threaded server two
conditional writes arriving together can both pass their condition, which real DynamoDB never
allows. Serving one request at a time makes every request atomic, so tests of conditional writes
and concurrency observe DynamoDB's semantics. `--threaded` serves requests concurrently, as
`moto_server` does; SQS needs it, because a long poll must not hold up other requests.

Two patches to moto, for speed, not semantics; without them, requests cost time in proportion
to the data already stored, and a test that routes 2,000 leads slows down quadratically (it ran
for over 15 minutes):
- DynamoDB TransactWriteItems: moto backs up every table a transaction touches with a deep copy
  of the whole table, for rollback. Here the backup is a journal of the items the transaction
  names, restored on any failure; the rollback outcome is the same, because a transaction writes
  no other item (`shared/aws/tests/moto_transactions.rs` holds it to all-or-nothing).
- SQS: every SendMessage computes all the queue's attributes, and the three approximate message
  counts each walk every message, reading the clock twice per message. Here each count reads the
  clock once; the counts are the same.
"""

import copy
import os
import sys
import types

import moto.dynamodb.models as dynamodb_models
import moto.sqs.models as sqs_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

# The patches below replace moto internals by name; a moto release that renamed them must stop
# the tests here, not quietly run unpatched (slow) or half-patched.
for owner, name in [
    (dynamodb_models, "copy"),
    (DynamoDBBackend, "transact_write_items"),
    (sqs_models, "unix_time_millis"),
    (sqs_models.Queue, "messages"),
    (sqs_models.Queue, "approximate_number_of_messages_delayed"),
    (sqs_models.Queue, "approximate_number_of_messages_not_visible"),
]:
    if not hasattr(owner, name):
        sys.exit(f"moto_harness.py: this moto has no {owner.__name__}.{name}; update the patches")


# --- DynamoDB: a journal instead of whole-table deep copies around transactions -------------

def _deepcopy_except_tables(value, memo=None):
    # transact_write_items's whole-table backup becomes the table itself (its rollback then
    # reassigns the same object); the journal below does the restoring.
    if isinstance(value, Table):
        return value
    return copy.deepcopy(value, memo)


dynamodb_models.copy = types.SimpleNamespace(deepcopy=_deepcopy_except_tables)
_transact_write_items = DynamoDBBackend.transact_write_items


def _item_key(table, op):
    attrs = op.get("Item") or op.get("Key") or {}
    if table.hash_key_attr not in attrs:
        return None
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in attrs:
            return None
        range_value = DynamoType(attrs[table.range_key_attr])
    return hash_value, range_value


def _current(table, hash_value, range_value):
    if range_value is None:
        return table.items.get(hash_value)
    return table.items.get(hash_value, {}).get(range_value)


def _restore(table, hash_value, range_value, before):
    if range_value is None:
        if before is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = before
    elif before is None:
        table.items.get(hash_value, {}).pop(range_value, None)
    else:
        table.items[hash_value][range_value] = before


def transact_write_items(self, transact_items):
    journal = []
    for entry in transact_items:
        if len(entry) != 1:
            continue  # moto refuses the whole request before writing anything
        _, op = next(iter(entry.items()))
        table = self.tables.get(op.get("TableName"))
        key = _item_key(table, op) if table is not None else None
        if key is None:
            continue  # moto fails the transaction before this operation writes
        journal.append((table, *key, copy.deepcopy(_current(table, *key))))
    try:
        return _transact_write_items(self, transact_items)
    except BaseException:
        for table, hash_value, range_value, before in reversed(journal):
            _restore(table, hash_value, range_value, before)
        raise


DynamoDBBackend.transact_write_items = transact_write_items


# --- SQS: one clock read per message count -----------------------------------------------------

def _messages(self):
    now = sqs_models.unix_time_millis()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


def _delayed(self):
    now = sqs_models.unix_time_millis()
    return sum(1 for m in self._messages if now < m.delayed_until)


def _not_visible(self):
    now = sqs_models.unix_time_millis()
    return sum(1 for m in self._messages if not now > m.visible_at)


sqs_models.Queue.messages = property(_messages)
sqs_models.Queue.approximate_number_of_messages_delayed = property(_delayed)
sqs_models.Queue.approximate_number_of_messages_not_visible = property(_not_visible)


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    threaded = "--threaded" in sys.argv[3:]
    os.environ.setdefault("MOTO_PORT", str(port))
    run_simple(
        host, port, DomainDispatcherApplication(create_backend_app), threaded=threaded
    )
