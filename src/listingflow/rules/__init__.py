"""Pure marketplace rulebooks, validation, scoring and offline rewriting: no I/O at all."""
