"""Verdicts: whether each task, and the run, passed, from the results and the thresholds.

Pure: the results (with threshold verdicts evaluated) in, outcomes and messages out.
A task fails when a threshold in its scope fails, or, unless a ``fail_ratio`` or
``failures`` threshold covers it (its own, or an unscoped whole-run one), when any of its
iterations failed (an iteration fails when it raised or one of its requests failed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pytest_loadtest.users import USER_PHASES, phase_id

if TYPE_CHECKING:
    from pytest_loadtest.report.results import ExceptionResult, RunResult, TaskResult
    from pytest_loadtest.thresholds import Threshold, Verdict

__all__ = ["TaskVerdict", "default_rule_message", "judge_tasks", "verdict_line", "with_outcomes"]


@dataclass(frozen=True)
class TaskVerdict:
    """A task's outcome (``passed``, ``failed`` or ``skipped``) and why."""

    outcome: str
    message: str = ""


def _user_phase_exceptions(task: TaskResult, result: RunResult) -> list[ExceptionResult]:
    phases = {phase_id(task.user_type, phase) for phase in USER_PHASES}
    return [e for e in result.exceptions if phases.intersection(e.tasks)]


def default_rule_message(task: TaskResult, result: RunResult) -> str:
    """Why a task fails by the default rule, or ``""``.

    The rule: any failed iteration, or any exception in its user type's ``on_start``,
    ``on_stop`` or user fixture teardown.
    """
    phase_errors = _user_phase_exceptions(task, result)
    lines = []
    if task.failures:
        requests = task.requests
        lines.append(
            f"{task.failures} of {task.iterations} iterations failed; "
            f"{requests.num_failures} of {requests.num_requests} requests failed"
        )
        errors = [e for e in result.errors if task.node_id in e.tasks]
        exceptions = [e for e in result.exceptions if task.node_id in e.tasks]
        lines += [f"  {e.occurrences}x {e.method} {e.name}: {e.error}" for e in errors[:3]]
        lines += [f"  {e.count}x {e.message}" for e in exceptions[:3]]
    if phase_errors:
        lines.append(f"its user type raised outside tasks ({task.user_type}):")
        lines += [f"  {e.count}x {', '.join(e.tasks)}: {e.message}" for e in phase_errors[:3]]
    return "\n".join(lines)


def verdict_line(verdict: Verdict) -> str:
    """One line per threshold: PASS/FAIL, the expression, the observed value."""
    mark = "PASS" if verdict.passed else "FAIL"
    return f"{mark} {verdict.expression}  (observed {verdict.observed_text})"


def judge_tasks(
    result: RunResult,
    task_thresholds: Mapping[str, Sequence[Threshold]],
    run_thresholds: Sequence[Threshold],
) -> dict[str, TaskVerdict]:
    """Each task's verdict; ``result.thresholds`` holds every evaluated threshold."""
    # Only a whole-run failure threshold covers every task; a request-name one is a
    # verdict of its own.
    run_covers = any(t.covers_failures and t.scope is None for t in run_thresholds)
    by_scope: dict[str | None, list[Verdict]] = {}
    for verdict in result.thresholds:
        by_scope.setdefault(verdict.scope, []).append(verdict)
    verdicts: dict[str, TaskVerdict] = {}
    for task in result.tasks:
        own = task_thresholds.get(task.node_id, ())
        covered = run_covers or any(t.covers_failures for t in own)
        default = "" if covered else default_rule_message(task, result)
        if task.iterations == 0 and not default:
            verdicts[task.node_id] = TaskVerdict("skipped", "the load phase ran no iteration")
            continue
        failed = [v for v in by_scope.get(task.node_id, []) if not v.passed]
        lines = [verdict_line(v) for v in failed]
        if default:
            lines.append(default)
        outcome = "failed" if lines else "passed"
        verdicts[task.node_id] = TaskVerdict(outcome, "\n".join(lines))
    return verdicts


def with_outcomes(result: RunResult, verdicts: Mapping[str, TaskVerdict]) -> RunResult:
    """The result with each task's outcome filled in."""
    tasks = tuple(replace(t, outcome=verdicts[t.node_id].outcome) for t in result.tasks)
    return replace(result, tasks=tasks)
