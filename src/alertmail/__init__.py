"""alertmail: the outbound mail subsystem of an appliance or a self-hosted service.

`alertmail.notify(...)` and `alertmail.Notifier` raise events from Python (see `alertmail.client`);
they are imported on first use, so importing alertmail builds and reads nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Notifier", "__version__", "notify"]

if TYPE_CHECKING:
    from alertmail.client import Notifier, notify


def __getattr__(name: str) -> Any:
    if name in ("notify", "Notifier"):
        from alertmail import client

        return getattr(client, name)
    raise AttributeError(f"module 'alertmail' has no attribute {name!r}")
