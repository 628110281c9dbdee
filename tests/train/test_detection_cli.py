"""``deepnotes detect train`` / ``eval``: a tiny run writes a checkpoint that ``eval`` scores again with the
same numbers; a checkpoint that is not a detector's is refused by name."""

import pytest

import deepnotes as dn
from deepnotes.cli import main


def _stats(text):
    rows = [line.split() for line in text.splitlines() if line.startswith("  AP") or line.startswith("  AR")]
    return {r[0]: float(r[1]) for r in rows}


@pytest.mark.slow
def test_detect_train_then_eval(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["detect", "train", "--steps", "2", "--batch-size", "2", "--train-images", "4", "--val-images", "3"]
        + ["--out", str(out)]
    )
    assert code == 0
    trained = capsys.readouterr().out
    assert "checkpoint" in trained and (out / "checkpoint.safetensors").exists()
    ckpt = dn.load(str(out / "checkpoint.safetensors"))
    assert ckpt["model"] == "retinanet_small" and ckpt["num_classes"] == 6
    assert main(["detect", "eval", str(out / "checkpoint.safetensors"), "--val-images", "3"]) == 0
    scored = capsys.readouterr().out
    first, again = _stats(trained), _stats(scored)
    assert len(first) == 12 and first == again


def test_detect_eval_refuses_other_checkpoints(tmp_path):
    path = tmp_path / "other.safetensors"
    dn.save({"weights": dn.zeros(3)}, str(path))
    with pytest.raises(SystemExit, match="not a checkpoint of 'deepnotes detect train'"):
        main(["detect", "eval", str(path)])
