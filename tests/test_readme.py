"""The README's Python examples run as written: every ```python block, in order, in one fresh namespace,
from a scratch working directory where ``examples/`` is the repository's (the README's paths are
relative to the repository root). Also: the example COCO files are what their generator writes, and
the evaluator the README shows agrees with pycocotools on them."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLE_DATA = ROOT / "examples" / "data"


def python_blocks(text):
    return re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", text, flags=re.S | re.M)


def test_python_blocks_are_found():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 4
    assert all(b.strip() for b in blocks)


@pytest.mark.slow
def test_readme_python_blocks_run_in_order(tmp_path, monkeypatch):
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for i, block in enumerate(blocks, 1):
        code = compile(block, f"README.md python block {i}", "exec")
        exec(code, namespace)  # an error here names the block in its traceback
    # the training snippets leave their run behind in the scratch directory, not in the repository
    assert (tmp_path / "runs" / "history.csv").is_file()
    assert (tmp_path / "runs" / "ckpt.safetensors").is_file()


def load_generator():
    spec = importlib.util.spec_from_file_location("make_example_coco", ROOT / "tools" / "make_example_coco.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_coco_files_match_their_generator():
    gen = load_generator()
    gt, detections = gen.make(np.random.default_rng(gen.SEED))
    # a JSON round trip turns tuples and NumPy scalars into what the committed files hold
    assert json.loads(json.dumps(gt)) == json.loads((EXAMPLE_DATA / "instances_val.json").read_text())
    assert json.loads(json.dumps(detections)) == json.loads((EXAMPLE_DATA / "detections.json").read_text())


def test_example_coco_files_evaluate_as_pycocotools(capsys):
    from pycocotools.coco import COCO as RefCOCO
    from pycocotools.cocoeval import COCOeval as RefCOCOeval

    from deepnotes.detection.coco import COCO, COCOeval

    gt_file, dt_file = str(EXAMPLE_DATA / "instances_val.json"), str(EXAMPLE_DATA / "detections.json")
    ref_gt = RefCOCO(gt_file)
    ref = RefCOCOeval(ref_gt, ref_gt.loadRes(dt_file), "bbox")
    ref.evaluate()
    ref.accumulate()
    ref.summarize()
    gt = COCO(gt_file)
    ev = COCOeval(gt, gt.loadRes(dt_file), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    np.testing.assert_allclose(ev.stats, ref.stats, rtol=0, atol=1e-12)
    assert (ref.stats[:6] > 0).all()  # every AP line is exercised: small, medium and large boxes
