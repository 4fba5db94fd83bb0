"""The compiled parts: the native reader of SSI Content (vnrec/storage/_scan.c) and the replay
operators that are loops over rows in seq order (vnrec/replay/_ordered.c)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "vnrec.storage._scan",
            sources=["vnrec/storage/_scan.c"],
            extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
        Extension(
            "vnrec.replay._ordered",
            sources=["vnrec/replay/_ordered.c"],
            extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
    ]
)
