"""`alertmail cluster status|promote|backup-operations`: the nodes on the shared database."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from alertmail.interfaces.cli.runtime import console, run

app = typer.Typer(
    help="Several nodes on one PostgreSQL: list them and their problems, promote a backup,"
    " enable or disable a node's backup operations.",
    no_args_is_help=True,
)


class Switch(StrEnum):
    enable = "enable"
    disable = "disable"


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every node with its state (primary, backup, traffic, down), role, version, last heartbeat and
    the failover problems its latest probe found."""
    nodes = run(lambda c: c.cluster.status())
    if as_json:
        from alertmail.interfaces.api.routes.cluster import NodePublic  # FastAPI, only for --json

        sys.stdout.write(
            json.dumps([NodePublic.of(s).model_dump(mode="json") for s in nodes], indent=2) + "\n"
        )
        return
    if not nodes:
        console.print("No node has registered yet: start `alertmail serve` or `alertmail worker`.")
    for s in nodes:
        node = s.node
        here = "  (this host's node)" if s.this_node else ""
        console.print(
            f"{node.node_id:<24} {s.state:<8} {node.role:<16} {node.version:<10} "
            f"last heartbeat {node.last_heartbeat:%Y-%m-%d %H:%M:%S} UTC  "
            f"{node.advertised_url or node.hostname}{here}"
        )
        if node.backup_disabled_since is not None:
            disabled = f"{node.backup_disabled_since:%Y-%m-%d %H:%M} UTC"
            console.print(f"    backup operations disabled since {disabled}")
        for check in s.problems:
            since = f" since {check.since:%Y-%m-%d %H:%M:%S} UTC" if check.since else ""
            console.print(f"    problem: {check.check}{since}")


@app.command("promote")
def promote(
    node: Annotated[str | None, typer.Option(help="The node to promote; default: this host's node.")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for it to take over.")] = 30.0,
) -> None:
    """Make a backup the primary once the old primary is down (needed with automatic failover off)."""
    promoted = run(lambda c: c.cluster.promote(node, wait=wait))
    console.print(f"{promoted.node_id} is the primary")


@app.command("backup-operations")
def backup_operations(
    switch: Annotated[Switch, typer.Argument(help="enable or disable")],
    node: Annotated[str | None, typer.Option(help="The node; default: this host's node.")] = None,
) -> None:
    """Disable a backup's operations (it never takes over as primary, and the admins are told), or
    enable them again."""
    changed = run(lambda c: c.cluster.set_backup_operations(node, enabled=switch is Switch.enable))
    console.print(f"backup operations {switch.value}d on {changed.node_id}")


__all__ = ["app"]
