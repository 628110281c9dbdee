"""The COCO annotation API: load, validate and index a COCO-format data set or result list.

``COCO`` mirrors ``pycocotools.coco.COCO`` (same constructor, attributes and getters) and adds two
things the evaluator needs:

* strict validation: a malformed record raises ``ValueError`` naming the record index and field,
  never a bare ``KeyError``/``AssertionError`` deep inside the evaluation;
* a columnar copy of the annotations (``COCO.table``: NumPy arrays of ids, boxes, areas, crowd flags
  and scores) built once, so :class:`~deepnotes.detection.coco.COCOeval` never walks the dicts.

Bounding boxes are ``[x, y, w, h]`` (top-left corner, width, height) with ``w, h >= 0``.
"""

from __future__ import annotations

import copy
import itertools
import numbers
import os
import warnings
from collections import defaultdict

import numpy as np

from ...io import read_json

__all__ = ["COCO", "AnnotationTable"]


def _is_array_like(obj):
    return hasattr(obj, "__iter__") and hasattr(obj, "__len__")


def _as_list(obj):
    """pycocotools' filter convention: a scalar filter value means a one-element list."""
    return obj if _is_array_like(obj) else [obj]


def _is_int(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value):
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


class AnnotationTable:
    """Columnar view of a list of COCO annotations (one row per annotation, in list order).

    Attributes (all 1-D of length N unless noted):
        ids, image_ids, category_ids: int64.
        bbox: float64 array of shape (N, 4), ``[x, y, w, h]``.
        area: float64; the annotation's ``area`` field (ground truth) or ``w * h`` (results).
        iscrowd: bool.
        score: float64 or ``None`` when the annotations carry no scores (ground truth).
    """

    __slots__ = ("ids", "image_ids", "category_ids", "bbox", "area", "iscrowd", "score")

    def __init__(self, ids, image_ids, category_ids, bbox, area, iscrowd, score=None):
        self.ids = ids
        self.image_ids = image_ids
        self.category_ids = category_ids
        self.bbox = bbox
        self.area = area
        self.iscrowd = iscrowd
        self.score = score

    def __len__(self):
        return int(self.ids.shape[0])

    @classmethod
    def empty(cls, with_score=False):
        z = np.zeros(0, dtype=np.int64)
        return cls(
            z,
            z.copy(),
            z.copy(),
            np.zeros((0, 4)),
            np.zeros(0),
            np.zeros(0, dtype=bool),
            np.zeros(0) if with_score else None,
        )


def _fail(where, kind, index, message):
    raise ValueError(f"{where}: {kind} {index} {message}")


def _check_records(where, kind, records):
    if not isinstance(records, list):
        raise ValueError(f"{where}: '{kind}s' must be a list of objects, got {type(records).__name__}")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            _fail(where, kind, i, f"must be a JSON object (dict), got {type(rec).__name__}")


def _int_column(where, kind, records, field, required=True, default=0):
    """Extract an integer field from every record as int64, naming the first bad record."""
    try:
        values = [rec[field] for rec in records] if required else [rec.get(field, default) for rec in records]
    except KeyError:
        for i, rec in enumerate(records):
            if field not in rec:
                _fail(where, kind, i, f"is missing the required field '{field}'")
        raise  # pragma: no cover - the loop above always finds the record
    arr = np.asarray(values) if values else np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        for i, v in enumerate(values):
            if not _is_int(v):
                _fail(where, kind, i, f"field '{field}' must be an integer, got {v!r} ({type(v).__name__})")
    return arr.astype(np.int64, copy=False)


def _bbox_column(where, kind, records):
    try:
        boxes = [rec["bbox"] for rec in records]
    except KeyError:
        for i, rec in enumerate(records):
            if "bbox" not in rec:
                _fail(where, kind, i, "is missing the required field 'bbox' ([x, y, w, h])")
        raise  # pragma: no cover
    if not boxes:
        return np.zeros((0, 4))
    try:
        arr = np.asarray(boxes)
        ok = arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "iuf"
    except (TypeError, ValueError):
        ok = False
    if not ok:
        for i, b in enumerate(boxes):
            if not _is_array_like(b) or isinstance(b, (str, dict)) or len(b) != 4 or not all(_is_number(v) for v in b):
                _fail(where, kind, i, f"field 'bbox' must be 4 numbers [x, y, w, h], got {b!r}")
        raise ValueError(f"{where}: field 'bbox' must hold 4 numbers [x, y, w, h] per {kind}")  # pragma: no cover
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        _fail(where, kind, i, f"field 'bbox' must be finite, got {boxes[i]!r}")
    for col, name in ((2, "width"), (3, "height")):
        neg = arr[:, col] < 0
        if neg.any():
            i = int(np.argmax(neg))
            _fail(
                where,
                kind,
                i,
                f"field 'bbox' has negative {name} {arr[i, col]!r} (expected [x, y, w, h] with w, h >= 0)",
            )
    return arr


def _float_column(where, kind, records, field, default=None, finite=True):
    if default is None:
        try:
            values = [rec[field] for rec in records]
        except KeyError:
            for i, rec in enumerate(records):
                if field not in rec:
                    _fail(where, kind, i, f"is missing the required field '{field}'")
            raise  # pragma: no cover
    else:
        values = [rec.get(field, d) for rec, d in zip(records, default)]
    if not values:
        return np.zeros(0)
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        for i, v in enumerate(values):
            if not _is_number(v):
                _fail(where, kind, i, f"field '{field}' must be a number, got {v!r} ({type(v).__name__})")
    arr = arr.astype(np.float64)
    if finite:
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.argmax(bad))
            _fail(where, kind, i, f"field '{field}' must be a finite number, got {values[i]!r}")
    return arr


def _crowd_column(where, kind, records):
    values = [rec.get("iscrowd", 0) for rec in records]
    if not values:
        return np.zeros(0, dtype=bool)
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in "biu" or not np.isin(arr, (0, 1)).all():
        for i, v in enumerate(values):
            if v not in (0, 1) or not isinstance(v, (numbers.Integral, np.integer, np.bool_)):
                _fail(where, kind, i, f"field 'iscrowd' must be 0 or 1, got {v!r}")
    return arr.astype(bool)


def _unique_ids(where, kind, ids):
    if ids.size:
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1][0]
            i = int(np.flatnonzero(ids == dup)[1])
            _fail(where, kind, i, f"repeats the id {int(dup)} (ids must be unique)")


def build_table(annotations, where="COCO", kind="annotation", need_score=False, area_default=True):
    """Validate a list of annotation dicts and return its :class:`AnnotationTable`.

    Required fields: ``id``, ``image_id``, ``category_id`` (integers) and ``bbox`` (4 finite numbers,
    ``w, h >= 0``); ``score`` too when ``need_score``.  Optional: ``area`` (number; defaults to
    ``w * h``), ``iscrowd`` (0/1; defaults to 0).  Raises ``ValueError`` naming the first bad record.
    """
    _check_records(where, kind, annotations)
    ids = _int_column(where, kind, annotations, "id")
    image_ids = _int_column(where, kind, annotations, "image_id")
    category_ids = _int_column(where, kind, annotations, "category_id")
    bbox = _bbox_column(where, kind, annotations)
    wh = bbox[:, 2] * bbox[:, 3]
    if area_default:
        area = _float_column(where, kind, annotations, "area", default=wh.tolist())
    else:
        area = wh
    iscrowd = _crowd_column(where, kind, annotations)
    score = _float_column(where, kind, annotations, "score") if need_score else None
    if score is None and annotations and "score" in annotations[0]:
        score = _float_column(where, kind, annotations, "score")
    _unique_ids(where, kind, ids)
    return AnnotationTable(ids, image_ids, category_ids, bbox, area, iscrowd, score)


class COCO:
    """COCO data set API (drop-in for ``pycocotools.coco.COCO``, boxes only).

    Args:
        annotation_file: ``None`` (an empty object, as ``loadRes`` uses), a path to a COCO JSON file,
            or an already-loaded ``dict`` with the keys ``images``, ``annotations``, ``categories``
            (each a list; a missing key means an empty list).

    Attributes (as in pycocotools): ``dataset``, ``anns``, ``imgs``, ``cats`` (id -> record),
    ``imgToAnns`` (image id -> list of annotations), ``catToImgs`` (category id -> list of image ids),
    plus ``table``, the :class:`AnnotationTable` of ``dataset['annotations']``.

    Differences from pycocotools (all stricter or more forgiving where pycocotools fails):
        * a malformed file or record raises ``ValueError`` naming the record index and field
          (missing keys, wrong types, non-finite numbers, a box with negative width/height,
          duplicate ids, a file that is not JSON or nests lists/objects more than 100 levels deep);
        * ``iscrowd`` defaults to 0 and ``area`` to ``w * h`` when absent (pycocotools' evaluator
          raises ``KeyError``);
        * ``loadRes`` accepts an empty result list with a warning (pycocotools raises ``IndexError``),
          warns about results whose category is not in the ground truth, rejects NaN or
          infinite scores, does not modify the caller's dicts and does not invent polygon
          ``segmentation`` fields.
    """

    def __init__(self, annotation_file=None):
        self.dataset, self.anns, self.cats, self.imgs = {}, {}, {}, {}
        self.imgToAnns, self.catToImgs = defaultdict(list), defaultdict(list)
        self.table = AnnotationTable.empty()
        if annotation_file is None:
            return
        if isinstance(annotation_file, dict):
            dataset = annotation_file
        elif isinstance(annotation_file, (str, bytes, os.PathLike)):
            dataset = read_json(annotation_file, "COCO")
            if not isinstance(dataset, dict):
                raise ValueError(
                    f"COCO: {os.fspath(annotation_file)!r} holds a JSON {type(dataset).__name__}; "
                    f"expected an object with 'images', 'annotations' and 'categories'"
                )
        else:
            raise TypeError(
                f"COCO: annotation_file must be None, a path or a dict, got {type(annotation_file).__name__}"
            )
        self.dataset = dataset
        self.createIndex()

    # ------------------------------------------------------------------ index
    def createIndex(self, _need_score=False, _where="COCO"):
        """(Re)build the id indexes and the annotation table from ``self.dataset``."""
        ds = self.dataset
        if not isinstance(ds, dict):
            raise ValueError(f"{_where}: the data set must be a dict, got {type(ds).__name__}")
        for key in ("images", "categories", "annotations"):
            if key in ds:
                _check_records(_where, key[:-1], ds[key])
        images = ds.get("images", [])
        categories = ds.get("categories", [])
        annotations = ds.get("annotations", [])
        img_ids = _int_column(_where, "image", images, "id")
        _unique_ids(_where, "image", img_ids)
        cat_ids = _int_column(_where, "category", categories, "id")
        _unique_ids(_where, "category", cat_ids)
        table = build_table(annotations, _where, "annotation", need_score=_need_score)

        anns = dict(zip(table.ids.tolist(), annotations))
        imgToAnns = defaultdict(list)
        for img_id, ann in zip(table.image_ids.tolist(), annotations):
            imgToAnns[img_id].append(ann)
        catToImgs = defaultdict(list)
        if "categories" in ds:
            for cat_id, img_id in zip(table.category_ids.tolist(), table.image_ids.tolist()):
                catToImgs[cat_id].append(img_id)
        self.anns = anns
        self.imgToAnns = imgToAnns
        self.catToImgs = catToImgs
        self.imgs = dict(zip(img_ids.tolist(), images))
        self.cats = dict(zip(cat_ids.tolist(), categories))
        self.table = table

    def info(self):
        """Print the data set's ``info`` block."""
        for key, value in self.dataset.get("info", {}).items():
            print(f"{key}: {value}")

    # ---------------------------------------------------------------- getters
    def getAnnIds(self, imgIds=[], catIds=[], areaRng=[], iscrowd=None):  # noqa: B006 - pycocotools signature
        """Ids of annotations passing every given filter (an empty filter is skipped).

        ``areaRng=[lo, hi]`` keeps ``lo < area < hi`` (strict, as pycocotools); ``iscrowd`` keeps
        annotations whose flag equals it.
        """
        imgIds, catIds = _as_list(imgIds), _as_list(catIds)
        if len(imgIds) == len(catIds) == len(areaRng) == 0:
            anns = self.dataset.get("annotations", [])
        else:
            if len(imgIds) != 0:
                anns = list(itertools.chain.from_iterable(self.imgToAnns[i] for i in imgIds if i in self.imgToAnns))
            else:
                anns = self.dataset.get("annotations", [])
            if len(catIds) != 0:
                wanted = set(catIds)
                anns = [a for a in anns if a["category_id"] in wanted]
            if len(areaRng) != 0:
                anns = [a for a in anns if areaRng[0] < _area_of(a) < areaRng[1]]
        if iscrowd is not None:
            return [a["id"] for a in anns if a.get("iscrowd", 0) == iscrowd]
        return [a["id"] for a in anns]

    def getCatIds(self, catNms=[], supNms=[], catIds=[]):  # noqa: B006
        """Ids of categories matching the given names, supercategory names and ids."""
        catNms, supNms, catIds = _as_list(catNms), _as_list(supNms), _as_list(catIds)
        cats = self.dataset.get("categories", [])
        if len(catNms) != 0:
            cats = [c for c in cats if c.get("name") in catNms]
        if len(supNms) != 0:
            cats = [c for c in cats if c.get("supercategory") in supNms]
        if len(catIds) != 0:
            cats = [c for c in cats if c["id"] in catIds]
        return [c["id"] for c in cats]

    def getImgIds(self, imgIds=[], catIds=[]):  # noqa: B006
        """Ids of images among ``imgIds`` (all when empty) that contain every category in ``catIds``."""
        imgIds, catIds = _as_list(imgIds), _as_list(catIds)
        if len(imgIds) == len(catIds) == 0:
            return list(self.imgs.keys())
        ids = set(imgIds)
        for i, cat_id in enumerate(catIds):
            if i == 0 and len(ids) == 0:
                ids = set(self.catToImgs[cat_id])
            else:
                ids &= set(self.catToImgs[cat_id])
        return list(ids)

    def _load(self, table, ids, what):
        if _is_array_like(ids):
            try:
                return [table[i] for i in ids]
            except KeyError as err:
                raise ValueError(f"COCO.load{what}: unknown id {err.args[0]!r}") from None
        if _is_int(ids):
            if ids not in table:
                raise ValueError(f"COCO.load{what}: unknown id {ids!r}")
            return [table[ids]]
        raise TypeError(f"COCO.load{what}: ids must be an integer or a list of integers, got {type(ids).__name__}")

    def loadAnns(self, ids=[]):  # noqa: B006
        """Annotation dicts for the given id or list of ids."""
        return self._load(self.anns, ids, "Anns")

    def loadCats(self, ids=[]):  # noqa: B006
        """Category dicts for the given id or list of ids."""
        return self._load(self.cats, ids, "Cats")

    def loadImgs(self, ids=[]):  # noqa: B006
        """Image dicts for the given id or list of ids."""
        return self._load(self.imgs, ids, "Imgs")

    # ----------------------------------------------------------------- results
    def loadRes(self, resFile):
        """Load detection results and return them as a new :class:`COCO` object.

        Args:
            resFile: a list of dicts ``{'image_id', 'category_id', 'bbox': [x, y, w, h], 'score'}``,
                a path to a JSON file holding such a list, or an ``N x 7`` NumPy array whose rows are
                ``[image_id, x, y, w, h, score, category_id]``.

        Each result gets ``id = index + 1``, ``area = w * h`` and ``iscrowd = 0`` (in new dicts; the
        caller's dicts are not modified).  An empty list gives an object with no annotations, which
        evaluates to zero precision and recall (pycocotools raises ``IndexError``, faster-coco-eval
        gives the same zeros); a ``UserWarning`` says so.  Results whose ``category_id`` is not a
        category of the ground truth are kept, as pycocotools keeps them, but can never match or count
        (``COCOeval`` only evaluates the ground truth's categories); a ``UserWarning`` names those ids.

        Raises:
            ValueError: a result references an image id absent from this data set, lacks a field,
                has a non-finite or NaN score, or a box with negative width or height.
        """
        where = "COCO.loadRes"
        if isinstance(resFile, (str, bytes, os.PathLike)):
            anns = read_json(resFile, where)
            areas = None
        elif isinstance(resFile, np.ndarray):
            anns, areas = _numpy_results(resFile, where)
        else:
            anns, areas = resFile, None
        if not isinstance(anns, list):
            raise ValueError(f"{where}: results must be a list of objects, got {type(anns).__name__}")
        _check_records(where, "result", anns)
        # validate the fields the evaluator needs before building anything
        img_ids = _int_column(where, "result", anns, "image_id")
        known = np.asarray(list(self.imgs.keys()), dtype=np.int64)
        unknown = ~np.isin(img_ids, known)
        if unknown.any():
            i = int(np.argmax(unknown))
            raise ValueError(
                f"{where}: result {i} has image_id {int(img_ids[i])}, which is not an image of the ground-truth set"
            )
        cat_ids = _int_column(where, "result", anns, "category_id")
        boxes = _bbox_column(where, "result", anns)
        _float_column(where, "result", anns, "score")
        _warn_unusable_results(where, cat_ids, self.cats)
        if areas is None:
            areas = (boxes[:, 2] * boxes[:, 3]).tolist()
        new_anns = []
        for i, (ann, area) in enumerate(zip(anns, areas)):
            rec = dict(ann)
            rec["area"] = area
            rec["id"] = i + 1
            rec["iscrowd"] = 0
            new_anns.append(rec)

        res = COCO()
        res.dataset["info"] = copy.deepcopy(self.dataset.get("info", {}))
        res.dataset["images"] = list(self.dataset.get("images", []))
        res.dataset["categories"] = copy.deepcopy(self.dataset.get("categories", []))
        res.dataset["annotations"] = new_anns
        res.createIndex(_need_score=True, _where=where)
        return res

    def loadNumpyAnnotations(self, data):
        """Convert an ``N x 7`` array ``[image_id, x, y, w, h, score, category_id]`` to result dicts."""
        return _numpy_results(data, "COCO.loadNumpyAnnotations")[0]


def _warn_unusable_results(where, cat_ids, known_cats):
    """Warn when results cannot score: none at all, or categories absent from the ground truth."""
    if cat_ids.size == 0:
        warnings.warn(f"{where}: the result list is empty; every AP and AR will be 0", UserWarning, stacklevel=3)
        return
    known = np.fromiter(known_cats.keys(), dtype=np.int64, count=len(known_cats))
    unknown = ~np.isin(cat_ids, known)
    if unknown.any():
        ids = np.unique(cat_ids[unknown])
        shown = ", ".join(str(int(c)) for c in ids[:10]) + (", ..." if ids.size > 10 else "")
        warnings.warn(
            f"{where}: {int(unknown.sum())} of {cat_ids.size} results have category ids absent "
            f"from the ground truth ({shown}); they are never evaluated (known ids: "
            f"{_short_list(known)})",
            UserWarning,
            stacklevel=3,
        )


def _short_list(ids):
    ids = np.sort(ids)
    return ", ".join(str(int(c)) for c in ids[:10]) + (", ..." if ids.size > 10 else "") if ids.size else "none"


def _area_of(ann):
    if "area" in ann:
        return ann["area"]
    bb = ann["bbox"]
    return bb[2] * bb[3]


def _numpy_results(data, where):
    """Rows ``[image_id, x, y, w, h, score, category_id]`` -> result dicts and their box areas.

    The area is computed in the array's own dtype (as pycocotools does) and the values are returned
    as Python numbers, so float32 input evaluates exactly as in pycocotools.
    """
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{where}: expected a numpy.ndarray, got {type(data).__name__}")
    if data.ndim != 2 or data.shape[1] != 7:
        raise ValueError(
            f"{where}: expected an N x 7 array [image_id, x, y, w, h, score, category_id], got shape {data.shape}"
        )
    if data.dtype.kind not in "iuf":
        raise ValueError(f"{where}: expected a numeric array, got dtype {data.dtype}")
    bad = ~np.isfinite(data).all(axis=1) if data.dtype.kind == "f" else np.zeros(len(data), bool)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{where}: row {i} contains a NaN or infinite value: {data[i].tolist()!r}")
    for col, name in ((0, "image_id"), (6, "category_id")):
        frac = data[:, col] != np.round(data[:, col])
        if frac.any():
            i = int(np.argmax(frac))
            raise ValueError(f"{where}: row {i} has a non-integer {name} {data[i, col]!r}")
    areas = (data[:, 3] * data[:, 4]).tolist()
    img = data[:, 0].astype(np.int64).tolist()
    cat = data[:, 6].astype(np.int64).tolist()
    boxes = data[:, 1:5].tolist()
    scores = data[:, 5].tolist()
    anns = [{"image_id": i, "bbox": b, "score": s, "category_id": c} for i, b, s, c in zip(img, boxes, scores, cat)]
    return anns, areas
