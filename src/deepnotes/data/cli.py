"""``deepnotes augment``: draw an image under each augmentation of ``deepnotes.data.transforms``, several
random draws each, as a PNG grid (see :mod:`deepnotes.data.gallery`).

    deepnotes augment --out gallery.png
    deepnotes augment --dataset shapes --transform RandomAffine RandomErasing --draws 6 --out boxes.png
"""

from __future__ import annotations

import argparse
import os

from ..errors import UserError

__all__ = ["register"]


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--draws must be an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--draws must be positive, got {value}")
    return value


def register(sub):
    from .gallery import DATASETS, GALLERY_TRANSFORMS

    p = sub.add_parser(
        "augment",
        help="draw an image under each augmentation (a PNG gallery)",
        description="Draw one image under each transform of deepnotes.data.transforms, several random "
        "draws each, as a PNG grid (the original in the first row).  With --dataset shapes the image is a "
        "detection sample and its boxes are drawn, moved by every geometric transform.  Needs matplotlib "
        "(pip install 'deepnotes[plot]').",
    )
    p.add_argument("--dataset", default="digits", choices=DATASETS, help="image source (default digits)")
    p.add_argument(
        "--transform",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"transforms to show (default all): {', '.join(GALLERY_TRANSFORMS)}",
    )
    p.add_argument("--draws", type=_positive_int, default=4, metavar="K", help="random draws per transform (default 4)")
    p.add_argument("--seed", type=int, default=0, help="random seed; each row is drawn from it (default 0)")
    p.add_argument("--index", type=int, default=0, help="which image of the data set (default 0)")
    p.add_argument("--out", required=True, metavar="PNG", help="where to write the gallery")
    p.set_defaults(func=cmd_augment)


def cmd_augment(args):
    from .gallery import resolve_transforms, save_gallery

    names = resolve_transforms(args.transform)  # bad names fail before any work
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise UserError(f"--out {args.out}: the folder {folder} does not exist")
    source, n_rows = save_gallery(args.out, args.dataset, names, args.draws, args.seed, args.index)
    print(f"{n_rows} transforms x {args.draws} draws of an image from {source}: {args.out}")
    return 0
