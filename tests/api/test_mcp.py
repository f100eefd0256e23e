"""The MCP server through the official client, connected in-process: tools listed and called."""

from __future__ import annotations

import asyncio
import json

from api.mcp_server import build_mcp_server


def test_mcp_client_lists_and_calls_the_tools(settings, demo_agent):
    from mcp import Client

    server = build_mcp_server(settings, agent=demo_agent)

    async def session_run():
        async with Client(server) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            reply = await client.call_tool("recommend", {"text": "calm music for reading", "k": 3})
            moods = await client.call_tool("classify_emotion", {"texts": ["I just got dumped"]})
            track_id = json.loads(reply.content[0].text)["recommendations"][0]["track"]["id"]
            thumbs = await client.call_tool("feedback", {"track_id": track_id, "kind": "up"})
            bad = await client.call_tool("feedback", {"track_id": "nope", "kind": "up"})
            return tools, reply, moods, thumbs, bad

    tools, reply, moods, thumbs, bad = asyncio.run(session_run())
    assert {"recommend", "classify_emotion", "classify_style", "feedback"} <= tools
    body = json.loads(reply.content[0].text)
    assert len(body["recommendations"]) == 3 and body["recommendations"][0]["explanation"]
    assert max(json.loads(moods.content[0].text), key=json.loads(moods.content[0].text).get) == "sad"
    assert not thumbs.is_error and demo_agent.profile("default")["counts"]["up"] == 1
    assert bad.is_error and "nope" in bad.content[0].text
