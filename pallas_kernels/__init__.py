"""Pallas kernels for bvjax's hot paths, one file per kernel, each with a jnp reference.

Set ``BVJAX_PALLAS_INTERPRET=1`` (the default on CPU) to run every kernel in interpret mode.
"""
