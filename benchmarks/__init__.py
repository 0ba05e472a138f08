"""
The txzmq benchmark suite: txzmq, blocking pyzmq, zmq.asyncio and
txZMQ 1.0 measured side by side, each sender and receiver in its own
process.

Run it from the repository root with C{python -m benchmarks} (C{--help}
lists the options, C{--quick} is a smoke run).  See C{benchmarks/README.md}.
"""
