"""The compiled parts: the native reader of SSI Content (vnrec/storage/_scan.c) and the alert
rules' rolling windows (vnrec/replay/_rolling.c)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "vnrec.storage._scan",
            sources=["vnrec/storage/_scan.c"],
            extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
        Extension(
            "vnrec.replay._rolling",
            sources=["vnrec/replay/_rolling.c"],
            extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
    ]
)
