"""Write the tiny COCO files the README's detection example reads: examples/data/instances_val.json
(ground truth) and examples/data/detections.json (results in the COCO results format).

Four 320x240 images, three categories, 2-4 ground-truth boxes per image (one marked ``iscrowd``).
Each ground-truth box is detected with probability 0.8 as a jittered copy (score 0.5..0.99, the
jitter grows as the score falls, so the higher IoU thresholds miss some); each image also gets one
false positive with a low score. Everything follows from ``numpy.random.default_rng(SEED)``; numbers
are rounded to two decimals so the files stay readable.

Run from the repository root:  python tools/make_example_coco.py
"""

import json
import os

import numpy as np

SEED = 7
WIDTH, HEIGHT = 320, 240
N_IMAGES = 4
CATEGORIES = [
    {"id": 1, "name": "digit", "supercategory": "symbol"},
    {"id": 2, "name": "letter", "supercategory": "symbol"},
    {"id": 3, "name": "shape", "supercategory": "figure"},
]
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "data")


def random_box(rng):
    """An [x, y, w, h] box inside the image, 8..120 pixels a side."""
    w, h = rng.uniform(8, 120, size=2)
    x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
    return [x, y, w, h]


def clip_box(x, y, w, h):
    x0, y0 = max(x, 0.0), max(y, 0.0)
    x1, y1 = min(x + w, WIDTH), min(y + h, HEIGHT)
    return [x0, y0, x1 - x0, y1 - y0]


def rounded(box):
    return [round(float(v), 2) for v in box]


def make(rng):
    images, annotations, detections = [], [], []
    for image_id in range(1, N_IMAGES + 1):
        images.append({"id": image_id, "file_name": f"{image_id:06d}.png", "width": WIDTH, "height": HEIGHT})
        for _ in range(rng.integers(2, 5)):
            box = rounded(random_box(rng))
            category = int(rng.integers(1, len(CATEGORIES) + 1))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "bbox": box,
                    "area": round(box[2] * box[3], 2),
                    "iscrowd": int(len(annotations) == 5),
                }
            )
            if rng.random() < 0.8:
                score = rng.uniform(0.5, 0.99)
                jitter = (1.05 - score) * 0.4 * np.array([box[2], box[3], box[2], box[3]])
                x, y, w, h = np.array(box) + rng.uniform(-1, 1, size=4) * jitter
                detections.append(
                    {
                        "image_id": image_id,
                        "category_id": category,
                        "bbox": rounded(clip_box(x, y, max(w, 2.0), max(h, 2.0))),
                        "score": round(float(score), 3),
                    }
                )
        detections.append(
            {
                "image_id": image_id,
                "category_id": int(rng.integers(1, len(CATEGORIES) + 1)),
                "bbox": rounded(random_box(rng)),
                "score": round(float(rng.uniform(0.05, 0.6)), 3),
            }
        )
    gt = {
        "info": {"description": "deepnotes README example (synthetic)"},
        "images": images,
        "annotations": annotations,
        "categories": CATEGORIES,
    }
    return gt, detections


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main():
    gt, detections = make(np.random.default_rng(SEED))
    os.makedirs(OUT, exist_ok=True)
    write_json(os.path.join(OUT, "instances_val.json"), gt)
    write_json(os.path.join(OUT, "detections.json"), detections)
    print(f"{len(gt['images'])} images, {len(gt['annotations'])} boxes, {len(detections)} detections -> {OUT}")


if __name__ == "__main__":
    main()
