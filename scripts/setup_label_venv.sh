#!/usr/bin/env bash
# Create (or reuse) .venv-label: MONAI Label 0.8.5 with unet3d importable, in its own environment.
#
# `pip install monailabel==0.8.5` cannot share unet3d's environment: it replaces the CPU torch by a
# CUDA build (through its torchvision pin) and its dependency pydicom-seg needs pydicom 2, while
# highdicom (unet3d's DICOM SEG writer) needs pydicom 3. So MONAI Label gets its own venv:
# torch==2.14.1 + torchvision==0.29.1 (MONAI Label imports torchvision, and the registry has no
# torchvision for the local CPU torch 2.13.0; this pair runs on the CPU too), monailabel without its
# dependency list, then the dependencies the server and the monaibundle app import, pinned, with
# pydicom < 3 and MONAI 1.5.1 (MONAI 1.6's Spacingd updates every `image_*` key as a meta dict,
# and MONAI Label puts the string `image_path` there); unet3d is installed without highdicom
# (imported only when writing DICOM SEG, which MONAI Label does not).
# Reruns reuse the venv; `rm -rf .venv-label` rebuilds it. UNET3D_LABEL_VENV puts it elsewhere
# (a cache shared between clones, say); the project is re-linked into it on every run.
# One build at a time: .ci/run starts one in the background while the other tests run, and the
# MONAI Label tests' own call waits here for it to finish, then reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${UNET3D_LABEL_VENV:-.venv-label}"
exec 9>"$venv.lock"
flock 9
if [ -f "$venv/.complete" ] && "$venv/bin/python" -c "import monailabel, unet3d" 2>/dev/null; then
    "$venv/bin/python" -m pip install -q --no-deps -e .  # the project may have changed; deps have not
    exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
pip="$venv/bin/python -m pip install -q"
$pip --upgrade pip
$pip "torch==2.14.1" "torchvision==0.29.1"
$pip --no-deps "monailabel==0.8.5"
$pip "monai==1.5.1" "fire" "nibabel" "scikit-image" "tensorboard" "tqdm" "pillow" "psutil" \
    "uvicorn==0.32.1" "fastapi==0.115.6" "pydantic==2.10.3" "pydantic-settings==2.7.0" "python-dotenv==1.0.1" \
    "python-multipart==0.0.19" "httpx==0.28.1" "schedule==1.2.2" "timeloop==1.0.2" "expiringdict==1.2.2" \
    "expiring_dict==1.1.0" "cachetools==5.5.0" "watchdog==6.0.0" "pydicom==2.4.4" "pydicom-seg==0.4.1" \
    "pynetdicom==2.1.1" "pynrrd==1.1.1" "dicomweb-client==0.60.1" "einops==0.8.0" "filelock==3.16.1" \
    "passlib==1.7.4" "pyjwt==2.10.1" "bcrypt==4.2.1" "shapely==2.0.6" "requests==2.32.3" \
    "requests-toolbelt==1.0.0" "scikit-learn==1.6.0" "scipy" "pyyaml" "SimpleITK" "numpymaxflow==0.0.7" \
    "itk==5.4.7" "girder-client==3.2.5" "ninja" "google-auth==2.37.0" "pytorch-ignite==0.5.5" "jsonschema" \
    "setuptools<81"  # monailabel imports pkg_resources, gone from setuptools 81
$pip --no-deps -e .
"$venv/bin/python" -c "import monailabel, monailabel.interfaces.app, unet3d.networks, unet3d.bundle; print('monailabel', monailabel.__version__)"  # what the server imports
touch "$venv/.complete"
