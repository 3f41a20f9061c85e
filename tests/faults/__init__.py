"""The fault matrix: every fault a copy must survive, each row asserting the same promise."""
