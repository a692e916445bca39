"""Numba kernels: the fast twins of `course.naive`. They read only their arguments and trust them;
`course.functional` checks arguments before calling them. Layering: kernels import only `course._jit`.
"""
