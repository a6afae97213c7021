import pytest
import torch

from actunlearn.data.catalog import load_omdb
from actunlearn.models.loading import seed_everything
from actunlearn.models.testbed import new_model, testbed_config
from actunlearn.models.tokenizer import build_tokenizer

TEXTS = [
    "Who directed Inception? Christopher Nolan",
    "Inception was released in 2010.",
    "If you liked The Prestige, watch Inception.",
    "What genre is Memento? Thriller",
    "I do not know",
]


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    seed_everything(0)


@pytest.fixture
def tokenizer():
    return build_tokenizer(TEXTS)


@pytest.fixture
def tiny_model(tokenizer):
    config = testbed_config(tokenizer, hidden_size=16, intermediate_size=24, num_layers=3,
                            num_heads=2)
    return new_model(config, seed=0).eval()


@pytest.fixture(scope="session")
def omdb():
    """The packaged OMDb sample, read once per session."""
    return load_omdb()
