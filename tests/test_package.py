"""The package as a user gets it: a wheel built from a clean copy of the sources, installed with
its default dependencies into a fresh venv and run from a folder outside the repository; and
the default (tflite) path, which never imports TensorFlow or the other training libraries."""

from __future__ import annotations

import email
import fnmatch
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from helpers import read_video

import acting_mirror

# whole runs of the app or of training: not in the fast subset (-m "not slow")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "acting_mirror"
# what a wheel is built from (pyproject's readme and licence-files included)
WHEEL_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "acting_mirror")
# documentation that stays in the repository on purpose (the model card's evaluation files)
NOT_SHIPPED = ("models/*_eval_*.json", "models/*_confusion.png")
TRAINING_MODULES = ("tensorflow", "keras", "sklearn", "scipy", "skimage")
RUNTIME_VENV_LIMIT_MB = 900


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points Python at this checkout, and headless."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DISPLAY", "WAYLAND_DISPLAY"}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` of a clean copy of the sources (no build/ or caches from this checkout)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(source),
                             "--wheel-dir", str(work / "dist")], capture_output=True, text=True, timeout=600,
                            env=clean_env())
    assert result.returncode == 0, result.stderr
    (built,) = (work / "dist").glob("acting_mirror-*.whl")
    return built


def shipped_data_files() -> set[str]:
    """Every non-Python file of the package folder that the wheel must carry."""
    files = set()
    for path in PACKAGE.rglob("*"):
        relative = path.relative_to(PACKAGE).as_posix()
        if (path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts
                or any(fnmatch.fnmatch(relative, pattern) for pattern in NOT_SHIPPED)):
            continue
        files.add(f"acting_mirror/{relative}")
    return files


def test_wheel_holds_the_package_data_and_lean_requirements(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata_name = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(metadata_name))
    expected = shipped_data_files()
    for must in ("acting_mirror/config.yaml", "acting_mirror/models/mirror_ensemble.json",
                 "acting_mirror/models/mirror_ensemble_dynamic.tflite", "acting_mirror/models/mirror_ensemble.keras",
                 "acting_mirror/assets/astronaut.png"):
        assert must in expected  # the check below is not vacuous
    assert [name for name in expected if name.endswith("/haarcascade_frontalface_default.xml")]
    assert expected - names == set(), "package data missing from the wheel"
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert not [name for name in names if fnmatch.fnmatch(name, "acting_mirror/models/*_eval_*.json")]
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert {f"acting_mirror/{name}" for name in ("api.py", "cli.py", "training/cli.py")} <= names

    assert metadata["Version"] == acting_mirror.__version__
    assert metadata["License-Expression"] == "MIT"
    requirements = metadata.get_all("Requires-Dist")
    default = [r for r in requirements if "extra ==" not in r]
    assert not [r for r in default if r.split()[0].split("[")[0].lower().startswith(
        ("tensorflow", "keras", "scikit", "scipy", "ray"))], default
    train = [r for r in requirements if 'extra == "train"' in r]
    assert {r.split(">")[0].split(";")[0].strip() for r in train} >= {"tensorflow-cpu", "keras", "scikit-learn",
                                                                      "scipy"}
    assert set(metadata.get_all("Provides-Extra")) >= {"train", "cluster", "dev"}


@pytest.mark.slow
def test_wheel_runs_the_demo_from_any_folder_in_a_fresh_venv_without_tensorflow(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, env=clean_env())
    python, bin_dir = venv / "bin" / "python", venv / "bin"
    # the default dependencies only, from pip's cache where it has them
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              str(wheel)], capture_output=True, text=True, timeout=1200, env=clean_env())
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*args], cwd=elsewhere, capture_output=True, text=True, timeout=timeout,
                              env=clean_env())

    where = run(str(python), "-c", "import acting_mirror, sys; print(acting_mirror.__file__); "
                                   "print([m for m in sys.argv[1:] if __import__('importlib.util').util"
                                   ".find_spec(m)])", *TRAINING_MODULES)
    assert where.returncode == 0, where.stderr
    installed_at, importable = where.stdout.splitlines()
    assert Path(installed_at).is_relative_to(venv), installed_at  # the wheel's copy, not this checkout
    assert importable == "[]", f"training libraries in the runtime install: {importable}"

    version = run(str(bin_dir / "acting-mirror"), "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"acting-mirror {acting_mirror.__version__}"

    demo = run(str(bin_dir / "acting-mirror"), "--demo", "--no-display")
    assert demo.returncode == 0, demo.stderr
    assert "person 0: happy" in demo.stdout and "video: output.avi (300 frames)" in demo.stdout
    frames, fps, _ = read_video(elsewhere / "output.avi")
    assert (len(frames), fps) == (300, 30.0)

    info = run(str(bin_dir / "acting-mirror-model"), "info")
    assert info.returncode == 0, info.stderr
    assert "mirror_ensemble" in info.stdout and "MISSING" not in info.stdout

    # what needs the train extra says so in one line
    for args in (("acting-mirror", "--demo", "--no-display", "--backend", "keras", "--max-frames", "2"),
                 ("acting-mirror-model", "train", "--data", "fer.csv", "--run-dir", "run"),
                 ("acting-mirror-model", "export", "--model", "m.keras")):
        result = run(str(bin_dir / args[0]), *args[1:])
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1, (args, result.stderr)
        assert "pip install 'acting-mirror[train]'" in lines[0] and "Traceback" not in result.stderr

    api = run(str(python), "-c", textwrap.dedent("""
        import sys
        from acting_mirror import analyze
        from acting_mirror.sources import open_demo
        take = analyze(open_demo(count=20, size=(480, 360)), report_dir="api_report")
        print(take.run.frames, max(take.emotion_share, key=take.emotion_share.get))
    """))
    assert api.returncode == 0, api.stderr
    assert api.stdout.split() == ["20", "happy"] and (elsewhere / "api_report" / "report.html").is_file()

    size_mb = sum(path.stat().st_size for path in venv.rglob("*") if path.is_file() and not path.is_symlink()) / 2**20
    assert size_mb <= RUNTIME_VENV_LIMIT_MB, f"the runtime venv holds {size_mb:.0f} MB"


def test_the_default_path_never_imports_tensorflow(tmp_path):
    """The CLI on the demo with a script and a report, `model info` and the API, in a process
    where TensorFlow is installed: none of the training libraries is imported."""
    code = textwrap.dedent(f"""
        import sys
        from acting_mirror.cli import main
        from acting_mirror.training.cli import main as model_main
        assert main(["--demo", "--no-display", "--max-frames", "40", "--script", {str(ROOT / "examples" /
                     "scene.yaml")!r}, "--report", "report", "--output", "demo.avi"]) == 0
        assert model_main(["info"]) == 0
        print("imported:", sorted(m for m in {TRAINING_MODULES!r} if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=clean_env(PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr
    assert "imported: []" in result.stdout
    assert (tmp_path / "report" / "report.html").is_file() and (tmp_path / "demo.avi").is_file()
