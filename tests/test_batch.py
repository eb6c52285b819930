"""`acting-mirror batch`: many real takes (clips of a real face written with OpenCV) through the
local process pool and through Ray, compared with single `acting-mirror --video` runs."""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import SCENE, SIZE, run_cli

from acting_mirror import demo
from acting_mirror.batch.engines.ray import RayEngine
from acting_mirror.batch.errors import BatchError
from acting_mirror.batch.run import run_batch
from acting_mirror.batch.store import PARTIAL_PREFIX
from acting_mirror.batch.takes import find_takes, take_names

# whole runs of the app or of training: not in the fast subset (-m "not slow")
pytestmark = pytest.mark.slow

TAKES = {"one": "one", "leave": "leave", "two": "two"}  # take name -> demo scenario (different scores)
REPORT_FILES = ("timeline.csv", "summary.json", "report.html", "take.json")


def read_index(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as handle:
        return {row["take"]: row for row in csv.DictReader(handle)}


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def summary_of(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def takes(tmp_path_factory) -> Path:
    # 3 s each at 6 FPS: the example scene's first two cues (happy, then sad or angry)
    folder = tmp_path_factory.mktemp("takes")
    for name, scenario in TAKES.items():
        demo.write_clip(folder / f"{name}.avi", scenario, 18, 6.0, SIZE)
    return folder


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42 but no movie here" * 40)
    return path


@pytest.fixture(scope="module")
def local_batch(takes, corrupt, tmp_path_factory):
    """One run of the command: the three takes, a corrupt file and a missing one, 2 workers."""
    work = tmp_path_factory.mktemp("local")
    result = run_cli("batch", str(takes), str(corrupt), "missing.mp4", "--script", str(SCENE), "--out", "out",
                     "--workers", "2", cwd=work)
    return work / "out", result


def test_local_batch_writes_each_take_and_an_index_matching_their_summaries(local_batch):
    out, result = local_batch
    assert result.returncode == 1, result.stderr  # 1: some take failed; the others are done
    assert "Traceback" not in result.stderr
    index = read_index(out / "index.csv")
    assert list(index) == ["leave", "one", "two", "corrupt", "missing"]  # a folder's videos in name order
    scores = {}
    for name in TAKES:
        for file in REPORT_FILES:
            assert (out / name / file).is_file(), (name, file)
        summary = summary_of(out / name)
        row = index[name]
        assert row["status"] == "ok"
        assert row["video"].endswith(f"{name}.avi")
        assert number(row["score"]) == summary["score"] is not None
        assert number(row["duration_s"]) == summary["duration_s"] == 3.0
        assert int(row["frames"]) == summary["frames"] == 18
        assert int(row["face_frames"]) == summary["face_frames"]
        on_target = [number(row[f"cue{n}_on_target"]) for n in range(1, 5)]
        assert on_target == [cue["on_target_fraction"] for cue in summary["cues"]]
        scores[name] = summary["score"]
    # the takes really differ: the face leaves for a third of "leave"
    assert scores["leave"] < scores["one"]
    best = max(scores, key=scores.get)
    assert f"best take: {best}, score {scores[best]:.0f}/100" in result.stdout

    page = (out / "index.html").read_text()
    for name in TAKES:
        assert f'href="{name}/report.html"' in page
    table = page.split("<h2>Takes</h2>")[1].split("</table>")[0]
    listed = sorted(TAKES, key=lambda name: table.index(f'href="{name}/report.html"'))
    assert [scores[name] for name in listed] == sorted(scores.values(), reverse=True)  # ranked by score
    assert "Your best take of <span class=\"line\">\"We made it. We actually made it!\"</span> was" in page
    assert page.count("data:image/png;base64,") == 2  # a chart for each of the two cues the takes reach
    # no half-written take is left; the lock file stays (removing it would race with a second batch)
    assert [path.name for path in out.iterdir() if path.name.startswith(".")] == [".acting-mirror-batch.lock"]


def test_a_corrupt_and_a_missing_take_are_listed_with_their_errors(local_batch, corrupt):
    out, result = local_batch
    index = read_index(out / "index.csv")
    assert index["corrupt"]["status"] == f"{corrupt} is not a video OpenCV can read"
    missing = index["missing"]["status"]
    assert missing.startswith("video file ") and missing.endswith("missing.mp4 not found")
    assert index["corrupt"]["score"] == "" and not (out / "corrupt").exists() and not (out / "missing").exists()
    assert "failed: corrupt: " in result.stdout and "3 analysed" in result.stdout
    assert "not a video OpenCV can read" in (out / "index.html").read_text()


def test_batch_scores_equal_single_command_line_runs(local_batch, takes, tmp_path):
    out, _ = local_batch
    for name in TAKES:
        single = run_cli("--video", str(takes / f"{name}.avi"), "--script", str(SCENE), "--report", name,
                         "--no-display", "--no-output", cwd=tmp_path)
        assert single.returncode == 0, single.stderr
        assert summary_of(tmp_path / name) == summary_of(out / name)
        assert (tmp_path / name / "timeline.csv").read_text() == (out / name / "timeline.csv").read_text()


def ray_module():
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            raise  # CI installs the cluster extra: there this test must run
        pytest.skip('Ray is not installed (pip install -e ".[cluster]")')
    return ray


def test_ray_engine_gives_the_same_results_as_the_local_pool(local_batch, takes, corrupt, tmp_path):
    ray = ray_module()
    local_out, _ = local_batch
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)  # never a cluster left here
    try:
        # 64 KiB chunks: every take (90-140 KB) travels to its worker in pieces, put together there
        result = run_batch([takes, corrupt], tmp_path / "out", script=SCENE,
                           engine=RayEngine(workers=2, chunk_bytes=64 * 1024), progress=False,
                           log=lambda message: None)
        assert ray.is_initialized()  # the batch leaves alone a runtime it did not start
    finally:
        ray.shutdown()
    assert sorted(result.analysed) == sorted(TAKES) and result.failed == ("corrupt",)
    index = read_index(tmp_path / "out" / "index.csv")
    local_index = read_index(local_out / "index.csv")
    for name in TAKES:
        assert summary_of(tmp_path / "out" / name) == summary_of(local_out / name)
        assert (tmp_path / "out" / name / "report.html").read_text() == (local_out / name / "report.html").read_text()
        assert index[name] == local_index[name]
        assert json.loads((tmp_path / "out" / name / "take.json").read_text())["engine"] == "ray"
    assert index["corrupt"]["status"] == local_index["corrupt"]["status"]
    assert result.best is not None and result.best.take.name in TAKES


def test_ray_engine_without_ray_says_what_to_install(takes, tmp_path):
    code = ("import sys; sys.modules['ray'] = None\n"  # makes `import ray` fail as if it were not installed
            "from acting_mirror.cli import main\n"
            f"sys.exit(main(['batch', {str(takes)!r}, '--out', 'out', '--engine', 'ray']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install" in lines[0] and "cluster" in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_rerun_skips_complete_takes_redoes_incomplete_ones_and_force_redoes_all(local_batch, takes, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(local_batch[0], out)
    records = {name: (out / name / "take.json").read_text() for name in TAKES}

    again = run_batch([takes], out, script=SCENE, workers=1, progress=False, log=lambda message: None)
    assert sorted(again.skipped) == sorted(TAKES) and again.analysed == ()
    assert {name: (out / name / "take.json").read_text() for name in TAKES} == records

    (out / "two" / "summary.json").unlink()              # an incomplete take ...
    (out / f"{PARTIAL_PREFIX}one").mkdir()                # ... and what a crash left half-written
    (out / f"{PARTIAL_PREFIX}one" / ".acting-mirror-batch").touch()  # (with the mark of the batch that made it)
    (out / f"{PARTIAL_PREFIX}one" / "timeline.csv").write_text("frame\n")
    redone = run_batch([takes], out, script=SCENE, workers=1, progress=False, log=lambda message: None)
    assert redone.analysed == ("two",) and sorted(redone.skipped) == ["leave", "one"]
    assert not (out / f"{PARTIAL_PREFIX}one").exists()
    assert summary_of(out / "two") == summary_of(local_batch[0] / "two")

    forced = run_batch([takes], out, script=SCENE, workers=2, force=True, progress=False, log=lambda message: None)
    assert sorted(forced.analysed) == sorted(TAKES) and forced.skipped == ()
    assert read_index(out / "index.csv").keys() == set(TAKES)  # the index is the takes of this run

    # other settings (here: no script) are not the same outputs: the takes are redone
    unscripted = run_batch([takes], out, workers=2, max_frames=6, progress=False, log=lambda message: None)
    assert sorted(unscripted.analysed) == sorted(TAKES)


def test_without_a_script_the_index_compares_emotion_shares(takes, tmp_path):
    result = run_batch([takes / "one.avi", takes / "leave.avi"], tmp_path / "out", workers=2, max_frames=9,
                       progress=False, log=lambda message: None)
    assert result.best is None and not result.failed
    assert "no script, so no scores" in "\n".join(result.lines())
    index = read_index(tmp_path / "out" / "index.csv")
    for name in ("one", "leave"):
        summary = summary_of(tmp_path / "out" / name)
        assert summary["frames"] == 9 and "cues" not in summary
        shares = {key.removeprefix("share_"): number(value) for key, value in index[name].items()
                  if key.startswith("share_")}
        assert shares == summary["emotion_share"]
        assert index[name]["score"] == ""
    page = (tmp_path / "out" / "index.html").read_text()
    assert "Most happy: " in page and "data:image/png;base64," in page


def test_ctrl_c_keeps_the_finished_takes_and_a_rerun_goes_on(tmp_path):
    takes = tmp_path / "takes"
    demo.write_clip(takes / "a_short.avi", "one", 6, 6.0, SIZE)
    for name in ("b_long", "c_long"):
        demo.write_clip(takes / f"{name}.avi", "one", 200, 30.0, SIZE)
    environment = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-m", "acting_mirror", "batch", str(takes), "--out", "out",
                                "--workers", "1"], cwd=tmp_path, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "out" / "a_short" / "take.json").exists():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        time.sleep(0.3)  # into the next take
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)  # the take in progress is stopped, not waited for
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    out = tmp_path / "out"
    done = sorted(path.name for path in out.iterdir() if path.is_dir())
    assert done in (["a_short"], ["a_short", "b_long"])  # one worker: c_long had not started
    # no half-written take is left (the lock file stays)
    assert [path.name for path in out.iterdir() if path.name.startswith(".")] == [".acting-mirror-batch.lock"]
    index = read_index(out / "index.csv")
    assert index["a_short"]["status"] == "ok" and index["c_long"]["status"].startswith("not analysed")

    record = (out / "a_short" / "take.json").read_text()
    rerun = run_cli("batch", str(takes), "--out", "out", "--workers", "2", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{3 - len(done)} analysed, {len(done)} skipped" in rerun.stdout
    assert (out / "a_short" / "take.json").read_text() == record
    assert summary_of(out / "c_long")["frames"] == 200


def test_a_take_whose_video_cannot_be_written_fails_and_is_not_stored(tmp_path):
    demo.write_clip(tmp_path / "takes" / "long.avi", "one", 60, 12.0, SIZE)
    demo.write_clip(tmp_path / "takes" / "short.avi", "one", 6, 12.0, SIZE)

    def limit_files() -> None:  # the disk fills up under the long take's annotated video
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    environment = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "acting_mirror", "batch", "takes", "--out", "out", "--workers", "2",
                             "--video-output"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env=environment, preexec_fn=limit_files)
    assert result.returncode == 1, result.stderr
    index = read_index(tmp_path / "out" / "index.csv")
    assert index["short"]["status"] == "ok" and (tmp_path / "out" / "short" / "annotated.avi").stat().st_size > 0
    assert "annotated.avi" in index["long"]["status"] and "file size limit" in index["long"]["status"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir() if path.is_dir()) == ["short"]


def test_url_takes_are_analysed_and_an_unreachable_one_is_listed(local_batch, takes, http_server, tmp_path):
    shutil.copy(takes / "one.avi", http_server.root / "one.avi")
    url = http_server.url("one.avi")
    unreachable = http_server.base_url.rsplit(":", 1)[0] + ":9/nothing.mp4"  # the discard port: nobody listens
    result = run_batch([url, unreachable], tmp_path / "out", script=SCENE, workers=2, progress=False,
                       log=lambda message: None)
    name = f"127.0.0.1_{http_server.base_url.rsplit(':', 1)[1]}_one.avi"
    assert result.analysed == (name,) and len(result.failed) == 1
    assert summary_of(tmp_path / "out" / name) == summary_of(local_batch[0] / "one")  # the same take, same numbers
    index = read_index(tmp_path / "out" / "index.csv")
    assert index[name]["video"] == url and index[name]["status"] == "ok"
    failed = index[result.failed[0]]
    assert failed["video"] == unreachable and "nothing.mp4" in failed["status"] and "\n" not in failed["status"]


def test_take_names_are_unique_and_safe_folder_names(tmp_path):
    names = take_names(["/data/day1/take.mp4", "/data/day2/take.mp4", "/data/day2/TAKE.avi", "/data/x/scene 1.mov",
                        "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://example.com/clips/../a b.mp4?x=1&y=2",
                        "/data/" + "long" * 30 + ".mp4", "/data/" + "long" * 30 + "er.mp4"])
    assert names[:4] == ["day1-take", "day2-take-mp4", "day2-TAKE-avi", "scene_1"]
    assert names[4] == "youtube.com_watch_v_dQw4w9WgXcQ"
    assert names[5] == "example.com_clips_.._a_b.mp4_x_1_y_2"
    assert len({name.lower() for name in names}) == len(names)
    for name in names:
        assert len(name) <= 64 and not name.startswith(".") and all(c.isalnum() or c in "._-" for c in name)
    assert names[6] != names[7]
    # numbering when nothing else tells them apart
    assert take_names(["https://a.com/x y", "https://a.com/x_y"]) == ["a.com_x_y", "a.com_x_y-2"]


def test_folders_are_searched_for_videos_leaving_out_the_output_and_hidden_files(tmp_path):
    for path in ("s/a.avi", "s/deep/b.MP4", "s/.hidden/c.avi", "s/notes.txt", "s/out/one/annotated.avi"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x")
    found = find_takes([tmp_path / "s", tmp_path / "s" / "a.avi", "https://example.com/v.mp4"],
                       exclude=tmp_path / "s" / "out", log=lambda message: None)
    assert [take.name for take in found] == ["a", "b", "example.com_v.mp4"]
    assert found[0].source == str((tmp_path / "s" / "a.avi").resolve()) and found[2].is_url
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchError, match="no takes"):
        run_batch([tmp_path / "empty"], tmp_path / "o", progress=False, log=lambda message: None)


def test_a_users_folder_with_a_takes_name_is_never_replaced(takes, tmp_path):
    # the take's own video lives in a folder of its name inside --out, beside the user's notes
    out = tmp_path / "tk"
    (out / "one").mkdir(parents=True)
    video = out / "one" / "one.avi"
    shutil.copy(takes / "one.avi", video)
    (out / "notes").mkdir()
    (out / "notes" / "ideas.txt").write_text("louder in the second line\n")
    shutil.copy(takes / "two.avi", tmp_path / "notes.avi")
    before = video.read_bytes()
    result = run_cli("batch", str(video), "--out", "tk", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "exists and was not written by acting-mirror batch" in result.stderr
    assert "Traceback" not in result.stderr
    assert video.read_bytes() == before
    result = run_cli("batch", "notes.avi", "--out", "tk", cwd=tmp_path)
    assert result.returncode == 2 and "tk/notes exists" in result.stderr
    assert (out / "notes" / "ideas.txt").read_text() == "louder in the second line\n"
    # a folder the batch wrote itself is replaced by a forced rerun, as before
    result = run_cli("batch", str(takes / "two.avi"), "--out", "mine", "--workers", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (tmp_path / "mine" / "two" / "stale.txt").write_text("from the first run\n")
    result = run_cli("batch", str(takes / "two.avi"), "--out", "mine", "--workers", "1", "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "mine" / "two" / "stale.txt").exists()  # the take's folder was made anew
    assert sorted(p.name for p in (tmp_path / "mine").iterdir() if not p.name.startswith(".")) == [
        "index.csv", "index.html", "two"]


def test_leftover_folders_are_removed_only_when_the_batch_made_them(takes, tmp_path):
    out = tmp_path / "out"
    mine = out / f"{PARTIAL_PREFIX}ghost"
    mine.mkdir(parents=True)
    (mine / ".acting-mirror-batch").touch()  # what a crashed run leaves
    theirs = out / f"{PARTIAL_PREFIX}drafts"
    theirs.mkdir()
    (theirs / "draft.txt").write_text("keep me\n")
    run_batch([takes / "one.avi"], out, workers=1, progress=False, log=lambda _: None)
    assert not mine.exists()
    assert (theirs / "draft.txt").read_text() == "keep me\n"


def test_a_second_batch_on_the_same_out_is_refused_at_once(takes, tmp_path):
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".acting-mirror-batch.lock", "w") as held:  # what a running batch holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BatchError, match="another batch is writing to .*out right now"):
            run_batch([takes / "one.avi"], out, workers=1, progress=False, log=lambda _: None)
    assert sorted(p.name for p in out.iterdir()) == [".acting-mirror-batch.lock"]  # nothing touched


def test_two_concurrent_batches_on_one_out_never_destroy_each_others_work(takes, tmp_path):
    command = [sys.executable, "-m", "acting_mirror", "batch", str(takes), "--script", str(SCENE), "--out", "out",
               "--workers", "1"]
    environment = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    lock = tmp_path / "out" / ".acting-mirror-batch.lock"
    while first.poll() is None and not any((tmp_path / "out").glob(f"{PARTIAL_PREFIX}*")):
        time.sleep(0.05)  # the first batch holds the lock once it has started a take
    second = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert lock.exists()
    assert second.returncode == 2 and "another batch is writing to out right now" in second.stderr
    index = read_index(tmp_path / "out" / "index.csv")
    assert sorted(index) == sorted(TAKES) and all(row["status"] == "ok" for row in index.values())
    for name in TAKES:
        assert all((tmp_path / "out" / name / file).is_file() for file in REPORT_FILES)


def test_a_password_in_a_url_take_is_never_shown(takes, http_server, tmp_path):
    shutil.copy(takes / "one.avi", http_server.root / "one.avi")
    host_port = http_server.base_url.split("//", 1)[1]
    url = f"http://actor:s3cret-word@{host_port}/one.avi"
    missing = f"http://actor:s3cret-word@{host_port}/missing.avi"
    result = run_cli("batch", url, missing, "--out", "out", "--workers", "1", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # the missing one failed
    everything = [result.stdout, result.stderr]
    for path in (tmp_path / "out").rglob("*"):
        assert "s3cret" not in path.name
        if path.is_file() and path.suffix in (".csv", ".html", ".json"):
            everything.append(path.read_text())
    assert all("s3cret" not in text for text in everything)
    index = read_index(tmp_path / "out" / "index.csv")
    assert sorted(row["video"] for row in index.values()) == sorted(
        u.replace("s3cret-word", "***") for u in (url, missing))
    assert [row["status"] for row in index.values()].count("ok") == 1
    # a rerun knows the finished take again (its record holds the hidden form)
    again = run_cli("batch", url, "--out", "out", "--workers", "1", cwd=tmp_path)
    assert again.returncode == 0 and "skipped" in again.stdout.lower(), again.stdout


def test_workers_are_capped_and_die_with_a_killed_driver(takes, tmp_path):
    long_take = demo.write_clip(tmp_path / "long.avi", "one", 600, 6.0, SIZE)
    environment = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "TF_CPP_MIN_LOG_LEVEL": "3"}
    driver = subprocess.Popen([sys.executable, "-m", "acting_mirror", "batch", str(long_take), str(takes / "one.avi"),
                               "--out", "out", "--workers", "10000"], cwd=tmp_path, env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any((tmp_path / "out").glob(f"{PARTIAL_PREFIX}long")):
        time.sleep(0.1)
    time.sleep(1.0)
    workers = {int(status.parent.name) for status in Path("/proc").glob("[0-9]*/stat")
               if _parent_pid(status) == driver.pid}
    assert workers, "the driver started no worker"
    assert len(workers) <= os.cpu_count() + 1  # the pool (and its resource tracker), never 10000
    driver.kill()  # kill -9: the driver cannot stop its pool
    driver.communicate(timeout=30)
    alive = set(workers)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if Path(f"/proc/{pid}").exists()
                 and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()}
        time.sleep(0.1)
    assert not alive, f"workers outlived their driver: {alive}"


def _parent_pid(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])  # the field after the state
    except (OSError, IndexError, ValueError):
        return None


def test_no_takes_says_when_the_videos_lie_inside_out(takes, tmp_path):
    shutil.copytree(takes, tmp_path / "tk2")
    result = run_cli("batch", "tk2", "--out", "tk2", cwd=tmp_path)
    assert result.returncode == 2
    assert "lie inside --out tk2" in result.stderr.strip().splitlines()[-1]
    result = run_cli("batch", str(takes / "one.avi"), "--out", "w", "--workers", "64", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--workers 64 is more than the" in result.stderr
