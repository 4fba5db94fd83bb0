"""The one compiled part: the native reader of SSI Content (vnrec/storage/_scan.c)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "vnrec.storage._scan",
            sources=["vnrec/storage/_scan.c"],
            extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
