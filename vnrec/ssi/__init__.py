"""SSI FastConnect Data v2: the wire model, its quirks, and the client wrapper."""
