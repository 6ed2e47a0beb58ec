"""The audit log: every write recorded with who, what, when and from where."""
