"""The lifeboat connector: applications connect here and keep their sessions across a switch."""
