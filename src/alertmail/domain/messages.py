"""The seeds' user-facing messages, word for word. Change none of them without the seeds changing."""

from __future__ import annotations

__all__ = [
    "AUTHORIZATION_COMPLETE",
    "AUTHORIZATION_FAILED",
    "CHANGES_SAVED",
    "NO_ADMINISTRATOR_EMAIL",
    "SAVE_FAILED",
    "TEST_EMAIL_FAILED",
    "test_email_sent",
]

NO_ADMINISTRATOR_EMAIL = (
    "There is no e-mail defined for your Administrator Account. "
    "You must setup the e-mail address from System Administrators > Edit info"
)
TEST_EMAIL_FAILED = "Failed to send the test e-mail! Please verify if the E-mail Server Settings are correct!"
AUTHORIZATION_FAILED = "Email authorization failed! Please check the provided credentials and try again!"
CHANGES_SAVED = "Changes have been saved!"
AUTHORIZATION_COMPLETE = "Your email has been verified. Authorization complete!"
SAVE_FAILED = "Cannot execute command! An error occurred!"


def test_email_sent(address: str) -> str:
    return f"A test e-mail was sent to {address}"


test_email_sent.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
