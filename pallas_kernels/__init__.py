"""Pallas kernels for bvjax's hot paths, one file per kernel, each with a jnp reference.

A kernel runs in interpret mode when it lowers for the CPU (where Pallas cannot compile) or
when called with ``interpret=True``; the library functions pass ``implementation="pallas_interpret"``
through to it.
"""
