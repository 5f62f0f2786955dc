import pytest

from experiments.serving import running_experiments_forget


@pytest.fixture(autouse=True)
def fresh_serving_snapshot():
    """Each test starts without another test's running experiments cached in the process."""
    running_experiments_forget()
    yield
    running_experiments_forget()
