"""How the CLI tells what `alertmail oauth verify` found."""

from __future__ import annotations

from alertmail.interfaces.cli.runtime import console, errors
from alertmail.services.oauth_verification import VerificationOutcome


def print_verification(outcome: VerificationOutcome) -> None:
    target = console if outcome.succeeded else errors
    target.print(outcome.message, style=None if outcome.succeeded else "red")
    if outcome.failure is not None:
        errors.print(f"Reason ({outcome.failure.category}): {outcome.failure.message}")
        errors.print(f"Fix: {outcome.failure.hint}")
    for finding in outcome.findings:
        label = "Warning" if finding.severity == "warning" else "Finding"
        target.print(f"{label} ({finding.code}): {finding.message}")
        target.print(f"Fix: {finding.fix}")
    claims = outcome.claims
    if claims is not None:
        console.print(f"resource: {outcome.resource}")
        console.print(f"audience: {', '.join(claims.audiences) or '-'}")
        console.print(f"roles (application permissions): {' '.join(claims.roles) or '-'}")
        console.print(f"scp (delegated permissions): {' '.join(claims.delegated) or '-'}")
        if claims.expires_at is not None:
            console.print(f"expires: {claims.expires_at:%Y-%m-%d %H:%M:%S} UTC")
    if not outcome.succeeded:
        errors.print("See `alertmail logs` for the settings in force at the time.")
