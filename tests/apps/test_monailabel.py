"""End to end: the real MONAI Label server (its own venv) serving unet3d bundles on 127.0.0.1.

Builds ``.venv-label`` (or ``$UNET3D_LABEL_VENV``) with ``scripts/setup_label_venv.sh`` when it
is missing (reused otherwise), starts ``monailabel start_server`` on a free loopback port with a
small datastore from the real data, calls ``/info/``, ``/infer/em``, ``/infer/hippocampus`` and a
short ``/train/em``, checks the masks, bad requests and the server's survival, and stops the
server. Bundles are copied to a temporary folder first, so training publishes its weights there,
not over the shipped ones.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT

# `-m 'not monailabel'` skips it (it builds a 7.7 GB venv on first use); CI runs it
pytestmark = [pytest.mark.monailabel, pytest.mark.slow]

# a DSB2018 fluorescence image (RGBA) with dozens of nuclei, some touching
NUCLEI_CASE = "0a7d30b252359a10fd298b638b90cb9ada3acced4e0c0e5a3692013f432ee4e9"
VENV = REPO_ROOT / os.environ.get("UNET3D_LABEL_VENV", ".venv-label")
STARTUP_S = 240
# the `monailabel` script runs whatever `python` comes first on PATH: call the venv's interpreter
MONAILABEL = [str(VENV / "bin/python"), "-m", "monailabel.main"]


@pytest.fixture(scope="module")
def label_venv() -> Path:
    res = subprocess.run(["bash", "scripts/setup_label_venv.sh"], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=1500)  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return VENV


def request(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None, timeout=600):
    """(status, body) of an HTTP request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, dict]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content) in files.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``monailabel start_server`` in its own process group; stopped (the whole group) on exit."""

    def __init__(self, app: Path, studies: Path, conf: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [*MONAILABEL, "start_server", "--app", str(app), "--studies", str(studies),
               "--host", "127.0.0.1", "--port", str(self.port)]  # fmt: skip
        for key, value in conf.items():
            cmd += ["--conf", key, value]
        env = {**os.environ, "MONAI_LABEL_DATASTORE_AUTO_RELOAD": "false", "MONAI_LABEL_TRACKING_ENABLED": "false"}
        self.log = log
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)  # fmt: skip

    def wait_ready(self) -> dict:
        deadline = time.time() + STARTUP_S
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-4000:]
            try:
                status, body = request(f"{self.url}/info/", timeout=10)
                if status == 200:
                    return json.loads(body)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(2)
        raise AssertionError(f"server not ready in {STARTUP_S} s:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def studies(data_dir, tmp_path_factory) -> Path:
    """Two EM slices with 0/1 membrane masks as labels (MONAI Label's convention), one MRI volume,
    one RGBA DSB2018 nuclei image."""
    root = tmp_path_factory.mktemp("studies")
    (root / "labels/final").mkdir(parents=True)
    for i in (0, 1):
        shutil.copy(data_dir / f"isbi2012/train/images/slice_{i:02d}.png", root / f"slice_{i:02d}.png")
        isbi = np.array(Image.open(data_dir / f"isbi2012/train/labels/slice_{i:02d}.png"))
        Image.fromarray((isbi == 0).astype(np.uint8)).save(root / f"labels/final/slice_{i:02d}.png")
    shutil.copy(data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz", root / "hippocampus_001.nii.gz")
    shutil.copy(data_dir / f"dsb2018_nuclei/{NUCLEI_CASE}/images/{NUCLEI_CASE}.png", root / "nuclei_01.png")
    return root


@pytest.fixture(scope="module")
def bundles_copy(tmp_path_factory, data_dir) -> Path:
    """The shipped bundles, and one that ``unet3d plan`` wrote for five hippocampus cases (its
    network is the shipped hippocampus network, so the shipped weights serve it)."""
    import yaml

    from unet3d.plan import plan

    root = tmp_path_factory.mktemp("bundles")
    for name in ("em", "hippocampus", "nuclei", "spleen_ct"):
        shutil.copytree(REPO_ROOT / "bundles" / name, root / name, symlinks=True,
                        ignore=shutil.ignore_patterns("runs", "eval"))  # fmt: skip
    task = tmp_path_factory.mktemp("task")
    for folder in ("imagesTr", "labelsTr"):
        (task / folder).mkdir()
        for i in (1, 3, 4, 6, 8):
            name = f"hippocampus_{i:03d}.nii.gz"
            shutil.copy(data_dir / "msd_hippocampus" / folder / name, task / folder / name)
    plan(task, root / "planned", name="planned hippocampus")
    planned, shipped = (
        yaml.safe_load((root / n / "configs/inference.yaml").read_text()) for n in ("planned", "hippocampus")
    )
    assert planned["network_def"] == shipped["network_def"]
    shutil.copy(root / "hippocampus/models/model.pt", root / "planned/models/model.pt")
    return root


def check_em_mask(body: bytes) -> np.ndarray:
    mask = np.array(Image.open(io.BytesIO(body)))
    assert mask.shape == (512, 512) and set(np.unique(mask)) <= {0, 1}, (mask.shape, np.unique(mask))
    assert 0.05 < mask.mean() < 0.5  # membranes: a minority of the pixels, but present
    return mask


def check_nuclei_ids(body: bytes, data_dir: Path) -> None:
    """One id per nucleus, in the image's own shape: most true nuclei found, as separate objects."""
    ids = np.array(Image.open(io.BytesIO(body))).astype(np.int64)
    truth = np.array(Image.open(data_dir / f"dsb2018_nuclei/{NUCLEI_CASE}/mask_instances_derived.png"))
    assert ids.shape == truth.shape, ids.shape
    assert 0.7 * truth.max() <= len(np.unique(ids)) - 1 <= 1.3 * truth.max(), (ids.max(), truth.max())


def check_hippocampus_mask(body: bytes, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred.nii.gz"
    out.write_bytes(body)
    mask, ref = nib.load(out), nib.load(source)
    assert mask.shape == ref.shape
    np.testing.assert_allclose(mask.affine, ref.affine, atol=1e-4)
    values = set(np.unique(np.asarray(mask.dataobj)).astype(int))
    assert values == {0, 1, 2}, values


@pytest.fixture(scope="module")
def own_server(label_venv, studies, bundles_copy, tmp_path_factory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "own.log"
    server = Server(REPO_ROOT / "apps/monailabel", studies, {"bundles": str(bundles_copy)}, log)
    try:
        server.info = server.wait_ready()  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_own_app_infers_trains_and_survives_bad_requests(own_server, studies, bundles_copy, tmp_path, data_dir):
    info = own_server.info  # type: ignore[attr-defined]
    assert {"em", "hippocampus"} <= set(info["models"]) and {"em", "hippocampus"} <= set(info["trainers"])
    assert info["models"]["em"]["dimension"] == 2 and info["models"]["hippocampus"]["dimension"] == 3
    assert info["models"]["nuclei"]["dimension"] == 2 and "nuclei" in info["trainers"]

    status, body = request(f"{own_server.url}/infer/em?image=slice_00&output=image", "POST")
    assert status == 200, body[:500]
    before = check_em_mask(body)
    status, body = request(f"{own_server.url}/infer/hippocampus?image=hippocampus_001&output=image", "POST")
    assert status == 200, body[:500]
    check_hippocampus_mask(body, studies / "hippocampus_001.nii.gz", tmp_path)
    status, body = request(f"{own_server.url}/infer/nuclei?image=nuclei_01&output=image", "POST")
    assert status == 200, body[:500]
    check_nuclei_ids(body, data_dir)
    # a bundle written by `unet3d plan` is served like the shipped ones
    assert "planned" in info["models"] and "planned" in info["trainers"]
    status, body = request(f"{own_server.url}/infer/planned?image=hippocampus_001&output=image", "POST")
    assert status == 200, body[:500]
    check_hippocampus_mask(body, studies / "hippocampus_001.nii.gz", tmp_path)

    # bad requests: clear HTTP errors, and the server keeps serving
    status, body = request(f"{own_server.url}/infer/nope?image=slice_00&output=image", "POST")
    assert status >= 400 and b"nope" in body, (status, body[:300])
    status, body = request(f"{own_server.url}/infer/em?image=no_such_image&output=image", "POST")
    assert status >= 400, (status, body[:300])
    data, headers = multipart({"params": "{}"}, {"file": ("broken.png", b"this is not a png")})
    status, body = request(f"{own_server.url}/infer/em?output=image", "POST", data, headers)
    assert status >= 400, (status, body[:300])
    # a bundle without trained weights is not offered for inference, and says how to train it
    assert "spleen_ct" not in info["models"] and "spleen_ct" in info["trainers"]
    status, body = request(f"{own_server.url}/infer/spleen_ct?image=hippocampus_001&output=image", "POST")
    assert status == 409 and b"no trained weights" in body and b"monai.bundle run training" in body, body[:300]
    assert request(f"{own_server.url}/info/")[0] == 200

    # a short fine-tuning on the datastore's labels; the next /infer uses the published weights
    weights = bundles_copy / "em/models/model.pt"
    stamp = weights.stat().st_mtime_ns
    params = {"max_epochs": 1, "samples_per_epoch": 2, "val_split": 0.5, "device": "cpu", "multi_gpu": False}
    status, body = request(f"{own_server.url}/train/em?run_sync=true", "POST", json.dumps(params).encode(),
                           {"Content-Type": "application/json"})  # fmt: skip
    assert status == 200, body[:1000]
    assert weights.stat().st_mtime_ns != stamp, "training did not publish models/model.pt"
    status, body = request(f"{own_server.url}/infer/em?image=slice_00&output=image", "POST")
    assert status == 200
    after = check_em_mask(body)
    assert not np.array_equal(before, after)  # new weights, new mask


@pytest.mark.slow
def test_stock_monaibundle_app_serves_both_bundles(label_venv, studies, bundles_copy, tmp_path):
    apps = tmp_path / "apps"
    res = subprocess.run([*MONAILABEL, "apps", "--download", "--name", "monaibundle", "--output",
                          str(apps)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    app = apps / "monaibundle"
    (app / "model").mkdir(exist_ok=True)
    for name in ("em", "hippocampus"):
        (app / "model" / name).symlink_to(bundles_copy / name)
    conf = {"models": "em,hippocampus", "zoo_source": "ngc", "sam2": "false", "skip_trainers": "true"}
    server = Server(app, studies, conf, tmp_path / "stock.log")
    try:
        info = server.wait_ready()
        assert {"em", "hippocampus"} <= set(info["models"])
        status, body = request(f"{server.url}/infer/em?image=slice_01&output=image", "POST")
        assert status == 200, body[:500]
        check_em_mask(body)
        status, body = request(f"{server.url}/infer/hippocampus?image=hippocampus_001&output=image", "POST")
        assert status == 200, body[:500]
        check_hippocampus_mask(body, studies / "hippocampus_001.nii.gz", tmp_path)
    finally:
        server.stop()
