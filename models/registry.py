"""A file registry of trained models: skops files, JSON metadata and a ``current.json`` pointer.

Layout of ``model_dir`` (``FENGQIAO_MODEL_DIR``; outside the lake, so a fresh lake still finds a model)::

    <version>.skops      the fitted estimator, saved with ``skops.io.dump`` (no pickle)
    <version>.json       metadata: model_version, training window, sha256 of the training frame,
                         feature columns, metrics, horizon, sklearn/skops versions, sha256 of the .skops file
    current.json         {"model_version": ..., "model_file": ..., "metadata_file": ...}

Loading never trusts a file blindly: the types that ``skops.io.get_untrusted_types`` reports must all be in
``ALLOWED_TYPES`` (the scikit-learn and numpy types this project's pipeline is built from), and the file's
sha256 must match its metadata; otherwise :class:`UntrustedModelError` is raised.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import sklearn

# skops is imported where a model is saved or loaded, not here (0.4 s): the Python workers that apply the text
# classifier in silver import this module with models.text_models but never load a file.

CURRENT = "current.json"

# Types a model of models.escalation holds that skops does not trust by default (measured with
# scikit-learn 1.9 / skops 0.16: the first four), plus the scikit-learn internals of the same pipeline
# that other skops versions may report. Nothing outside this list is ever loaded.
ALLOWED_TYPES = frozenset({
    "models.escalation.log1p_nonneg",
    "models.escalation.HorizonModels",   # the 1-, 2- and 4-week models registered together
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.pipeline.Pipeline",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn.utils._bunch.Bunch",
})


class NoModelError(FileNotFoundError):
    """No trained model in the registry."""


class UntrustedModelError(RuntimeError):
    """The model file holds types outside the allow-list, or does not match its metadata."""


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _json_default(value):
    if hasattr(value, "item"):          # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):        # numpy arrays
        return value.tolist()
    return str(value)                   # dates, paths


def _atomic_write_json(path: Path, obj: dict) -> None:
    text = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default)
    _atomic_write_bytes(path, text.encode("utf-8"))


def _safe_version(version: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}", version):
        raise ValueError(f"model version {version!r} is not a safe file name")
    return version


def register(model, metadata: dict, model_dir: Path, make_current: bool = True) -> str:
    """Save ``model`` and its metadata under ``model_dir`` and make it the current model; returns the version.

    The version is ``metadata["model_version"]`` when given, else ``escalation-<last training week>-<first 8
    hex of the training fingerprint>`` (derived from the training data, so retraining on the same data gives
    the same version and overwrites it).

    ``make_current=False`` saves the files without moving ``current.json`` (a challenger that did not beat the
    current model, see :mod:`models.lifecycle`); :func:`set_current` promotes it later.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata)
    version = meta.get("model_version")
    if not version:
        window = meta.get("training_window") or {}
        last = str(window.get("last_week", "unknown")).replace("-", "")
        fp = str(meta.get("training_data_sha256", "0" * 8))[:8]
        version = f"escalation-{last}-{fp}"
    version = _safe_version(str(version))
    meta["model_version"] = version
    import skops
    import skops.io as sio

    meta.setdefault("sklearn_version", sklearn.__version__)
    meta.setdefault("skops_version", skops.__version__)

    model_file = model_dir / f"{version}.skops"
    _atomic_write_bytes(model_file, sio.dumps(model))
    meta["model_file"] = model_file.name
    meta["model_sha256"] = _sha256_file(model_file)
    _atomic_write_json(model_dir / f"{version}.json", meta)
    if make_current:
        set_current(model_dir, version)
    return version


def set_current(model_dir: Path, version: str) -> None:
    """Point ``current.json`` at an already registered ``version`` (its files must exist)."""
    model_dir = Path(model_dir)
    version = _safe_version(str(version))
    if not (model_dir / f"{version}.skops").exists() or not (model_dir / f"{version}.json").exists():
        raise NoModelError(f"model {version} is not registered in {model_dir}")
    _atomic_write_json(model_dir / CURRENT, {"model_version": version, "model_file": f"{version}.skops",
                                             "metadata_file": f"{version}.json"})


def current_version(model_dir: Path) -> str | None:
    """The current model's version, or None when the registry has none."""
    pointer = Path(model_dir) / CURRENT
    if not pointer.exists():
        return None
    return json.loads(pointer.read_text(encoding="utf-8")).get("model_version")


def load_current(model_dir: Path, allowed_types=ALLOWED_TYPES):
    """The current model and its metadata: ``(model, metadata)``.

    Raises :class:`NoModelError` when the registry is empty and :class:`UntrustedModelError` when the file
    holds a type outside ``allowed_types`` or its sha256 differs from the metadata.
    """
    model_dir = Path(model_dir)
    pointer = model_dir / CURRENT
    if not pointer.exists():
        raise NoModelError(
            f"no trained model in {model_dir}: run `fengqiao train` (on a simulated province whose drop has "
            f"truth/) or point FENGQIAO_MODEL_DIR at a directory that holds one")
    current = json.loads(pointer.read_text(encoding="utf-8"))
    return load_version(model_dir, current["model_version"], allowed_types)


def load_version(model_dir: Path, version: str, allowed_types=ALLOWED_TYPES):
    model_dir = Path(model_dir)
    version = _safe_version(version)
    meta_file, model_file = model_dir / f"{version}.json", model_dir / f"{version}.skops"
    if not meta_file.exists() or not model_file.exists():
        raise NoModelError(f"model {version} is named in {model_dir / CURRENT} but its files are missing: "
                           f"run `fengqiao train` again")
    metadata = json.loads(meta_file.read_text(encoding="utf-8"))
    expected = metadata.get("model_sha256")
    if expected and _sha256_file(model_file) != expected:
        raise UntrustedModelError(f"{model_file.name} does not match the sha256 in {meta_file.name}")
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=model_file)
    unknown = sorted(set(untrusted) - set(allowed_types))
    if unknown:
        raise UntrustedModelError(f"{model_file.name} holds types outside the allow-list: {unknown}")
    model = sio.load(model_file, trusted=list(untrusted))
    return model, metadata
