"""Workers render submitted tasks through real dora, against real PostgreSQL and Redis: completion,
downloads, SSE order, a worker killed mid-task, cancel, the time limit, the sweep."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis as redis_sync
import soundfile as sf
from sqlmodel import select

from control_api.db import Audio, CreditTransaction, Task, TaskStatus, head_revision, session_scope
from control_api.engines.base import STAGES
from control_api.settings import ServiceSettings
from control_api.worker import sweep
from nodes.common import contract as C
from tests.control_api.service.conftest import BIN, events, final_status, script, service_env, until_stage

pytestmark = [pytest.mark.xdist_group("service"), pytest.mark.slow]


@pytest.fixture
def client(api_url):
    with httpx.Client(base_url=api_url, timeout=120) as c:
        yield c


def submit(client, account, text: str, **body) -> dict:
    response = client.post("/api/v1/tasks", json={"script": text, **body}, headers=account.headers)
    assert response.status_code == 202, response.text
    return response.json()


def sse(client, account, url: str, last_id: str | None = None) -> list[tuple[str, str, dict]]:
    """All (id, event, data) of a task's event stream, to its final status event."""
    return list(events(client, account, url, last_id))


def status(client, account, task: dict) -> dict:
    return client.get(task["urls"]["self"], headers=account.headers).json()


def processes_of(task_dir: Path) -> list[int]:
    """Live processes that carry this task's folder in their environment (dora nodes)."""
    needle = f"{C.ENV_TASK_DIR}={task_dir}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if needle in (proc / "environ").read_bytes().split(b"\0"):
                    state = (proc / "stat").read_text().split()[2]
                    if state != "Z":
                        found.append(int(proc.name))
            except OSError:
                continue
    return found


def charges(settings: ServiceSettings, task_id: str) -> list[CreditTransaction]:
    with session_scope(settings.database_url) as session:
        return session.exec(select(CreditTransaction).where(CreditTransaction.reference_id == task_id)).all()


def test_submit_render_download_with_every_stage_in_order(client, make_user, settings, workers):
    workers.start()
    account = make_user(credits=50)
    task = submit(client, account, script(6, title="End to end"), template="drama")
    events = sse(client, account, task["urls"]["events"])
    statuses = [d["status_value"] for _, e, d in events if e == "status"]
    assert statuses[0] == "queued" and statuses[-1] == "completed" and "running" in statuses
    first_seen = {}
    for i, (_, event, data) in enumerate(events):
        if event in ("stage", "progress"):
            first_seen.setdefault(data["stage"], i)
    assert set(first_seen) == set(STAGES)
    assert first_seen["segmenter"] < first_seen["tts"] < first_seen["effects"] < first_seen["mixer"] < first_seen["output"]
    closed = {d["stage"] for _, e, d in events if e == "stage" and d["total"] and d["done"] == d["total"]}
    assert closed == set(STAGES)
    ids = [i for i, _, _ in events if i]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))  # stream order

    done = status(client, account, task)
    assert done["status"] == "completed" and done["progress"] == 100 and done["duration_s"] > 5
    mp3 = client.get(task["urls"]["audio_mp3"], headers=account.headers)
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    audio, rate = sf.read(io.BytesIO(mp3.content))
    assert rate == 44100 and abs(len(audio) / rate - done["duration_s"]) < 0.2
    wav = client.get(task["urls"]["audio_wav"], headers=account.headers)
    assert sf.info(io.BytesIO(wav.content)).frames / 44100 == pytest.approx(done["duration_s"], abs=0.01)
    part = client.get(task["urls"]["audio_mp3"], headers={**account.headers, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == mp3.content[100:200]
    timeline = client.get(task["urls"]["timeline"], headers=account.headers).json()
    assert len(timeline["utterances"]) == 6
    vtt = client.get(task["urls"]["subtitles_vtt"], headers=account.headers)
    assert vtt.text.startswith("WEBVTT") and "Line number 5" in vtt.text

    # resuming from the middle replays only what came after
    middle = ids[len(ids) // 2]
    rest = sse(client, account, task["urls"]["events"], last_id=middle)
    assert [i for i, _, _ in rest if i] == ids[ids.index(middle) + 1:]

    ledger = charges(settings, task["id"])
    assert [(r.type, r.amount, r.balance_after) for r in ledger] == [("audio_generation", -done["credit_cost"],
                                                                     50 - done["credit_cost"])]
    with session_scope(settings.database_url) as session:
        assert {a.format for a in session.exec(select(Audio).where(Audio.task_id == task["id"]))} == {"wav", "mp3"}
    assert not (settings.tasks_dir / task["id"]).exists()  # scratch removed; audio kept by month of submission
    month = done["created_at"][:7].replace("-", "/")
    kept = {p.name for p in (settings.audio_dir / month / task["id"]).iterdir()}
    assert {"output.mp3", "output.wav", "output.srt", "output.vtt", "output.timeline.json"} <= kept, kept


def test_cancel_stops_the_dataflow_and_leaves_no_process(client, make_user, settings, workers):
    workers.start()
    account = make_user(credits=1000)
    task = submit(client, account, script(60, voices="{A: en-joe, B: en-joe-deep}"))
    until_stage(client, account, task, ("tts", "effects"))
    task_dir = settings.tasks_dir / task["id"]
    assert processes_of(task_dir)  # the nodes are there
    assert client.post(task["urls"]["cancel"], headers=account.headers).status_code == 202
    final = final_status(client, account, task, timeout_s=60)
    assert final["status"] == "cancelled"
    assert processes_of(task_dir) == []
    assert charges(settings, task["id"]) == []
    with session_scope(settings.database_url) as session:
        assert session.exec(select(Audio).where(Audio.task_id == task["id"])).all() == []


def test_a_killed_worker_task_completes_once_and_is_charged_once(client, make_user, settings, workers, redis):
    account = make_user(credits=1000)
    doomed = workers.start(concurrency=1)
    task = submit(client, account, script(40, voices="{A: en-joe, B: en-joe-deep}"))
    until_stage(client, account, task, ("tts", "effects"))
    task_dir = settings.tasks_dir / task["id"]
    orphans = processes_of(task_dir)
    assert orphans  # the first worker's nodes are rendering
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    workers.start(concurrency=1)
    final = final_status(client, account, task)
    assert final["status"] == "completed"
    assert all(not Path(f"/proc/{pid}").exists() or pid not in processes_of(task_dir) for pid in orphans)
    assert len(charges(settings, task["id"])) == 1
    attempts = [d.get("attempt") for _, e, d in sse(client, account, task["urls"]["events"])
                if e == "status" and d["status_value"] == "running"]
    assert attempts == [1, 2]  # taken again after the first worker died
    with session_scope(settings.database_url) as session:
        assert len(session.exec(select(Audio).where(Audio.task_id == task["id"])).all()) == 2
        assert session.get(Task, task["id"]).status == "completed"
    mp3 = client.get(task["urls"]["audio_mp3"], headers=account.headers)
    audio, _ = sf.read(io.BytesIO(mp3.content))
    assert len(audio) / 44100 == pytest.approx(final["duration_s"], abs=0.2)


def test_the_time_limit_fails_the_task_and_stops_everything(client, make_user, settings, workers, tmp_path):
    workers.settings = ServiceSettings(**{**settings.model_dump(), "task_time_limit_s": 3})
    workers.start(concurrency=1)
    account = make_user(credits=1000)
    task = submit(client, account, script(60, voices="{A: en-joe, B: en-joe-deep}"))
    final = final_status(client, account, task, timeout_s=120)
    assert final["status"] == "failed" and "time limit" in final["error"]
    assert processes_of(settings.tasks_dir / task["id"]) == []
    assert charges(settings, task["id"]) == []


def test_a_transient_failure_is_retried_once_and_charged_once(client, make_user, settings, workers, tmp_path):
    hook = Path(__file__).parent / "fail_once_hook"
    markers = tmp_path / "markers"
    markers.mkdir()
    workers.env = {"PYTHONPATH": str(hook), "DRAMAFLOW_TEST_FAIL_ONCE_DIR": str(markers)}
    workers.start(concurrency=1)
    account = make_user(credits=100)
    task = submit(client, account, script(2))
    events = sse(client, account, task["urls"]["events"])
    statuses = [d["status_value"] for _, e, d in events if e == "status"]
    assert statuses == ["queued", "running", "queued", "running", "completed"]
    assert "injected by the test" in [d for _, e, d in events if e == "status"][2]["error"]
    assert (markers / task["id"]).exists()
    final = status(client, account, task)
    assert final["status"] == "completed" and final["retry_count"] == 1
    assert len(charges(settings, task["id"])) == 1


def test_a_second_transient_failure_fails_the_task_uncharged(client, make_user, settings, workers, tmp_path):
    hook = Path(__file__).parent / "fail_once_hook"
    workers.env = {"PYTHONPATH": str(hook), "DRAMAFLOW_TEST_FAIL_ONCE_DIR": str(tmp_path / "none")}
    workers.start(concurrency=1)  # the marker folder does not exist: writing the marker fails every time
    account = make_user(credits=100)
    task = submit(client, account, script(2))
    final = sse(client, account, task["urls"]["events"])[-1][2]
    assert final["status_value"] == "failed"
    assert status(client, account, task)["retry_count"] == 1
    assert charges(settings, task["id"]) == []


def test_a_full_disk_at_publishing_is_retried_and_published_without_rendering_again(client, make_user, settings,
                                                                                  workers, tmp_path):
    hook = Path(__file__).parent / "enospc_once_hook"
    markers = tmp_path / "markers"
    markers.mkdir()
    workers.env = {"PYTHONPATH": str(hook), "DRAMAFLOW_TEST_ENOSPC_ONCE_DIR": str(markers)}
    workers.start(concurrency=1)
    account = make_user(credits=100)
    task = submit(client, account, script(2))
    events = sse(client, account, task["urls"]["events"])
    statuses = [d for _, e, d in events if e == "status"]
    assert [d["status_value"] for d in statuses] == ["queued", "running", "queued", "running", "completed"]
    assert "the disk is full (ENOSPC)" in statuses[2]["error"]
    segmenter_starts = [d for _, e, d in events if e == "stage" and d["stage"] == "segmenter" and d["done"] == 0]
    assert len(segmenter_starts) == 1  # rendered once; the retry only published it
    final = status(client, account, task)
    assert final["status"] == "completed" and final["retry_count"] == 1 and len(charges(settings, task["id"])) == 1
    assert client.get(task["urls"]["audio_mp3"], headers=account.headers).status_code == 200


def forget_job(settings, task_id: str) -> None:
    """What Redis restarting without its data does to a task's job: it is gone."""
    from arq.constants import job_key_prefix

    client = redis_sync.Redis.from_url(settings.redis_url)
    client.delete(job_key_prefix + task_id)
    client.zrem(settings.queue_name, task_id)
    client.close()


def test_a_queued_task_whose_job_redis_lost_is_enqueued_again(client, make_user, settings, workers):
    account = make_user(credits=100)
    task = submit(client, account, script(2))
    forget_job(settings, task["id"])
    workers.env = {"DRAMAFLOW_RECONCILE_AFTER_S": "0"}
    workers.start(concurrency=1)  # reconciles at start: the row is queued, no job stands for it
    final = sse(client, account, task["urls"]["events"])[-1][2]
    assert final["status_value"] == "completed"
    assert status(client, account, task)["retry_count"] == 0


def test_a_running_task_no_job_or_lease_owns_is_retried_or_failed_with_the_reason(client, make_user, settings,
                                                                                  workers):
    account = make_user(credits=100)
    retried, spent = submit(client, account, script(2)), submit(client, account, script(3))
    for task, retry_count in ((retried, 0), (spent, 1)):  # as a worker that died after its job ended leaves them
        forget_job(settings, task["id"])
        with session_scope(settings.database_url) as session:
            row = session.get(Task, uuid.UUID(task["id"]))
            row.status, row.retry_count = TaskStatus.running, retry_count
            session.add(row)
    workers.env = {"DRAMAFLOW_RECONCILE_AFTER_S": "0"}
    workers.start(concurrency=1)
    assert sse(client, account, retried["urls"]["events"])[-1][2]["status_value"] == "completed"
    assert status(client, account, retried)["retry_count"] == 1
    failed = status(client, account, spent)
    assert failed["status"] == "failed" and "worker stopped without finishing it" in failed["error"]
    assert charges(settings, spent["id"]) == []


def test_sweep_removes_old_task_folders_and_expired_audio(settings, make_user):
    old = settings.tasks_dir / "old-task"
    fresh = settings.tasks_dir / "fresh-task"
    for folder in (old, fresh):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "dataflow.yml").write_text("x")
    past = time.time() - settings.scratch_ttl_h * 3600 - 60
    os.utime(old, (past, past))
    account = make_user()
    expired = settings.audio_dir / "gone" / "output.mp3"
    expired.parent.mkdir(parents=True, exist_ok=True)
    expired.write_bytes(b"x")
    from datetime import timedelta

    from control_api.db import utcnow

    with session_scope(settings.database_url) as session:
        t = Task(user_id=account.id, script_text="x", template="podcast", status="completed")
        session.add(t)
        session.flush()
        session.add(Audio(task_id=t.id, format="mp3", file_path=str(expired), size_bytes=1, duration_s=1,
                          sample_rate=44100, expires_at=utcnow() - timedelta(seconds=1)))
    removed = sweep(settings)
    assert removed["task_folders"] >= 1 and removed["audio_files"] >= 1
    assert not old.exists() and fresh.exists() and not expired.exists()


def test_serve_and_worker_refuse_an_out_of_date_schema(settings, servers):
    import sqlalchemy as sa

    admin = sa.create_engine(settings.database_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS empty_schema"))
        conn.execute(sa.text("CREATE DATABASE empty_schema"))
    admin.dispose()
    env = service_env(settings, DRAMAFLOW_DATABASE_URL=settings.database_url.rsplit("/", 1)[0] + "/empty_schema")
    for command in (["worker"], ["serve", "--port", "1"], ["users", "create", "x"]):
        proc = subprocess.run([str(BIN / "dramaflow"), *command], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1, proc.stderr
        assert "run `dramaflow db upgrade` first" in " ".join(proc.stderr.split())  # rich wraps lines
    # written as a hosting provider hands it out: postgres://, no driver
    env["DRAMAFLOW_DATABASE_URL"] = env["DRAMAFLOW_DATABASE_URL"].replace("postgresql+psycopg2://", "postgres://")
    upgraded = subprocess.run([str(BIN / "dramaflow"), "db", "upgrade"], env=env, capture_output=True, text=True,
                              timeout=60)
    assert upgraded.returncode == 0, upgraded.stderr
    head = head_revision(settings.database_url)
    assert head == "0005" and head in upgraded.stdout


def test_cli_users_create_prints_the_key_last_and_credits_grant(settings, client):
    env = service_env(settings)
    name = f"cli-{os.getpid()}-{time.monotonic_ns()}"
    made = subprocess.run([str(BIN / "dramaflow"), "users", "create", name], env=env, capture_output=True,
                          text=True, timeout=60)
    key = made.stdout.strip().splitlines()[-1]
    assert made.returncode == 0 and key.startswith("dfk_")
    granted = subprocess.run([str(BIN / "dramaflow"), "credits", "grant", name, "25"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert granted.returncode == 0 and "25 credits" in granted.stdout
    assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    again = subprocess.run([str(BIN / "dramaflow"), "users", "create", name], env=env, capture_output=True, text=True,
                           timeout=60)
    assert again.returncode == 2 and "exists" in " ".join(again.stderr.split())

    def dramaflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "dramaflow"), *args], env=env, capture_output=True, text=True, timeout=60)

    admin_key = dramaflow("users", "create", f"{name}-op", "--admin").stdout.strip().splitlines()[-1]
    admin = {"Authorization": f"Bearer {admin_key}"}
    assert client.get("/api/v1/users/me", headers=admin).json()["role"] == "admin"
    assert dramaflow("credits", "grant", name, "10", "--type", "purchase").returncode == 0
    assert dramaflow("credits", "grant", name, "-1", "--type", "refund").returncode == 2
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert (me["credit_balance"], me["total_credit_purchased"]) == (35, 10)
    assert dramaflow("users", "set-status", name, "suspended", "--reason", "cli test").returncode == 0
    refused = client.post("/api/v1/tasks", json={"script": script(2)}, headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 403 and "cli test" in refused.json()["detail"]


def test_cli_submit_follow_downloads_the_mp3(settings, api_url, make_user, workers, tmp_path):
    workers.start()
    account = make_user(credits=100)
    path = tmp_path / "episode.md"
    path.write_text(script(3), encoding="utf-8")
    env = {**service_env(settings), "DRAMAFLOW_API_URL": api_url, "DRAMAFLOW_API_KEY": account.key}
    proc = subprocess.run([str(BIN / "dramaflow"), "submit", str(path), "--follow"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    audio, rate = sf.read(tmp_path / "episode.mp3")
    assert rate == 44100 and len(audio) > rate
    assert "tts" in proc.stderr  # the progress bars
