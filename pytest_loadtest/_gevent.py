"""Monkey-patching for load mode: only what cooperative I/O needs.

A full ``patch_all()`` breaks pytest-xdist and execnet, and patching ``thread``,
``queue`` or ``subprocess`` breaks pytest's own machinery, so load mode patches
``socket``, ``dns``, ``ssl``, ``time`` and ``select`` and nothing else. It runs from
``pytest_load_initial_conftests``, before conftests import ``requests``.
"""

from __future__ import annotations

import sys
import warnings

LATE_MODULES = ("ssl", "urllib3", "requests")


def patch() -> list[str]:
    """Patch the standard library for gevent, once.

    Returns the modules that were imported before the patch (requests made through
    them may block other virtual users), for the caller to warn about.
    """
    late = [name for name in LATE_MODULES if name in sys.modules]
    from gevent import monkey

    if monkey.is_module_patched("socket"):
        return []
    with warnings.catch_warnings():
        # gevent warns about ssl imported early; the caller's warning says it better.
        warnings.simplefilter("ignore")
        monkey.patch_socket()
        monkey.patch_dns()
        monkey.patch_ssl()
        monkey.patch_time()
        monkey.patch_select()
    return late
