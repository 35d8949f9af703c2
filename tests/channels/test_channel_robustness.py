"""Bad input never produces a 500: random and truncated bodies at every channel route, both
as raw bodies and wrapped in correctly signed and encrypted envelopes."""

from __future__ import annotations

import random
import time

from channel_helpers import (
    HOOK_TOKEN,
    WECOM_TOKEN,
    Rig,
    mp_text,
    plain_query,
    safe_request,
    sign,
    wecom_request,
)


def _samples() -> list[bytes]:
    rnd = random.Random(20240601)
    valid = mp_text("你好").encode()
    samples = [
        b"",
        b"\xff\xfe\x00",
        b"null",
        b"[]",
        b'{"encrypt": ""}',
        b'{"encrypt": "AAAA"}',
        b"<xml><MsgType>event</MsgType><FromUserName>u</FromUserName></xml>",
        b"<xml><MsgType>voice</MsgType><FromUserName>u</FromUserName><MsgId>2</MsgId>"
        b"<CreateTime>99999999999999999999</CreateTime></xml>",
        b'{"message_id": "x", "chat": {"id": "c", "type": "group"}, "sender": [], "text": 1}',
    ]
    samples += [valid[: rnd.randrange(len(valid))] for _ in range(20)]
    samples += [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300))) for _ in range(60)]
    return samples


async def test_no_route_answers_500_to_bad_input(rig: Rig) -> None:
    statuses: set[int] = set()
    for body in _samples():
        text = body.decode("latin-1")
        ts = str(int(time.time()))
        requests = [
            ("/wechat/mp/plain", plain_query(), body),
            (
                "/wechat/mp/demo",
                {**plain_query(), "encrypt_type": "aes", "msg_signature": "x"},
                body,
            ),
            (
                "/wechat/wecom-bot/residents",
                {"msg_signature": sign(WECOM_TOKEN, ts, "1", text), "timestamp": ts, "nonce": "1"},
                body,
            ),
        ]
        query, wrapped = safe_request(text)
        requests.append(("/wechat/mp/demo", query, wrapped.encode()))
        query, wrapped = wecom_request(text)
        requests.append(("/wechat/wecom-bot/residents", query, wrapped.encode()))
        for path, params, data in requests:
            resp = await rig.client.post(path, params=params, data=data)
            statuses.add(resp.status)
        for path in ("/api/v1/messages", "/try/api/messages"):
            resp = await rig.client.post(
                path, data=body, headers={"Authorization": f"Bearer {HOOK_TOKEN}"}
            )
            statuses.add(resp.status)
            assert resp.content_type == "application/json"
    assert statuses <= {200, 400, 403}
    assert {400, 403} <= statuses
