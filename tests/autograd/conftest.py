"""tests/nn: torch runs single-threaded here; its thread pool on a shared 2-core machine makes tiny
reference ops take hundreds of milliseconds."""

import torch

torch.set_num_threads(1)
