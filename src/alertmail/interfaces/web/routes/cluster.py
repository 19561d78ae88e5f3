"""The Cluster page: the nodes on the shared database with their state, last heartbeat and failover
problems, and a switch for each primary-capable node's backup operations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from alertmail.domain.event_catalog import EventCatalog, EventType
from alertmail.domain.ports import WebSession
from alertmail.errors import ConflictError, NotFoundError
from alertmail.interfaces.web.pages import Notice, container_of, layout, redirect
from alertmail.interfaces.web.session import SessionDep
from alertmail.interfaces.web.templating import render
from alertmail.services.clock import utc_now
from alertmail.services.cluster import NodeStatus

__all__ = ["ago", "router"]

router = APIRouter(include_in_schema=False)

_SWITCH = {"true": True, "false": False}


@router.get("/cluster")
async def cluster_page(request: Request, session: SessionDep, done: str = "", node: str = "") -> Response:
    return await _page(request, session, done=(done, node))


@router.post("/cluster/nodes/{node_id}/backup-operations")
async def set_backup_operations(request: Request, session: SessionDep, node_id: str) -> Response:
    enabled = _SWITCH.get(str((await request.form()).get("enabled", "")))
    if enabled is None:
        refused = Notice(False, "enabled must be true or false")
        return await _page(request, session, notices=[refused], status=422)
    try:
        changed = await container_of(request).cluster.set_backup_operations(node_id, enabled=enabled)
    except NotFoundError as missing:
        return await _page(request, session, notices=[Notice(False, str(missing))], status=404)
    except ConflictError as conflict:
        return await _page(request, session, notices=[Notice(False, str(conflict))], status=409)
    done = "enabled" if enabled else "disabled"
    return redirect("/cluster?" + urlencode({"done": done, "node": changed.node_id}))


def ago(moment: datetime, now: datetime) -> str:
    """How long before `now` a heartbeat was: "4 s ago", "12 min ago", "3 h ago", "2 d ago"."""
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size, up_to in (("s", 1, 120), ("min", 60, 120 * 60), ("h", 3600, 48 * 3600)):
        if seconds < up_to:
            return f"{seconds // size} {unit} ago"
    return f"{seconds // 86400} d ago"


def _event_types(catalog: EventCatalog, nodes: Iterable[NodeStatus]) -> dict[str, EventType]:
    """The catalog's entry of each problem found: its title, the seed's sentence, what to do."""
    names = {check.check for status in nodes for check in status.problems}
    return {name: catalog.get(name) for name in names if name in catalog}


async def _page(
    request: Request,
    session: WebSession,
    *,
    notices: list[Notice] | None = None,
    done: tuple[str, str] = ("", ""),
    status: int = 200,
) -> Response:
    container = container_of(request)
    cluster = container.cluster
    nodes = await cluster.status()
    action, node_id = done
    if action in ("enabled", "disabled") and any(s.node.node_id == node_id for s in nodes):
        notices = [Notice(True, f"Backup operations {action} on {node_id}."), *(notices or [])]
    context = {
        "section": "cluster",
        "notices": notices or [],
        "nodes": nodes,
        "options": cluster.options,
        "is_primary": cluster.is_primary,
        "embedded_database": container.database.dialect == "sqlite",
        "event_types": _event_types(container.notifications.catalog, nodes),
        "now": utc_now(),
        "ago": ago,
    }
    return render(request, "cluster.html", await layout(request, session, **context), status_code=status)
