"""Recipes: one YAML file per published experiment, one command to run it.

A recipe names its data, its preparations, its split, the model runs and the
baseline, and a ``quick`` block of overrides for CI. ``skysift run
recipes/NAME.yaml`` (:func:`run_recipe`) then

1. ingests the data once into ``OUT/work/raw`` (cached; the cache is reused
   while the ``ingest`` block is unchanged);
2. prepares it once per distinct preparation into ``OUT/work/prepared/``
   (cached the same way; the GP over the 21,319 SNPCC objects takes a few
   minutes on 2 cores);
3. relabels it once per (preparation, task) with the task's ``label_map``;
4. fixes the split as explicit id lists (``OUT/splits/<task>.csv``) and
   checks that every run and the baseline used exactly those lists;
5. trains every model run with :func:`skysift.training.run.train_run` into
   ``OUT/runs/<name>`` (model.pt, report.html, metrics.json);
6. trains the gradient-boosted baseline
   (:mod:`skysift.evaluation.baseline`) on the same split;
7. writes ``OUT/results.md`` and ``OUT/results.json``: one row per run with
   the same metrics for all, the exact command, the machine and the date.

Recipe format::

    name: snpcc_representative
    description: ...
    seed: 3                        # split and training seed, recorded
    ingest: {kind: lightcurves, paths: [snpcc_des/SIMGEN_PUBLIC_DES.tar.gz]}
    # or:   {synthetic: lightcurves, n: 600, survey: lsst, seed: 0}
    prepare:                       # named preparations (skysift prepare configs)
      gp_z: {kind: lightcurves, steps: [{gp: {survey: des}}, extra_features]}
    tasks:                         # named label maps; "*" maps every other label
      ia: {label_map: {Ia: Ia, "*": non-Ia}}
    data: {split: representative, test_size: 0.3, val_size: 0.1}
    train: {epochs: 30, batch_size: 256, lr: 0.001, patience: 5}
    runs:
      - {name: t2_z_ia, model: t2, prepare: gp_z, task: ia}
      - {name: baseline_z_ia, model: baseline, prepare: gp_z, task: ia,
         params: {use_redshift: true, max_iter: 500}}
    quick: {max_objects: 300, train: {epochs: 2}}
    out: runs/recipes/snpcc_representative

Data paths of ``ingest.paths`` are relative to the shared data directory:
``ingest.data_dir`` when given, else ``$SKYSIFT_DATA_DIR``, else
``../shared/data`` beside the repository holding the recipe.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import logging
import os
import platform
import shlex
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from skysift.exceptions import SkysiftError

__all__ = ["load_recipe", "resolve_data_dir", "run_recipe", "summarize_predictions"]

log = logging.getLogger(__name__)

_TOP_KEYS = {
    "name", "description", "seed", "ingest", "prepare", "tasks", "data", "train",
    "runs", "quick", "out", "evaluate",
}
_DATA_KEYS = {"split", "test_size", "val_size", "max_objects"}
_RUN_KEYS = {"name", "model", "prepare", "task", "params", "train"}
_QUICK_KEYS = {"max_objects", "train", "runs", "ingest"}
_SPLITS = ("representative", "biased")
_CACHE_FILE = "_recipe_cache.json"


def _fail(path: Any, message: str) -> SkysiftError:
    return SkysiftError(f"recipe {path}: {message}")


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` into a copy of ``base`` (mappings merge, the rest replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_keys(where: str, got: Mapping[str, Any], allowed: set[str], path: Any) -> None:
    unknown = sorted(set(got) - allowed)
    if unknown:
        raise _fail(path, f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def load_recipe(path: str | os.PathLike, *, quick: bool = False) -> dict[str, Any]:
    """Read and check a recipe; with ``quick``, apply its ``quick`` overrides.

    Parameters
    ----------
    path : path-like
        The recipe YAML file.
    quick : bool, default False
        Apply the ``quick`` block: ``max_objects`` (a stratified subset),
        ``train`` overrides for every run, ``runs`` (names of the runs to
        keep) and ``ingest`` overrides.

    Returns
    -------
    dict
        The resolved recipe (``seed``, ``data``, ``train`` filled with
        defaults; ``quick`` and ``path`` recorded).

    Raises
    ------
    SkysiftError
        For unknown keys, missing sections, runs naming an unknown
        preparation or task, or an unknown split; the message names the
        file.

    Examples
    --------
    >>> import tempfile, textwrap
    >>> text = textwrap.dedent('''
    ...     name: demo
    ...     ingest: {synthetic: lightcurves, n: 100}
    ...     prepare: {gp: {kind: lightcurves, steps: [{gp: {survey: lsst}}]}}
    ...     tasks: {all: {}}
    ...     runs: [{name: t2_all, model: t2, prepare: gp, task: all}]
    ...     quick: {max_objects: 50, train: {epochs: 1}}
    ... ''')
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "demo.yaml"; _ = p.write_text(text)
    ...     r = load_recipe(p, quick=True)
    >>> r["data"]["split"], r["data"]["max_objects"], r["train"]["epochs"]
    ('representative', 50, 1)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recipe {path} does not exist")
    with open(path) as f:
        recipe = yaml.safe_load(f) or {}
    if not isinstance(recipe, Mapping):
        raise _fail(path, "a recipe must be a YAML mapping")
    _check_keys("top level", recipe, _TOP_KEYS, path)
    for key in ("name", "ingest", "prepare", "tasks", "runs"):
        if not recipe.get(key):
            raise _fail(path, f"missing {key!r}")
    recipe = dict(recipe)
    recipe.setdefault("seed", 0)
    recipe["data"] = _merge(
        {"split": "representative", "test_size": 0.3, "val_size": 0.1, "max_objects": None},
        recipe.get("data") or {},
    )
    _check_keys("data", recipe["data"], _DATA_KEYS, path)
    if recipe["data"]["split"] not in _SPLITS:
        raise _fail(
            path, f"data.split must be one of {list(_SPLITS)}, got {recipe['data']['split']!r}"
        )
    recipe["train"] = dict(recipe.get("train") or {})
    quick_block = dict(recipe.get("quick") or {})
    _check_keys("quick", quick_block, _QUICK_KEYS, path)
    runs = [dict(r) for r in recipe["runs"]]
    if quick:
        if "max_objects" in quick_block:
            recipe["data"]["max_objects"] = quick_block["max_objects"]
        recipe["train"] = _merge(recipe["train"], quick_block.get("train") or {})
        recipe["ingest"] = _merge(recipe["ingest"], quick_block.get("ingest") or {})
        if quick_block.get("runs"):
            keep = set(quick_block["runs"])
            runs = [r for r in runs if r.get("name") in keep]
    names = set()
    for run in runs:
        _check_keys(f"run {run.get('name', '?')}", run, _RUN_KEYS, path)
        for key in ("name", "model", "prepare", "task"):
            if key not in run:
                raise _fail(path, f"run {run} has no {key!r}")
        if run["name"] in names:
            raise _fail(path, f"two runs are named {run['name']!r}")
        names.add(run["name"])
        if run["prepare"] not in recipe["prepare"]:
            raise _fail(
                path,
                f"run {run['name']!r}: unknown preparation {run['prepare']!r}; "
                f"defined: {sorted(recipe['prepare'])}",
            )
        if run["task"] not in recipe["tasks"]:
            raise _fail(
                path,
                f"run {run['name']!r}: unknown task {run['task']!r}; "
                f"defined: {sorted(recipe['tasks'])}",
            )
        if quick and run["model"] != "baseline":
            run["train"] = _merge(run.get("train") or {}, quick_block.get("train") or {})
    recipe["runs"] = runs
    recipe["quick"] = bool(quick)
    recipe["path"] = str(path)
    return recipe


def resolve_data_dir(recipe: Mapping[str, Any]) -> Path:
    """Return the shared data directory for a recipe's ``ingest.paths``.

    Looked up in order: ``ingest.data_dir`` (relative to the recipe file),
    ``$SKYSIFT_DATA_DIR``, then ``../shared/data`` beside the repository that
    holds the recipe (the first parent with a ``pyproject.toml``).

    Raises
    ------
    FileNotFoundError
        If none exists; the message lists the places tried.
    """
    recipe_path = Path(recipe["path"]).resolve()
    tried: list[Path] = []
    given = recipe["ingest"].get("data_dir")
    if given:
        tried.append(recipe_path.parent / given)
    elif os.environ.get("SKYSIFT_DATA_DIR"):
        tried.append(Path(os.environ["SKYSIFT_DATA_DIR"]))
    else:
        for parent in recipe_path.parents:
            if (parent / "pyproject.toml").exists():
                tried.append(parent.parent / "shared" / "data")
                break
        tried.append(Path(__file__).resolve().parents[2].parent / "shared" / "data")
    for candidate in tried:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"recipe {recipe['path']}: the shared data directory is absent (tried "
        f"{', '.join(str(p) for p in tried)}); set ingest.data_dir or SKYSIFT_DATA_DIR"
    )


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _cached(path: Path, key: Any) -> bool:
    """Whether ``path`` holds a complete build for ``key``."""
    marker = path / _CACHE_FILE
    if not marker.exists():
        return False
    try:
        return json.loads(marker.read_text()).get("key") == _digest(key)
    except (OSError, ValueError):
        return False


def _mark(path: Path, key: Any, info: Mapping[str, Any]) -> None:
    (path / _CACHE_FILE).write_text(
        json.dumps({"key": _digest(key), "spec": key, **info}, indent=2, default=str)
    )


def _ingest(recipe: Mapping[str, Any], work: Path) -> Path:
    """Ingest (or synthesise) the recipe's data into ``work/raw``; cached."""
    spec = dict(recipe["ingest"])
    out = work / "raw"
    if _cached(out, spec):
        log.info("ingest: cached %s", out)
        return out
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    if "synthetic" in spec:
        from skysift.data.synthetic import synthesize_store

        kind = spec["synthetic"]
        options = {k: v for k, v in spec.items() if k not in ("synthetic", "n")}
        synthesize_store(out, kind, int(spec.get("n", 1000)), **options)
    elif spec.get("kind") == "lightcurves":
        from skysift.io.lightcurves import ingest_lightcurves

        data_dir = resolve_data_dir(recipe)
        paths = [data_dir / p for p in spec.get("paths") or []]
        absent = [str(p) for p in paths if not p.exists()]
        if not paths or absent:
            raise FileNotFoundError(
                f"recipe {recipe['path']}: data not found: {absent or 'no ingest.paths'} "
                f"(paths are relative to {data_dir})"
            )
        ingest_lightcurves(
            [str(p) for p in paths],
            out,
            format=spec.get("format", "auto"),
            class_names=spec.get("class_names", "auto"),
        )
    else:
        raise _fail(
            recipe["path"],
            "ingest needs 'synthetic: lightcurves' or 'kind: lightcurves' with paths; "
            f"got {spec}",
        )
    _mark(out, spec, {"seconds": round(time.perf_counter() - t0, 1)})
    return out


def _subset(recipe: Mapping[str, Any], raw: Path, work: Path) -> Path:
    """Write a stratified random subset of ``max_objects`` objects (quick runs); cached."""
    from skysift.data.splits import stratified_split
    from skysift.io.store import open_store, write_store

    n = recipe["data"]["max_objects"]
    if not n:
        return raw
    key = {"raw": json.loads((raw / _CACHE_FILE).read_text())["key"], "n": n,
           "seed": recipe["seed"]}
    out = work / f"subset-{n}"
    if _cached(out, key):
        return out
    store = open_store(raw)
    table = store.read(["object_id", "label"]).to_pandas()
    if n >= len(table):
        return raw
    labels = table["label"].astype(str).to_numpy()
    # the held-out part of a stratified split is a stratified sample
    _, _, chosen = stratified_split(
        labels, test_size=n / len(table), val_size=0.0, seed=recipe["seed"]
    )
    # per-class rounding can overshoot by a few objects: drop them at random
    chosen = np.random.default_rng(recipe["seed"]).permutation(chosen)[:n]
    ids = table["object_id"].astype(str).to_numpy()[np.sort(chosen)]
    write_store(out, store.take(list(ids)), kind=store.kind, overwrite=True)
    _mark(out, key, {"n_objects": len(ids)})
    return out


def _prepare(name: str, config: Mapping[str, Any], source: Path, work: Path) -> Path:
    """Prepare ``source`` with one named preparation; cached per (source, config)."""
    from skysift.io.store import open_store
    from skysift.preprocessing.pipeline import Pipeline, batch_from_arrow
    from skysift.preprocessing.prepare import prepare_store

    key = {"source": str(source), "source_key": json.loads((source / _CACHE_FILE).read_text())["key"],
           "prepare": dict(config)}
    out = work / "prepared" / f"{name}-{_digest(key)[:8]}"
    if _cached(out, key):
        log.info("prepare %s: cached %s", name, out)
        return out
    pipeline = Pipeline.from_config(dict(config))
    # prepare_store fits on the first objects of the whole store, which would
    # let the test split into the fit: only steps that learn nothing from the
    # data are allowed (extra_features learns only for missing="median")
    stateful = [
        s.step_name
        for s in pipeline.steps
        if s.stateful and not (s.step_name == "extra_features" and s.missing != "median")
    ]
    if stateful:
        raise SkysiftError(
            f"preparation {name!r}: step(s) {stateful} learn from data; a recipe "
            "prepares once before the split, so only per-object steps are allowed"
        )
    t0 = time.perf_counter()
    # nothing is learned (checked above), so fit on a handful of objects:
    # prepare_store's default fit would run the GP over 20,000 objects twice
    first = next(open_store(source).iter_batches(batch_size=8))
    pipeline.fit(batch_from_arrow(first))
    result = prepare_store(source, out, pipeline, fit=False, overwrite=True)
    _mark(out, key, {"n_out": result["n_out"], "n_rejected": result["n_rejected"],
                     "seconds": round(time.perf_counter() - t0, 1)})
    return out


def _map_label(label_map: Mapping[str, Any] | None, value: Any) -> Any:
    if value is None or not label_map:
        return value
    if str(value) in label_map:
        return label_map[str(value)]
    return label_map.get("*", value)


def _relabel(task: str, spec: Mapping[str, Any], prepared: Path, work: Path) -> Path:
    """Copy a prepared store with the task's labels (``label_map``); cached."""
    import pyarrow as pa

    from skysift.io.store import open_store, write_store

    label_map = {str(k): v for k, v in (spec.get("label_map") or {}).items()}
    if not label_map:
        return prepared
    key = {"prepared": str(prepared), "label_map": label_map,
           "prepared_key": json.loads((prepared / _CACHE_FILE).read_text())["key"]}
    out = work / "tasks" / f"{prepared.name}-{task}"
    if _cached(out, key):
        return out
    store = open_store(prepared)
    table = store.read()
    labels = [_map_label(label_map, v) for v in table.column("label").to_pylist()]
    index = table.schema.get_field_index("label")
    table = table.set_column(index, "label", pa.array(labels, pa.string()))
    write_store(out, table, kind="prepared", overwrite=True, attrs=store.info()["attrs"])
    from skysift.preprocessing.prepare import PIPELINE_FILE

    if (prepared / PIPELINE_FILE).exists():
        shutil.copy(prepared / PIPELINE_FILE, out / PIPELINE_FILE)
    _mark(out, key, {})
    return out


def _run_config(recipe: Mapping[str, Any], run: Mapping[str, Any], store: Path, out: Path,
                binary_groups: Mapping[str, Any] | None):
    from skysift.config import config_from_dict

    train = _merge(recipe["train"], run.get("train") or {})
    train["seed"] = recipe["seed"]
    return config_from_dict(
        {
            "data": {
                "path": str(store),
                "test_size": recipe["data"]["test_size"],
                "val_size": recipe["data"]["val_size"],
                "group_column": None,
            },
            "model": {"name": run["model"], "params": dict(run.get("params") or {})},
            "train": train,
            "evaluate": {"binary_groups": dict(binary_groups or {})},
            "out": str(out),
        }
    )


def _split_ids(recipe, run, store: Path, out: Path) -> dict[str, np.ndarray]:
    """Return the split as id lists: the stratified split ``train_run`` draws."""
    from skysift.training.run import load_run_data

    if recipe["data"]["split"] == "biased":
        raise SkysiftError(
            f"recipe {recipe['path']}: data.split 'biased' (train on spectro.list, test "
            "on photo.list) needs predefined id lists in train_run, which it does not "
            "take yet; use split: representative"
        )
    data = load_run_data(_run_config(recipe, run, store, out, None))
    return {name: np.asarray(data.ids[idx]).astype(str) for name, idx in data.splits.items()}


def _binary_groups(class_names: Sequence[str]) -> dict[str, list[str]]:
    """Return the Ia vs non-Ia view of a multi-class SN model (empty for a binary task)."""
    from skysift.evaluation.metrics import match_supernova_classes

    ia = match_supernova_classes(class_names)["ia"]
    if not ia or len(class_names) <= 2:
        return {}
    return {"Ia": [class_names[i] for i in ia]}


def summarize_predictions(
    true_class: Sequence[str],
    prob: np.ndarray,
    class_names: Sequence[str],
    *,
    original_labels: Sequence[str] | None = None,
) -> dict[str, float | None]:
    """Compute the results-table numbers of one run's test predictions.

    Parameters
    ----------
    true_class : sequence of str, shape (N,)
        True (task) class names.
    prob : numpy.ndarray, shape (N, C)
        Predicted probabilities, columns in ``class_names`` order.
    class_names : sequence of str
        C class names.
    original_labels : sequence of str, optional
        The labels before the task's label map (e.g. the SN subtypes), used
        for the core-collapse contamination of a binary Ia vs non-Ia task.

    Returns
    -------
    dict
        ``log_loss`` (flat-weighted, seed 003 eq. 3.20), ``roc_auc_micro``,
        ``roc_auc_macro``, ``accuracy``, and when an Ia class is present
        ``ia_roc_auc`` (Ia group vs the rest), ``ia_purity``,
        ``ia_efficiency`` and ``cc_contamination`` (share of objects
        classified Ia whose true type is Ibc or II); ``None`` where
        undefined.

    Examples
    --------
    >>> prob = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    >>> s = summarize_predictions(["Ia", "non-Ia", "non-Ia", "Ia"], prob, ["Ia", "non-Ia"],
    ...                           original_labels=["Ia", "II", "Ib", "Ia"])
    >>> s["ia_purity"], s["ia_efficiency"], s["cc_contamination"]
    (0.5, 0.5, 0.5)
    """
    from skysift.evaluation.metrics import (
        group_probabilities,
        match_supernova_classes,
        purity_score,
        roc_auc_score,
        weighted_log_loss,
    )

    names = list(class_names)
    lookup = {c: i for i, c in enumerate(names)}
    y = np.array([lookup[str(c)] for c in true_class], dtype=np.int64)
    p = np.asarray(prob, dtype=np.float64)
    p = p / p.sum(axis=1, keepdims=True)

    def clean(v: Any) -> float | None:
        v = float(v)
        return None if not np.isfinite(v) else v

    out: dict[str, float | None] = {
        "log_loss": clean(weighted_log_loss(y, p)),
        "roc_auc_micro": clean(roc_auc_score(y, p, average="micro")),
        "roc_auc_macro": clean(roc_auc_score(y, p, average="macro")),
        "accuracy": clean(np.mean(p.argmax(1) == y)),
    }
    ia = match_supernova_classes(names)["ia"]
    if ia:
        yb, pb = group_probabilities(y, p, ia)
        selected = np.isin(p.argmax(1), ia)
        out["ia_roc_auc"] = clean(roc_auc_score(yb, pb, average="macro"))
        out["ia_purity"] = clean(purity_score(y, p, target=ia))
        out["ia_efficiency"] = clean(selected[yb == 1].mean()) if (yb == 1).any() else None
        if original_labels is not None:
            sub = match_supernova_classes(sorted(set(map(str, original_labels))))
            subnames = sorted(set(map(str, original_labels)))
            cc = {subnames[i] for i in sub["ibc"] + sub["ii"]}
        else:
            sn = match_supernova_classes(names)
            cc = {names[i] for i in sn["ibc"] + sn["ii"]}
        truth = np.asarray(original_labels if original_labels is not None else true_class)
        is_cc = np.isin(truth.astype(str), sorted(cc))
        out["cc_contamination"] = (
            clean(is_cc[selected].mean()) if selected.any() and cc else None
        )
    return out


def _machine() -> str:
    """CPU model, cores and Python/torch versions, for the results table."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)"
    )


_COLUMNS = [
    ("run", "run"), ("model", "model"), ("redshift", "z"), ("task", "task"),
    ("n_train", "train"), ("n_test", "test"), ("epochs", "epochs"),
    ("log_loss", "log-loss"), ("roc_auc_micro", "AUC micro"),
    ("roc_auc_macro", "AUC macro"), ("ia_roc_auc", "Ia AUC"),
    ("ia_purity", "Ia purity"), ("ia_efficiency", "Ia eff."),
    ("cc_contamination", "CC contam."), ("accuracy", "accuracy"), ("seconds", "s"), ("reused", "reused"),
]


def _fmt(value: Any, key: str = "") -> str:
    if key == "seconds" and isinstance(value, int | float):
        return f"{value:.0f}"
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _write_results(out: Path, summary: Mapping[str, Any]) -> None:
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=str))
    lines = [
        f"# {summary['recipe']}{' (quick)' if summary['quick'] else ''}",
        "",
        summary.get("description") or "",
        "",
        f"- command: `{summary['command']}`",
        f"- machine: {summary['machine']}",
        f"- date: {summary['date']}",
        f"- split: {summary['split']['kind']}, seed {summary['seed']}: "
        f"{summary['split']['sizes']} (id lists in `splits/`)",
        f"- total time: {summary['seconds']:.0f} s",
        "",
        "| " + " | ".join(h for _, h in _COLUMNS) + " |",
        "|" + "---|" * len(_COLUMNS),
    ]
    for row in summary["runs"]:
        lines.append("| " + " | ".join(_fmt(row.get(k), k) for k, _ in _COLUMNS) + " |")
    lines += [
        "",
        "log-loss: flat-weighted (seed 003 eq. 3.20); Ia AUC: Ia (group) vs the rest; "
        "CC contam.: share of objects classified Ia whose true type is Ibc or II. "
        "Each run's report.html (confusion matrices, ROC curves) is in `runs/<run>/`.",
        "",
    ]
    (out / "results.md").write_text("\n".join(lines))


def _finished_train_run(config: Any, run_dir: Path) -> dict[str, Any] | None:
    """Return the result of a finished run in ``run_dir`` made with ``config``, else None."""
    files = ("model.pt", "test_predictions.parquet", "metrics.json", "config.yaml", "metrics.csv")
    if not all((run_dir / f).exists() for f in files):
        return None
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    if saved != yaml.safe_load(yaml.safe_dump(config.to_dict(), sort_keys=False)):
        return None
    import pandas as pd

    history = pd.read_csv(run_dir / "metrics.csv")
    return {"epochs": len(history), "seconds": float(history["time_s"].iloc[-1]),
            "reused": True}


def _finished_baseline(run_dir: Path, store: Path, use_z: bool, params: Mapping[str, Any]):
    """Return the result of a finished baseline run with these settings, else None."""
    files = ("baseline.json", "test_predictions.parquet", "metrics.json")
    if not all((run_dir / f).exists() for f in files):
        return None
    saved = json.loads((run_dir / "baseline.json").read_text())
    same = (saved.get("store") == str(store) and saved.get("use_redshift") == use_z
            and saved.get("params") == dict(params))
    return {"n_iter": saved["n_iter"], "seconds": None, "reused": True} if same else None


def run_recipe(
    path: str | os.PathLike,
    *,
    quick: bool = False,
    out: str | os.PathLike | None = None,
    runs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run a recipe end to end and write its results table (see the module docstring).

    Parameters
    ----------
    path : path-like
        The recipe YAML file.
    quick : bool, default False
        Use the recipe's ``quick`` overrides (a subset, few epochs): what CI
        runs to check that the recipe runs and learns.
    out : path-like, optional
        Output directory; default: the recipe's ``out`` (relative to the
        current directory), or ``runs/recipes/<name>``, with ``-quick``
        appended for quick runs.
    runs : sequence of str, optional
        Names of the runs to do (default: all of the recipe's runs).

    A run whose directory already holds a finished run with the same
    config (model, data store, split seed, training settings) is reused,
    not retrained; its row says so (``reused``). The results table is
    rewritten after every run, so an interrupted recipe keeps what it
    finished.

    Returns
    -------
    dict
        The summary written to ``OUT/results.json``: ``recipe``, ``command``,
        ``machine``, ``date``, ``seed``, ``split`` and ``runs`` (one dict per
        run with its metrics, see :func:`summarize_predictions`), plus
        ``results_md``.

    Raises
    ------
    SkysiftError
        For an invalid recipe, or when a run did not use the recorded split.
    FileNotFoundError
        When the recipe or its data is absent.
    """
    import pandas as pd

    from skysift.evaluation.baseline import train_baseline
    from skysift.io.store import open_store
    from skysift.training.run import train_run

    t0 = time.perf_counter()
    recipe = load_recipe(path, quick=quick)
    if runs:
        unknown = sorted(set(runs) - {r["name"] for r in recipe["runs"]})
        if unknown:
            raise _fail(
                recipe["path"],
                f"no run(s) named {unknown}; runs: {[r['name'] for r in recipe['runs']]}",
            )
        recipe["runs"] = [r for r in recipe["runs"] if r["name"] in set(runs)]
    if not recipe["runs"]:
        raise _fail(recipe["path"], "no runs left to do (check quick.runs and --runs)")
    if out is None:
        out = recipe.get("out") or f"runs/recipes/{recipe['name']}"
        out = f"{out}-quick" if quick else out
    out = Path(out)
    work = out / "work"
    (out / "splits").mkdir(parents=True, exist_ok=True)
    raw = _ingest(recipe, work)
    source = _subset(recipe, raw, work)
    originals = open_store(source).read(["object_id", "label"]).to_pandas()
    original = dict(zip(originals["object_id"].astype(str), originals["label"].astype(str),
                        strict=True))

    prepared: dict[str, Path] = {}
    task_stores: dict[tuple[str, str], Path] = {}
    splits: dict[str, dict[str, np.ndarray]] = {}
    rows = []
    for run in recipe["runs"]:
        prep, task = run["prepare"], run["task"]
        if prep not in prepared:
            prepared[prep] = _prepare(prep, recipe["prepare"][prep], source, work)
        if (prep, task) not in task_stores:
            task_stores[prep, task] = _relabel(task, recipe["tasks"][task], prepared[prep], work)
        store = task_stores[prep, task]
        run_dir = out / "runs" / run["name"]
        ids = _split_ids(recipe, run, store, run_dir)
        if task not in splits:
            splits[task] = ids
            pd.DataFrame(
                {"object_id": np.concatenate(list(ids.values())),
                 "split": np.repeat(list(ids), [len(v) for v in ids.values()])}
            ).to_csv(out / "splits" / f"{task}.csv", index=False)
        elif any(not np.array_equal(np.sort(ids[k]), np.sort(splits[task][k])) for k in ids):
            raise SkysiftError(
                f"run {run['name']!r}: its split differs from the recorded "
                f"splits/{task}.csv (preparations rejected different objects?)"
            )
        class_names = sorted(set(open_store(store).read(["label"]).column(0).to_pylist()) - {None})
        groups = _binary_groups(class_names)
        log.info("run %s: %s on %s, task %s", run["name"], run["model"], prep, task)
        if run["model"] == "baseline":
            params = dict(run.get("params") or {})
            use_z = bool(params.pop("use_redshift", True))
            params.setdefault("random_state", recipe["seed"])
            result = _finished_baseline(run_dir, store, use_z, params) or train_baseline(
                store, train_ids=ids["train"], val_ids=ids["val"], test_ids=ids["test"],
                out=run_dir, use_redshift=use_z, params=params, binary_groups=groups,
                title=f"{run['name']} ({recipe['name']})",
            )
            epochs, redshift = f"{result['n_iter']} trees", use_z
        else:
            config = _run_config(recipe, run, store, run_dir, groups)
            result = _finished_train_run(config, run_dir) or train_run(
                config, overwrite=True, progress=False
            )
            epochs = f"{result['epochs']}/{config.train.epochs}"
            redshift = any(
                (isinstance(s, Mapping) and "extra_features" in s)
                or s == "extra_features"
                for s in recipe["prepare"][prep].get("steps", [])
            )
        pred = pd.read_parquet(run_dir / "test_predictions.parquet")
        if not np.array_equal(np.sort(pred["object_id"].astype(str)), np.sort(ids["test"])):
            raise SkysiftError(
                f"run {run['name']!r} was evaluated on other objects than the recorded "
                f"test split splits/{task}.csv"
            )
        prob_cols = [f"prob_{c}" for c in class_names]
        metrics = summarize_predictions(
            pred["true_class"].astype(str).to_numpy(),
            pred[prob_cols].to_numpy(),
            class_names,
            original_labels=[original[i] for i in pred["object_id"].astype(str)],
        )
        rows.append({
            "run": run["name"], "model": run["model"], "prepare": prep, "redshift": redshift,
            "task": task, "n_train": len(ids["train"]), "n_val": len(ids["val"]),
            "n_test": len(ids["test"]), "epochs": epochs, **metrics,
            "seconds": result.get("seconds"), "reused": bool(result.get("reused")),
            "run_dir": str(run_dir),
        })
        summary = _summary(recipe, quick, out, runs, splits, rows, t0)
        _write_results(out, summary)
    summary["results_md"] = str(out / "results.md")
    return summary


def _summary(recipe, quick, out, runs, splits, rows, t0) -> dict[str, Any]:
    """Return the results summary (what results.json holds)."""
    first = next(iter(splits.values()))
    return {
        "recipe": recipe["name"],
        "description": recipe.get("description"),
        "recipe_path": recipe["path"],
        "quick": recipe["quick"],
        "command": " ".join(
            ["skysift", "run", shlex.quote(recipe["path"])]
            + (["--quick"] if quick else [])
            + (["--runs", ",".join(runs)] if runs else [])
            + ["--out", shlex.quote(str(out))]
        ),
        "machine": _machine(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": recipe["seed"],
        "split": {
            "kind": recipe["data"]["split"],
            "test_size": recipe["data"]["test_size"],
            "val_size": recipe["data"]["val_size"],
            "sizes": {k: len(v) for k, v in first.items()},
        },
        "max_objects": recipe["data"]["max_objects"],
        "train": recipe["train"],
        "runs": rows,
        "seconds": round(time.perf_counter() - t0, 1),
    }

