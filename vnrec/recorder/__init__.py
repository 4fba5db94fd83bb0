"""The live recorder: journal first, crash-safe, self-healing, quiet about secrets."""
