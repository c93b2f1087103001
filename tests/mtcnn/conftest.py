import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def params():
    from jaxcnn.mtcnn import default_params

    return default_params()


@pytest.fixture(scope="session")
def photo_reference():
    return json.loads((DATA / "facenet_pytorch_mtcnn_reference.json").read_text())


@pytest.fixture(scope="session")
def nms_reference():
    path = DATA / "facenet_pytorch_nms_convention_reference.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def lfw_reference():
    return json.loads((DATA / "lfw_subset_reference.json").read_text())
