"""deepnotes.rl loads lazily from ``import deepnotes`` and needs only NumPy (no gymnasium, no torch)."""

import json
import subprocess
import sys

import numpy as np


def test_rl_is_lazy_and_runs_without_gymnasium_or_torch():
    code = (
        "import sys, json\n"
        "sys.modules['gymnasium'] = None; sys.modules['torch'] = None  # importing either now fails\n"
        "import deepnotes as dn\n"
        "before = 'deepnotes.rl' in sys.modules\n"
        "env = dn.rl.CartPole(); obs, _ = env.reset(seed=0); obs, r, *_ = env.step(1)\n"
        "agent = dn.rl.DQNAgent(4, 2, seed=0)\n"
        "print(json.dumps([before, 'rl' in dir(dn), obs.tolist(), r, agent.act(obs, greedy=True) in (0, 1)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, listed, obs, reward, acted = json.loads(out.stdout.strip().splitlines()[-1])
    assert before is False and listed is True and reward == 1.0 and acted is True
    assert np.array(obs, dtype=np.float32).shape == (4,)
