"""The project's data fixtures (real data from $FETAL_EDGE_DATA or ../shared/data), for research tests too."""

from tests.conftest import data_dir, hc18_dir, planes_dir  # noqa: F401
