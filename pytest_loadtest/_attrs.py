"""The attribute names the decorators set on the objects they mark.

Apart from ``tasks.py`` so that checking whether a test is a task imports nothing.
"""

from __future__ import annotations

TASK_ATTR = "__loadtest_task__"
USER_ATTR = "__loadtest_user__"
MODULE_USERS_ATTR = "__loadtest_module_users__"
USER_FIXTURE_ATTR = "__loadtest_user_fixture__"
