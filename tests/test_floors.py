"""The house's floors: the ground floor imports without torch, and ``import mbl_seg`` is cheap."""

import subprocess
import sys

import pytest

GROUND_FLOOR = ("data", "io", "targets", "segment", "evaluate", "features", "errors", "lsd",
                "lsd_quality", "operating_point", "rag", "agglomeration", "graphdb", "zendo", "roi", "scoring",
                "supervoxels", "_cuts", "own_data",
                "hosted")

BLOCK_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch blocked for this test")
sys.meta_path.insert(0, Block())
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("module", GROUND_FLOOR)
def test_ground_floor_imports_without_torch(module):
    done = _run(BLOCK_TORCH + f"import mbl_seg.{module}\nprint('ok')")
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


@pytest.mark.parametrize("statement", ["import mbl_seg", "from mbl_seg import evaluate"])
def test_importing_the_package_loads_no_heavy_library(statement):
    done = _run(f"import sys\n{statement}\n"
                "print(sorted(m for m in ('torch', 'numba', 'matplotlib') if m in sys.modules))")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"{statement} loaded {done.stdout.strip()}"


def test_sub_modules_still_reachable_as_attributes():
    done = _run("import mbl_seg\nprint(mbl_seg.evaluate.__name__, mbl_seg.data.__name__, "
                "'viz' in dir(mbl_seg))")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["mbl_seg.evaluate", "mbl_seg.data", "True"]
    missing = _run("import mbl_seg\nmbl_seg.nonexistent")
    assert missing.returncode != 0 and "AttributeError" in missing.stderr
