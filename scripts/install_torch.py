"""Install the CPU build of torch into the running interpreter's environment (called by ``make install``).

    python scripts/install_torch.py 2.13.0

PyPI's Linux torch wheels are CUDA builds: ``libtorch.so`` links against cuDNN, cuBLAS, NCCL
and ten more NVIDIA libraries, so it cannot even be imported without about 2.2 GB of
``nvidia-*`` packages. The CPU build (``torch==X+cpu``) comes from a local wheel folder
(pip's ``find-links``, e.g. /opt/wheels) or from PyTorch's own CPU index, given as
``TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu``. Only when neither has one for
this Python is PyPI's CUDA build installed, and that is said loudly.
"""

from __future__ import annotations

import os
import subprocess
import sys


def pip(*args: str, quiet: bool = False) -> int:
    return subprocess.call([sys.executable, "-m", "pip", "install", "--quiet", *args],
                           stderr=subprocess.DEVNULL if quiet else None)


def main(version: str) -> int:
    index = os.environ.get("TORCH_INDEX_URL", "").strip()
    extra = ["--extra-index-url", index] if index else []
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    if pip("--only-binary=:all:", f"torch=={version}+cpu", *extra, quiet=True) == 0:
        print(f"torch {version}+cpu (CPU build) installed for {tag}", file=sys.stderr)
        return 0
    print(
        f"\n*** No CPU build of torch {version} for {tag} is reachable (not in pip's find-links"
        f"{', not on ' + index if index else ''}; PyPI has only the CUDA build).\n"
        f"*** Installing PyPI's torch {version} with its NVIDIA libraries (about 2.7 GB to download);\n"
        "*** it runs on the CPU all the same. To avoid that, give TORCH_INDEX_URL="
        "https://download.pytorch.org/whl/cpu\n", file=sys.stderr)
    return pip(f"torch=={version}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "2.13.0"))
