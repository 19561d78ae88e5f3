"""One node on SQLite (the default install): always the primary, with no lock to take."""

from __future__ import annotations

import asyncio
import json

from tests.support.app import Api, Cli


async def wait_until_primary(api: Api) -> dict[str, object]:
    for _ in range(100):
        reply = await api.client.get("/api/v1/cluster")
        assert reply.status_code == 200, reply.text
        body: dict[str, object] = reply.json()
        if body["is_primary"]:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"the only node never became primary: {body}")


async def test_the_only_node_is_the_primary_in_the_api_the_cli_and_the_metrics(api: Api) -> None:
    body = await wait_until_primary(api)
    nodes = body["nodes"]
    assert isinstance(nodes, list) and [(n["node_id"], n["state"], n["role"]) for n in nodes] == [
        ("test-node", "primary", "primary-capable")
    ]
    metrics = (await api.client.get("/metrics")).text
    assert "alertmail_node_is_primary 1.0" in metrics
    assert 'alertmail_node_role{role="primary-capable"} 1.0' in metrics
    assert 'alertmail_node_role{role="traffic"} 0.0' in metrics

    shown = await Cli(api.container.config.data_dir).run("cluster", "status", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [(n["node_id"], n["state"], n["this_node"]) for n in json.loads(shown.stdout)] == [
        ("test-node", "primary", False)  # the CLI process runs under the host's name, not test-node
    ]


async def test_the_cluster_api_needs_an_administrator(api: Api) -> None:
    reply = await api.client.get("/api/v1/cluster", headers={"Authorization": "Bearer not-a-token"})
    assert reply.status_code == 401


async def test_promoting_a_node_that_never_ran_says_so(cli: Cli) -> None:
    done = await cli.run("cluster", "promote", "--node", "nowhere", "--wait", "0")
    assert done.returncode == 1
    assert "there is no node 'nowhere'" in done.stderr
