"""Runs moto's server (the same WSGI application `moto_server` runs) handling one request at a
time.

moto's own `moto_server` is threaded, and moto does not lock items: two conditional writes
arriving together can both pass their condition, which real DynamoDB never allows. Serving one
request at a time makes every request atomic, so tests of conditional writes and concurrency
observe DynamoDB's semantics. Usage: python moto_serial.py HOST PORT
"""

import os
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False)
