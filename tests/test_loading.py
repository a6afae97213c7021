"""Torch setup: every model-reading job starts deterministic and seeded, without importing more
than it needs."""

import subprocess
import sys

CHECK = """
import sys, torch
from actunlearn.models.loading import setup_torch
{before}
setup_torch(1, 0)
assert torch.are_deterministic_algorithms_enabled()
assert torch.is_deterministic_algorithms_warn_only_enabled()
assert torch.get_num_threads() == 1
print("inductor" if "torch._inductor.config" in sys.modules else "no inductor")
"""


def _run(before: str = "", after: str = "") -> str:
    done = subprocess.run([sys.executable, "-c", CHECK.format(before=before) + after],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_setup_torch_is_deterministic_without_importing_inductor():
    assert _run() == "no inductor"


def test_setup_torch_sets_the_compile_flag_when_inductor_is_loaded():
    before = "import torch._inductor.config as c; c.deterministic = False"
    after = "assert c.deterministic, 'torch.compile left non-deterministic'"
    assert _run(before, after) == "inductor"
