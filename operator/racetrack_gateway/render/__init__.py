"""Pure rendering: from what the agent knows to HAProxy's configuration and lookup tables.

No I/O, no clock, no client: the same inputs always give the same text and entries, which
is what the unit tests pin down and what lets the agent diff two renderings into the few
runtime-socket commands a change needs.
"""
