"""`alertmail cluster status` and `alertmail cluster promote`: the nodes on the shared database."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from alertmail.interfaces.cli.runtime import console, run
from alertmail.services.cluster import NodeStatus

app = typer.Typer(help="Several nodes on one PostgreSQL: list them, promote a backup.", no_args_is_help=True)


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every node with its role, version, last heartbeat and state (primary, backup, traffic, down)."""
    nodes = run(lambda c: c.cluster.status())
    if as_json:
        sys.stdout.write(json.dumps([_node_json(s) for s in nodes], indent=2) + "\n")
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


@app.command("promote")
def promote(
    node: Annotated[str | None, typer.Option(help="The node to promote; default: this host's node.")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for it to take over.")] = 30.0,
) -> None:
    """Make a backup the primary once the old primary is down (needed with automatic failover off)."""
    promoted = run(lambda c: c.cluster.promote(node, wait=wait))
    console.print(f"{promoted.node_id} is the primary")


def _node_json(status: NodeStatus) -> dict[str, Any]:
    node = status.node
    return {
        "node_id": node.node_id,
        "hostname": node.hostname,
        "advertised_url": node.advertised_url,
        "version": node.version,
        "role": node.role,
        "state": status.state,
        "is_primary": node.is_primary,
        "started_at": node.started_at.isoformat(),
        "last_heartbeat": node.last_heartbeat.isoformat(),
        "this_node": status.this_node,
    }


__all__ = ["app"]
