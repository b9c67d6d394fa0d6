"""bio-gitops: the Python package behind `tasks.py` (Invoke) and `noxfile.py` (Nox).

Run things through the task runner, e.g. `invoke tools.install` or `invoke bootstrap --env dev`.
"""

__version__ = "0.1.0"
