"""Nothing let in, and saying what happened: hostile YAML, values that pass a naive check,
web pages pointing at local files, camera indices, models that do not fit their metadata,
truncated inputs, and the wording of every error. Real files, real subprocesses, a real
HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from helpers import SIZE, assert_one_line_error, run_cli, video_info

from acting_mirror import demo
from acting_mirror.config import ConfigError, load_config

# whole runs of the app or of training: not in the fast subset (-m "not slow")
pytestmark = pytest.mark.slow

MAX_ERROR_CHARS = 300  # the issue: about 300 characters an error line

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "acting_mirror" / "models"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return demo.write_clip(tmp_path_factory.mktemp("hostile") / "clip.avi", "one", 200, 25.0, SIZE)


def alias_bomb(key_path: str) -> str:
    """A 'billion laughs' document: 9^12 values once expanded, a few hundred bytes on disk."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 13):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n" + key_path + " *a12\n"


def error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- 6. YAML alias bombs, huge integers, capped error lines ------------------------


@pytest.mark.parametrize("option, text", [
    ("--config", alias_bomb("detector:\n  cascade:")),
    ("--script", alias_bomb("title: x\ncues:")),
    ("--config", "model:\n  threads: " + "9" * 5000 + "\n"),
    ("--script", "title: x\ncues:\n  - start: " + "7" * 5000 + "\n    end: 9\n    line: hi\n    emotion: happy\n"),
    # one long string aliased many times: few values, hundreds of MB of text once expanded
    ("--config", "s: &s " + "x" * 200_000 + "\nmodel:\n  path: [" + ", ".join(["*s"] * 2_000) + "]\n"),
    ("--script", "s: &s " + "y" * 200_000 + "\ntitle: x\ncues:\n  - line: [" + ", ".join(["*s"] * 2_000) + "]\n"),
    # nested far deeper than any config or script (a RecursionError traceback before)
    ("--config", "model: " + "[" * 20_000 + "]" * 20_000 + "\n"),
    ("--script", "title: x\ncues: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n"),
    # far larger than any real scene: refused before it is parsed
    ("--script", "title: x\ncues:\n" + "  - {start: 0, end: 1, line: hi, emotion: happy}\n" * 40_000),
])
def test_hostile_yaml_is_refused_quickly_with_a_short_line(tmp_path, clip, option, text):
    (tmp_path / "hostile.yaml").write_text(text)
    result = run_cli("--video", str(clip), option, "hostile.yaml", "--no-display", "--no-output", cwd=tmp_path,
                     timeout=120)
    # "refused" comes from the bounded loader, before anything is built (the bomb once took 41 s and 3 GB)
    assert_one_line_error(result, "hostile.yaml", "refused")
    assert len(error_line(result)) <= MAX_ERROR_CHARS


def test_every_error_line_is_capped(tmp_path, clip):
    (tmp_path / "long.yaml").write_text("detector:\n  haar:\n    min_neighbors: " + "many" * 5_000 + "\n")  # echoed
    result = run_cli("--video", str(clip), "--config", "long.yaml", "--no-display", cwd=tmp_path)
    assert_one_line_error(result, "detector.haar.min_neighbors")
    assert len(error_line(result)) <= MAX_ERROR_CHARS


def test_evaluate_error_line_is_capped(tmp_path):
    (tmp_path / "bad.csv").write_text("emotion,pixels,Usage\n" + "x" * 8000 + ",1 2 3,PublicTest\n")
    result = subprocess.run([sys.executable, "-m", "acting_mirror.training.cli", "evaluate", "--data", "bad.csv",
                             "--split", "PublicTest"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "bad.csv" in error_line(result) and len(error_line(result)) <= MAX_ERROR_CHARS


# -- 7. values that pass a naive check ---------------------------------------------


@pytest.mark.parametrize("text, words", [
    ("detector:\n  haar:\n    scale_factor: .inf\n", ["detector.haar.scale_factor", "finite"]),
    ("detector:\n  haar:\n    scale_factor: .nan\n", ["detector.haar.scale_factor", "finite"]),
    ("detector:\n  haar:\n    scale_factor: 1.0e+300\n", ["detector.haar.scale_factor", "between 1.01 and 2"]),
    ("detector:\n  haar:\n    min_size: 100000000000000000000\n", ["detector.haar.min_size", "between 8 and"]),
    ("detector:\n  yunet:\n    score_threshold: .inf\n", ["detector.yunet.score_threshold", "finite"]),
    ("detector:\n  yunet:\n    top_k: 100000000000000000000\n", ["detector.yunet.top_k", "between 1 and 5000"]),
    ("detector:\n  every_n_frames: 99999999999\n", ["detector.every_n_frames", "between 1 and 30"]),
    ("model:\n  threads: 99999999999\n", ["model.threads", "between 1 and 256"]),
    ("tracking:\n  smoothing_frames: 1000000000000\n", ["tracking.smoothing_frames", "between"]),
    ("display:\n  graph_interval_s: -.inf\n", ["display.graph_interval_s", "finite"]),
    ("source:\n  camera_fps: 1.0e+300\n", ["source.camera_fps", "between"]),
])
def test_absurd_values_name_the_key_and_its_range(tmp_path, text, words):
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "config.yaml")
    for word in words:
        assert word in str(raised.value)


def test_absurd_threads_get_a_line_not_a_crash(tmp_path, clip):
    (tmp_path / "config.yaml").write_text("model:\n  threads: 99999999999\n")
    assert_one_line_error(run_cli("--video", str(clip), "--no-display", cwd=tmp_path), "model.threads", "between")


# -- 8. a web page cannot open local files --------------------------------------------


def test_page_whose_video_is_a_local_file_is_refused(tmp_path, http_server, clip):
    secret = tmp_path / "secret.avi"
    shutil.copy(clip, secret)
    (http_server.root / "page.html").write_text(f'<html><body><h1>my take</h1><video src="file://{secret}">'
                                                "</video></body></html>")
    result = run_cli("--url", http_server.url("page.html"), "--no-display", "--output", "out.avi", cwd=tmp_path)
    assert_one_line_error(result, "refusing", "file")
    assert not (tmp_path / "out.avi").exists()


def test_page_may_not_aim_at_a_more_private_network():
    from acting_mirror.sources import SourceError
    from acting_mirror.sources.web import check_media_url

    for media in ("http://127.0.0.1:8080/v.mp4", "http://10.1.2.3/v.mp4", "http://169.254.169.254/latest"):
        with pytest.raises(SourceError, match="more private network"):
            check_media_url(media, "http://8.8.8.8/page.html")
    with pytest.raises(SourceError, match="not rtsp"):
        check_media_url("rtsp://8.8.4.4/stream", "http://8.8.8.8/page.html")
    check_media_url("https://8.8.4.4/v.mp4", "http://8.8.8.8/page.html")           # public to public
    check_media_url("http://127.0.0.1:9/v.mp4", "http://127.0.0.1:8/page.html")    # a local page, local media


@pytest.mark.parametrize("url, shown", [
    ("rtsp://admin:hunter2@192.168.1.10:554/stream1", "rtsp://admin:***@192.168.1.10:554/stream1"),
    ("http://me:hunter2@example.com/v.mp4?x=1", "http://me:***@example.com/v.mp4?x=1"),
    ("rtsp://cam:p@ss:w0rd@[fe80::1]:8554/live", "rtsp://cam:***@[fe80::1]:8554/live"),  # '@' and ':' inside
    ("rtsp://admin:@10.0.0.2/live", "rtsp://admin:***@10.0.0.2/live"),                  # an empty password
    ("rtsp://viewer@10.0.0.2/live", "rtsp://viewer@10.0.0.2/live"),                      # a user, no password
    ("https://www.youtube.com/watch?v=abc", "https://www.youtube.com/watch?v=abc"),
    ("http://user:hunter2@[::1/broken", "http://***@[::1/broken"),                      # unparseable
])
def test_a_password_in_a_url_is_never_shown(url, shown):
    from acting_mirror.sources import without_password

    assert without_password(url) == shown


def test_a_camera_password_stays_out_of_errors(tmp_path):
    """IP cameras are addressed as rtsp://user:password@host/...: the error names the stream
    without its password."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli("--url", f"rtsp://admin:hunter2@127.0.0.1:{port}/live", "--no-display", cwd=tmp_path)
    assert_one_line_error(result, f"cannot open stream rtsp://admin:***@127.0.0.1:{port}/live")
    assert "hunter2" not in result.stderr + result.stdout


def test_ffmpeg_only_gets_the_protocols_of_the_input_kind(tmp_path, clip, http_server):
    from acting_mirror.sources import SourceError, open_video

    options_before = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
    # a file named like FFmpeg's concat protocol must be read as that file, not as a concatenation
    (tmp_path / "a.avi").write_bytes(clip.read_bytes())
    (tmp_path / "concat:a.avi|a.avi").write_text("not a video\n")
    with pytest.raises(SourceError, match="not a video"):
        open_video(tmp_path / "concat:a.avi|a.avi")
    from acting_mirror.sources.file import FILE_PROTOCOLS, WEB_PROTOCOLS, open_capture

    (http_server.root / "clip.avi").write_bytes(clip.read_bytes())
    assert open_capture(http_server.url("clip.avi"), stream=True, protocols=WEB_PROTOCOLS) is not None
    assert open_capture(http_server.url("clip.avi"), stream=True, protocols=FILE_PROTOCOLS) is None
    assert os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS") == options_before  # restored after each open


# -- 9. camera indices ------------------------------------------------------------------


@pytest.mark.parametrize("index", ["-1", "99999999999999999999", "100"])
def test_camera_index_out_of_range_gets_a_line(tmp_path, index):
    result = run_cli("--camera", index, "--no-display", cwd=tmp_path, timeout=60)
    assert result.returncode == 1, result.stderr  # a camera that cannot be opened (-1 used to segfault)
    assert_one_line_error(result, "camera index", "between 0 and 99")


# -- 11. a model whose labels do not fit its outputs -----------------------------------


@pytest.mark.parametrize("backend", ["tflite", "keras"])
def test_model_with_fewer_labels_than_outputs_is_refused_at_load(tmp_path, backend):
    from acting_mirror.model import ModelError, load_classifier

    metadata = json.loads((MODELS / "mirror_net.json").read_text())
    for name in set(metadata["files"].values()):
        shutil.copy(MODELS / name, tmp_path / name)
    metadata["labels"] = metadata["labels"][:6]
    (tmp_path / "six.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelError, match=r"gives 7 outputs, but its metadata lists 6 labels"):
        load_classifier(tmp_path / "six.json", backend)


# -- 12. inputs that end early say so ----------------------------------------------------


def test_truncated_file_and_broken_stream_say_the_input_ended_early(tmp_path, clip, http_server):
    data = clip.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: int(len(data) * 0.6)])
    result = run_cli("--video", "cut.avi", "--no-display", "--output", "out.avi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    count = video_info(tmp_path / "out.avi")[0]
    assert 60 < count < 200
    assert f"stopped by the input ending early: frame {count + 1} of 200 could not be read" in result.stdout
    assert "truncated or damaged" in result.stdout
    (http_server.root / "cut.avi").write_bytes(data[: int(len(data) * 0.6)])
    result = run_cli("--url", http_server.url("cut.avi"), "--no-display", "--no-output", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "the input ending early" in result.stdout and "the stream broke off" in result.stdout
    whole = run_cli("--video", str(clip), "--no-display", "--no-output", cwd=tmp_path)
    assert "stopped by end of input" in whole.stdout


# -- 13. --output '' ----------------------------------------------------------------------


def test_empty_output_writes_no_video(tmp_path, clip):
    result = run_cli("--video", str(clip), "--no-display", "--output", "", "--max-frames", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == [] and "video:" not in result.stdout


# -- 14. --image with --report / --script -------------------------------------------------


def test_image_with_report_writes_a_one_frame_report_and_refuses_a_script(tmp_path):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), next(demo.synth_frames("one", 1, (640, 480))))
    result = run_cli("--image", "photo.png", "--no-display", "--report", "rep", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["frames"] == 1 and summary["face_frames"] == 1
    assert (tmp_path / "rep" / "report.html").is_file() and (tmp_path / "photo_annotated.png").is_file()
    (tmp_path / "scene.yaml").write_text("title: x\ncues:\n  - start: 0\n    end: 2\n    line: Hi\n"
                                         "    emotion: happy\n")
    assert_one_line_error(run_cli("--image", "photo.png", "--no-display", "--script", "scene.yaml", cwd=tmp_path),
                          "--script", "photo")


# -- 15. huge scripts: the chart's drawing cost is bounded --------------------------------


def test_ten_thousand_cues_draw_in_a_bounded_number_of_artists():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from acting_mirror.render.graph import draw_cue_bands

    colours = ("#2e9d4a", "#e69500", "#d0453a", "#999999")
    spans = [(i * 0.5, i * 0.5 + 0.5, colours[i % 4], str(i + 1)) for i in range(10_000)]
    figure = Figure()
    FigureCanvasAgg(figure)
    lines_axes, strip_axes = figure.subplots(2, 1)
    draw_cue_bands(strip_axes, lines_axes, spans, 0.0, 5000.0)
    artists = sum(len(axes.collections) + len(axes.patches) + len(axes.lines) + len(axes.texts)
                  for axes in (lines_axes, strip_axes))
    assert artists <= 3 * len(colours)  # one by one it was 40,000 artists and minutes of drawing
    few = Figure().subplots(2, 1)
    draw_cue_bands(few[1], few[0], spans[:5], 0.0, 5000.0)
    assert [text.get_text() for text in few[1].texts] == ["1", "2", "3", "4", "5"]  # few cues keep their numbers


# -- 16. wording: the real cause and the path ------------------------------------------------


def test_report_command_on_a_file_says_it_is_a_file(tmp_path):
    (tmp_path / "timeline.csv").write_text("frame,time_s\n")
    result = run_cli("report", "timeline.csv", cwd=tmp_path)
    assert result.returncode == 1 and "timeline.csv is a file, not a report directory" in result.stderr


def test_model_option_on_a_folder_says_it_is_a_folder(tmp_path, clip):
    (tmp_path / "models").mkdir()
    assert_one_line_error(run_cli("--video", str(clip), "--model", "models", "--no-display", cwd=tmp_path),
                          "models is a folder", "metadata JSON")


def test_os_errors_name_the_file_and_the_cause():
    from acting_mirror.sinks import describe_os_error

    assert describe_os_error(PermissionError(13, "Permission denied", "/x/y.avi")) == "/x/y.avi: permission denied"
    assert describe_os_error(OSError(28, "No space left on device")) == "no space left on device"
    assert "[Errno" not in describe_os_error(IsADirectoryError(21, "Is a directory", "rep"))


# -- 17. tracebacks for debugging ----------------------------------------------------------


def test_debug_mode_keeps_the_traceback_of_a_broad_except(tmp_path, http_server):
    url = http_server.url("missing.mp4")
    quiet = run_cli("--url", url, "--no-display", cwd=tmp_path)
    assert_one_line_error(quiet, "missing.mp4")
    debug = run_cli("--url", url, "--no-display", cwd=tmp_path, env={"ACTING_MIRROR_DEBUG": "1"})
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "yt_dlp" in debug.stderr  # where the failure really came from
    assert debug.stderr.rstrip().splitlines()[-1].startswith("acting-mirror: error: cannot resolve URL")



@pytest.mark.parametrize("option", ["--config", "--script"])
def test_a_yaml_input_that_is_not_a_regular_file_is_refused(tmp_path, clip, option):
    os.mkfifo(tmp_path / "pipe.yaml")  # reading it would wait forever
    result = run_cli("--video", str(clip), option, "pipe.yaml", "--no-display", "--no-output", cwd=tmp_path,
                     timeout=120)
    assert_one_line_error(result, "pipe.yaml", "not a regular file")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")  # reading it would fill the memory
    result = run_cli("--video", str(clip), option, "zero.yaml", "--no-display", "--no-output", cwd=tmp_path,
                     timeout=120)
    assert_one_line_error(result, "zero.yaml", "not a regular file")


# -- HLS playlists: every address they name passes the network rule ---------------------

PUBLIC_PAGE = "http://93.184.216.34/show/live.m3u8"  # a public address (never contacted: the test fetches nothing)


def playlist_server(playlists: dict[str, str]):
    """What a web server would answer for these playlists (the fetch step of check_playlist)."""
    def fetch(url: str) -> str:
        if url not in playlists:
            raise OSError(f"404 {url}")
        return playlists[url]
    return fetch


@pytest.mark.parametrize("private", ["http://169.254.169.254/latest/meta-data/x.ts", "http://127.0.0.1:8080/a.ts",
                                     "http://10.1.2.3/seg.ts", "file:///etc/passwd"])
@pytest.mark.parametrize("where", ["segment", "key", "map", "variant", "variant segment"])
def test_a_playlist_that_points_at_a_more_private_address_is_refused(private, where):
    from acting_mirror.sources import SourceError
    from acting_mirror.sources.playlists import check_playlist
    from acting_mirror.sources.web import check_media_url

    base = PUBLIC_PAGE.rsplit("/", 1)[0]
    media = {"segment": f"#EXTM3U\n#EXTINF:2,\nok0.ts\n#EXTINF:2,\n{private}\n",
             "key": f'#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="{private}"\n#EXTINF:2,\nok0.ts\n',
             "map": f'#EXTM3U\n#EXT-X-MAP:URI="{private}"\n#EXTINF:2,\nok0.ts\n'}
    playlists = {PUBLIC_PAGE: media.get(where, "")}
    if where == "variant":
        playlists[PUBLIC_PAGE] = f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n{private}\n"
    elif where == "variant segment":
        playlists[PUBLIC_PAGE] = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow/index.m3u8\n"
        playlists[f"{base}/low/index.m3u8"] = f"#EXTM3U\n#EXTINF:2,\n../ok1.ts\n#EXTINF:2,\n{private}\n"
    with pytest.raises(SourceError, match="refusing the video"):
        check_playlist(PUBLIC_PAGE, lambda uri: check_media_url(uri, PUBLIC_PAGE), fetch=playlist_server(playlists))


def test_a_playlist_on_its_own_host_plays(http_server, clip):
    from acting_mirror.sources.playlists import check_playlist, playlist_uris
    from acting_mirror.sources.web import check_media_url

    text = ('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="keys/k1"\n#EXT-X-MAP:URI="init.mp4"\n'
            "#EXTINF:2,\nseg0.ts\n#EXTINF:2,\n/abs/seg1.ts\n")
    base = "http://93.184.216.34/show/index.m3u8"
    assert list(playlist_uris(text, base)) == [("http://93.184.216.34/show/keys/k1", False),
                                              ("http://93.184.216.34/show/init.mp4", False),
                                              ("http://93.184.216.34/show/seg0.ts", False),
                                              ("http://93.184.216.34/abs/seg1.ts", False)]
    checked = []
    check_playlist(base, lambda uri: (check_media_url(uri, base), checked.append(uri)),
                   fetch=playlist_server({base: text}))
    assert len(checked) == 4
    # end to end: the app reads a real playlist from the HTTP server on 127.0.0.1 and refuses a key
    # that only FFmpeg's file protocol could read, before the player opens anything
    (http_server.root / "evil.m3u8").write_text('#EXTM3U\n#EXT-X-TARGETDURATION:2\n'
                                                '#EXT-X-KEY:METHOD=AES-128,URI="file:///etc/passwd"\n'
                                                "#EXTINF:2,\nclip.avi\n#EXT-X-ENDLIST\n")
    shutil.copy(clip, http_server.root / "clip.avi")
    result = run_cli("--youtube", http_server.url("evil.m3u8"), "--no-display", "--no-output",
                     cwd=http_server.root.parent)
    assert_one_line_error(result, "refusing", "file")
