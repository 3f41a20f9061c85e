"""Limits of the switch's write block: how long it may wait, and for what."""

from __future__ import annotations

# lock_wait_timeout of the switch's sessions (seconds): `SET GLOBAL read_only = ON` waits for
# running write statements, and with this it gives up (and the switch rolls back) instead of
# freezing every write behind one slow statement.
BLOCK_LOCK_WAIT = 2
# A write statement running longer than this (seconds) makes a switch refuse up front: the
# block would wait for it.
RUNNING_WRITE_LIMIT = 1.0
# Waits for a GTID position run in slices this long (seconds), checking between two slices
# that the server the position comes from is still alive.
WAIT_SLICE = 0.25
# Before writes are blocked the target catches up in rounds; a round shorter than this
# (seconds) means the last transactions can be waited for inside the block.
CATCH_UP_CLOSE = 0.2
# First words of statements that never write; any other statement counts as a write.
READ_STATEMENTS = frozenset(
    {"select", "show", "describe", "desc", "explain", "set", "do", "use", "help", "with"}
)
