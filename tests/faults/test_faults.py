"""Nothing lost, nothing doubled: two real ``linli serve`` workers on their own PostgreSQL and
Redis, a WeChat API stand-in and a bounded load client (loopback only, at most 60 s of load
per scenario), with one fault injected mid-load per test. Counted per inbound message from
the database, the stand-in's log and the HTTP responses (``harness.count``).

The servers are private to this module (never the shared 6379/5432): the tests stop, restart
and flush them. They fail, never skip, when ``redis-server`` or ``initdb`` is missing.

``LINLI_FAULTS_SOURCE=DIR`` runs the workers from another tree (e.g. ``git archive`` of an
older commit) to show what the suite finds there."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from faults.harness import (
    FaultEnv,
    HarnessError,
    LoadClient,
    Plan,
    Report,
    count,
    run_scenario,
    settle,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

PLAN = Plan(
    residents=20,
    messages=260,
    max_s=60.0,
    fault_at_s=10.0,
    fault_at_messages=100,
    after_fault_s=15.0,
    grace_s=25.0,
)


@pytest.fixture(scope="module")
def env(shared_models: tuple[Path, Path]) -> Iterator[FaultEnv]:
    workdir = Path(tempfile.mkdtemp(prefix="linli-faults-test-"))
    try:
        source = os.environ.get("LINLI_FAULTS_SOURCE")
        # This tree's workers load the models every app of the test run uses (trained once).
        fault_env = (
            FaultEnv(workdir, Path(source)) if source else FaultEnv(workdir, models=shared_models)
        )
    except HarnessError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(str(exc))
    try:
        fault_env.start()
        yield fault_env
    finally:
        fault_env.close()
        shutil.rmtree(workdir, ignore_errors=True)


_numbers = iter(range(1, 100))
Run = Callable[[str], Awaitable[Report]]


@pytest.fixture
async def scenario(env: FaultEnv) -> Run:
    async def run(name: str) -> Report:
        return await run_scenario(env, name, PLAN, next(_numbers))

    return run


def check(report: Report) -> None:
    detail = json.dumps(report.summary(), ensure_ascii=False)
    print(f"{report.name}: {detail}")  # shown with -rA, and with the failure
    assert report.messages >= 100, detail
    assert report.lost == 0, f"acknowledged but never processed: {detail}"
    assert report.duplicated_replies == 0, f"a reply delivered twice: {detail}"
    assert report.duplicated_turns == 0, f"a message processed twice: {detail}"
    assert report.duplicated_tickets == 0, f"a ticket opened twice: {detail}"
    assert report.duplicated_alerts == 0, f"staff alerted twice: {detail}"
    assert report.apologies == 0, f"apologies for merely delayed messages: {detail}"
    assert report.undelivered == 0, f"processed, reply never delivered: {detail}"
    assert report.missed_alerts == 0, f"an emergency without a staff alert: {detail}"
    assert report.recovered_s is not None, f"never served normally again: {detail}"


async def test_kill9_of_a_worker_mid_load(scenario: Run) -> None:
    check(await scenario("kill9"))


async def test_redis_restart_mid_load(scenario: Run) -> None:
    check(await scenario("redis_restart"))


async def test_postgres_outage_of_15_s_mid_load(scenario: Run) -> None:
    check(await scenario("postgres_outage"))


async def test_replay_of_every_answered_msgid_after_a_redis_flush(scenario: Run) -> None:
    check(await scenario("replay_after_flush"))


async def test_a_restarted_worker_takes_messages_while_its_models_load(env: FaultEnv) -> None:
    """A worker listens before its models are loaded: a message sent to it meanwhile is
    acknowledged on its first attempt (not refused for as long as the models take, while the
    platform's retries run out) and answered once they are in; ``/healthz`` says "starting"
    until then, so a load balancer sends new traffic elsewhere."""
    async with env.stack("loading") as stack, LoadClient(stack, next(_numbers)) as client:
        worker = stack.workers[1]
        worker.stop()
        worker.start()
        status, health = await worker.first_health()
        assert (status, health["status"], health["models"]) == (503, "starting", "loading")
        sent = await client.say(client.resident_id(0), "居委会几点上班", "faq", 1, "load")
        assert [a.status for a in sent.attempts] == [200], sent.attempts
        await worker.wait_healthy()
        await settle(stack, client, 25.0)
        report = await count(stack, client, Report("loading"))
        detail = json.dumps(report.summary(), ensure_ascii=False)
        assert (report.lost, report.undelivered, report.duplicated_replies) == (0, 0, 0), detail
        answers = [sent.passive] if sent.passive else [p.text for p in stack.standin.pushes]
        assert len(answers) == 1, answers
        assert "办公时间" in answers[0], answers
        status, health = await worker.first_health()
        assert (status, health["status"], health["models"]) == (200, "ok", "ok")
