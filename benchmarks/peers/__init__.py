"""
The peer programs: one module per kind of peer, each run in its own
process by L{benchmarks.peers.launch}.

A peer gets its configuration as JSON on the command line and talks to
the runner with JSON lines on stdout (C{ready}, C{signal}, C{result}) and
plain lines on stdin (a signal name such as C{go}; end of file means
stop).  L{benchmarks.peers.common} holds what they share; it uses the
standard library only, so it also runs in the txZMQ 1.0 virtualenv.
"""
