# Installs bvjax when it is not importable (a fresh Colab runtime); otherwise does nothing.
# BVJAX_WHEEL names another pip target: a wheel built by `make wheel`, or the repository.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("bvjax") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    os.environ.get("BVJAX_WHEEL", "bvjax")], check=True)
    importlib.invalidate_caches()
