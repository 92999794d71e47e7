"""conda-store-jupyter: conda-store's environment management as a Jupyter Server extension.

Imports here stay lazy: `python -m conda_store_jupyter.testing.channel` and the CLI must not pay
for importing Jupyter Server.
"""

try:
    from ._version import __version__
except ImportError:  # a source tree that was never installed
    __version__ = "0.0.0.dev0"

LABEXTENSION_NAME = "@conda-store-jupyter/labextension"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": LABEXTENSION_NAME}]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .app import CondaStoreApp

    return [{"module": "conda_store_jupyter", "app": CondaStoreApp}]
