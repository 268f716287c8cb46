"""pytest set-up shared by the unit tests and the notebooks that nbval runs."""

import os

# The notebook kernels inherit this environment: tests run the quick profile, with the hub switched off.
os.environ.setdefault("FTLAB_PROFILE", "quick")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
