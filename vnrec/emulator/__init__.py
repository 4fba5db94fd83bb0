"""The local SSI FastConnect Data server and its synthetic market."""
