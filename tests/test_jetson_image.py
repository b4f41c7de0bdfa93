"""The Jetson image, its entrypoint and the smoke script (issue #26 findings 2 and 3), checked here by reading
the files and running the shell scripts. Docker, the GPU and JetPack are not here, so the scripts run with
stand-ins for the commands they call (`fetal-edge`, `sleep`, `docker`) that record their arguments; what is
tested is the scripts' own logic and text."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = (REPO / "Dockerfile.jetson").read_text(encoding="utf-8")
REQUIREMENTS = REPO / "docker" / "requirements-jetson.txt"
ENTRYPOINT = REPO / "docker" / "jetson-entrypoint.sh"
SMOKE = REPO / "scripts" / "jetson-smoke.sh"
DOCS = (REPO / "docs" / "device.md").read_text(encoding="utf-8")


def requirement_names(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#")[0].strip().strip('",')
        m = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def pyproject_dependencies() -> dict[str, str]:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    block = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    return requirement_names(block.splitlines())


def test_pycuda_build_finds_cuda() -> None:
    """pycuda compiles from source and finds CUDA only through CUDA_ROOT or nvcc on PATH."""
    env = DOCKERFILE.index("CUDA_ROOT=/usr/local/cuda")
    assert "PATH=/usr/local/cuda/bin:${PATH}" in DOCKERFILE
    assert env < DOCKERFILE.index("requirements-jetson.txt \\") or env < DOCKERFILE.index("pip install -r")
    assert "pycuda" in requirement_names(REQUIREMENTS.read_text().splitlines())


def test_image_pins_numpy_1_and_takes_opencv_with_gstreamer_from_the_distribution() -> None:
    """numpy>=1.24 resolved to numpy 2 (the Jetson onnxruntime-gpu wheels and TensorRT bindings are built against
    numpy 1); PyPI's OpenCV has no GStreamer, so gst:// sources could not work in the image."""
    req = requirement_names(REQUIREMENTS.read_text().splitlines())
    assert "<2" in req["numpy"]
    assert not any(name.startswith("opencv") for name in req)
    assert "--no-deps ." in DOCKERFILE and "pip install -r docker/requirements-jetson.txt" in DOCKERFILE
    assert "python3-opencv" in DOCKERFILE and "gstreamer1.0-plugins-good" in DOCKERFILE
    assert re.search(r"GStreamer:\\s\+YES", DOCKERFILE), "the build must check OpenCV has GStreamer"
    # every other dependency of the package is installed in the image
    missing = set(pyproject_dependencies()) - set(req) - {"opencv-python-headless"}
    assert not missing, f"pyproject dependencies not in {REQUIREMENTS.name}: {missing}"


def test_base_images_cover_the_supported_jetpacks() -> None:
    default = re.search(r"^ARG BASE=(\S+)", DOCKERFILE, re.M).group(1)
    assert default == "nvcr.io/nvidia/l4t-jetpack:r36.4.0"
    for tag, versions in (("r36.4.0", "TensorRT 10.3, CUDA 12.6"), ("r36.3.0", "TensorRT 8.6.2, CUDA 12.2"),
                          ("r35.4.1", "TensorRT 8.5.2, CUDA 11.4")):
        line = next(ln for ln in DOCKERFILE.splitlines() if re.match(rf"#\s+R\d+\.\S* \(JetPack.*{tag}", ln))
        assert versions in line, line


def test_docs_say_to_set_docker_default_runtime_and_run_the_smoke_script_first() -> None:
    assert '"default-runtime": "nvidia"' in DOCS and "/etc/docker/daemon.json" in DOCS
    first = DOCS.index("scripts/jetson-smoke.sh")
    assert first < DOCS.index("## Running with Docker") and first < DOCS.index("## Flashing and first boot")
    for jp in ("5.1", "6.0", "6.1"):
        assert f"JetPack {jp}" in DOCS


def stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def sandbox(tmp_path: Path):
    """PATH with stand-ins: `fetal-edge` answers from $CODES (one exit code per `run`), logs its calls;
    `sleep` logs its argument and, when asked, touches the config (a person fixing it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    stub(bin_dir, "fetal-edge", f'''echo "fetal-edge $*" >> {log}
case "$1" in
  doctor) exit 0 ;;
  build-engines) exit "${{BUILD_CODE:-0}}" ;;
  run) n=$(grep -c "^fetal-edge run" {log}); code=$(echo "$CODES" | cut -d, -f"$n"); exit "${{code:-0}}" ;;
esac
''')
    stub(bin_dir, "sleep", f'''echo "sleep $1" >> {log}
if [ -n "${{TOUCH_ON_SLEEP:-}}" ]; then touch -d "+1 minute" "$TOUCH_ON_SLEEP"; fi
''')
    config = tmp_path / "config.yaml"
    config.write_text("device: {}\n")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FETAL_EDGE_CONFIG": str(config),
           "FETAL_EDGE_STATE": str(tmp_path / "state"), "FETAL_EDGE_BACKOFF_MAX_S": "40"}
    return env, log, config


def entrypoint(env: dict, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(ENTRYPOINT)], env={**env, **extra}, capture_output=True, text=True, timeout=60)


def test_entrypoint_builds_engines_at_every_start(sandbox) -> None:
    """Finding 3: once its marker file existed the entrypoint never rebuilt engines, so a new image or config
    left stale engines the backend refused. Now build-engines runs at every start (it keeps valid engines)."""
    env, log, _ = sandbox
    (Path(env["FETAL_EDGE_STATE"]) / "engines").mkdir(parents=True)
    (Path(env["FETAL_EDGE_STATE"]) / "engines" / ".built").touch()  # the old marker changes nothing
    for _ in range(2):
        assert entrypoint(env, CODES="0", FETAL_EDGE_MAX_EXAMS="1").returncode == 0
    assert log.read_text().count("fetal-edge build-engines --config") == 2


def test_entrypoint_runs_even_when_a_model_has_no_engine(sandbox) -> None:
    env, log, _ = sandbox
    proc = entrypoint(env, BUILD_CODE="5", CODES="0", FETAL_EDGE_MAX_EXAMS="1")
    assert proc.returncode == 0 and "fetal-edge run --config" in log.read_text()
    assert "without a TensorRT engine" in proc.stderr


def test_entrypoint_backs_off_instead_of_restarting_every_5_s(sandbox) -> None:
    """Finding 1/3: the exam loop restarted `run` every 5 s forever. Quick failures now back off (5, 10, 20, ...
    up to FETAL_EDGE_BACKOFF_MAX_S) and say what the exit code means."""
    env, log, _ = sandbox
    proc = entrypoint(env, CODES="5,5,3,3,3,0", FETAL_EDGE_MAX_EXAMS="6")
    sleeps = [int(line.split()[1]) for line in log.read_text().splitlines() if line.startswith("sleep")]
    assert sleeps == [5, 10, 20, 40, 40]
    assert "exam ended with exit 5" in proc.stderr and "next try in 40 s" in proc.stderr


def test_entrypoint_waits_for_a_fixed_config_after_a_config_error(sandbox) -> None:
    env, log, config = sandbox
    proc = entrypoint(env, CODES="2,0", FETAL_EDGE_MAX_EXAMS="2", FETAL_EDGE_POLL_S="1", TOUCH_ON_SLEEP=str(config))
    assert proc.returncode == 0
    assert "does not fix itself" in proc.stderr and "changed; starting again" in proc.stderr
    assert log.read_text().count("fetal-edge run") == 2


def test_scripts_parse_and_pass_shellcheck() -> None:
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT)]).returncode == 0
    assert subprocess.run(["bash", "-n", str(SMOKE)]).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    proc = subprocess.run(["shellcheck", str(ENTRYPOINT), str(SMOKE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def smoke(tmp_path: Path, release: str, model: str, runtime: str = "nvidia", *args: str,
          docker_body: str | None = None) -> subprocess.CompletedProcess:
    (tmp_path / "rel").write_text(release)
    (tmp_path / "model").write_bytes(model.encode() + b"\0")
    stub(tmp_path, "docker", docker_body or f'[ "$1" = info ] && echo {runtime}\nexit 0\n')
    env = {**os.environ, "NV_TEGRA_RELEASE": str(tmp_path / "rel"), "DT_MODEL": str(tmp_path / "model"),
           "DOCKER": str(tmp_path / "docker")}
    return subprocess.run(["bash", str(SMOKE), *args], env=env, capture_output=True, text=True, timeout=60)


R36_4 = "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan 8 2025\n"


@pytest.mark.parametrize("release, base, line", [
    (R36_4, "r36.4.0", "JetPack 6.1/6.2 (Python 3.10, TensorRT 10.3, CUDA 12.6)"),
    ("# R36 (release), REVISION: 3.0, GCID: 1, BOARD: generic\n", "r36.3.0", "JetPack 6.0 (Python 3.10"),
    ("# R35 (release), REVISION: 4.1, GCID: 1, BOARD: t186ref\n", "r35.4.1", "JetPack 5.1.x (Python 3.8"),
])
def test_smoke_dry_run_reads_jetpack_board_and_docker(tmp_path: Path, release: str, base: str, line: str) -> None:
    proc = smoke(tmp_path, release, "NVIDIA Jetson Orin Nano Developer Kit", "nvidia", "--dry-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert re.search(r"^PASS\s+jetpack\s+.*" + re.escape(line), out, re.M)
    assert re.search(r"^PASS\s+board\s+.*orin-nano-8gb.yaml", out, re.M)
    assert re.search(r"^PASS\s+docker\s+default runtime nvidia", out, re.M)
    assert f"BASE=nvcr.io/nvidia/l4t-jetpack:{base}" in out and "3 passed, 0 failed" in out


def test_smoke_refuses_the_nano_and_a_docker_without_the_nvidia_default(tmp_path: Path) -> None:
    proc = smoke(tmp_path, "# R32 (release), REVISION: 7.1, GCID: 1\n", "NVIDIA Jetson Nano Developer Kit", "runc",
                 "--dry-run")
    assert proc.returncode == 1
    assert re.search(r"^FAIL\s+jetpack\s+.*JetPack 4.6: not supported", proc.stdout, re.M)
    assert re.search(r"^FAIL\s+docker\s+.*default-runtime.*nvidia.*daemon.json", proc.stdout, re.M)


def test_smoke_full_run_reports_engines_trtexec_and_fps(tmp_path: Path) -> None:
    """The non-dry path, with a stand-in `docker` answering as the image would (build-engines JSON, trtexec's
    timing line, the demo's fps line)."""
    engines = ('{"status": "ok", "engines": ['
               '{"model": "head-seg", "precision": "fp16", "action": "built", "fallback_from": "int8", '
               '"reason": "int8 build failed: X", "engine": "/var/lib/fetal-edge/engines/h.engine"}, '
               '{"model": "plane-cls", "precision": "int8", "action": "built", "fallback_from": null, '
               '"reason": "no engine built yet", "engine": "/var/lib/fetal-edge/engines/p.engine"}]}')
    body = f'''case "$*" in
  info*) echo nvidia ;;
  build*) exit 0 ;;
  *build-engines*) echo '{engines}' ;;
  *trtexec*) echo "[I] GPU Compute Time: min = 0.41 ms, max = 0.9 ms, mean = 0.52 ms, median = 0.5 ms" ;;
  *demo*) echo "fetal-edge demo: 600 frames from synthetic in 2.1 s (286 fps analysed), complete" ;;
esac
'''
    proc = smoke(tmp_path, R36_4, "NVIDIA Jetson AGX Orin Developer Kit", docker_body=body)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"^PASS\s+board\s+.*agx-orin.yaml", out, re.M)
    assert re.search(r"^PASS\s+engine head-seg\s+fp16 \(built, fallback from int8: int8 build failed: X\)", out, re.M)
    assert re.search(r"^PASS\s+trtexec plane-cls\s+engine loads; GPU compute mean 0.52 ms", out, re.M)
    assert re.search(r"^PASS\s+demo\s+286 frames/s analysed", out, re.M)
    assert "9 passed, 0 failed" in out
