"""RFC 5322 section 2.1.1: no line of a message may be longer than 998 octets (CRLF excluded).

A local program's message may hold longer lines (a log pasted into a cron mail); relays refuse or
break them. The body part that holds one is re-encoded, quoted-printable for text (still readable)
and base64 for anything else, which both keep lines short; a header that cannot be folded below
the limit makes the message refused.
"""

from __future__ import annotations

import base64
import quopri
from email.message import Message

__all__ = ["MAX_LINE_OCTETS", "longest_line", "shorten_body_lines"]

MAX_LINE_OCTETS = 998


def longest_line(text: str) -> int:
    """The length in octets (UTF-8) of the longest line of `text`."""
    return max((len(line.encode("utf-8", "surrogateescape")) for line in text.splitlines()), default=0)


def shorten_body_lines(message: Message) -> bool:
    """Re-encode each body part with a line over the limit; whether any was re-encoded."""
    changed = False
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=False)
        if not isinstance(payload, str) or longest_line(payload) <= MAX_LINE_OCTETS:
            continue
        data = _octets(part, payload)
        text = part.get_content_maintype() == "text"
        if text and part.get_param("charset") is None and not data.isascii() and _is_utf8(data):
            part.set_param("charset", "utf-8")  # once encoded, 8-bit text must say what it is
        encoded = (
            quopri.encodestring(data).decode("ascii") if text else base64.encodebytes(data).decode("ascii")
        )
        del part["Content-Transfer-Encoding"]
        part["Content-Transfer-Encoding"] = "quoted-printable" if text else "base64"
        part.set_payload(encoded)
        changed = True
    if changed and "MIME-Version" not in message:
        message["MIME-Version"] = "1.0"
    return changed


def _octets(part: Message, payload: str) -> bytes:
    """The part's content as the program wrote it: decoded when encoded, else its own bytes
    (the parser read them as UTF-8 text, or kept other bytes as surrogate escapes)."""
    if str(part.get("Content-Transfer-Encoding", "")).strip().lower() in ("base64", "quoted-printable"):
        decoded = part.get_payload(decode=True)
        if isinstance(decoded, bytes):
            return decoded
    return payload.encode("utf-8", "surrogateescape")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
