"""How the CLI tells the outcome of a test e-mail."""

from __future__ import annotations

from alertmail.interfaces.cli.runtime import console, errors
from alertmail.services.test_email import TestEmailResult


def print_test_result(result: TestEmailResult) -> None:
    if result.sent:
        console.print(result.message)
        return
    errors.print(result.message, style="red")
    if result.failure is not None:
        errors.print(f"Reason ({result.failure.category}): {result.failure.message}")
        errors.print(f"Fix: {result.failure.hint}")
        errors.print("See `alertmail logs` for the settings in force at the time.")
