"""Recipes: one YAML file per published experiment, one command to run it.

A recipe names its data, its preparations, its split, the model runs and the
baseline, and a ``quick`` block of overrides for CI. ``skysift run
recipes/NAME.yaml`` (:func:`run_recipe`) then

1. ingests (or builds) the data once into ``OUT/work/raw`` (cached; the
   cache is reused while the ``ingest`` block is unchanged);
2. prepares it once per distinct preparation into ``OUT/work/prepared/``
   (cached the same way; the GP over the 21,319 SNPCC objects takes a
   quarter of an hour on 2 cores; a preparation ``from`` another one reuses
   that one's first step, e.g. the GP, and applies only its own steps);
3. makes one store per (preparation, task): the task's labels
   (``label_map``) and the metadata columns the split needs;
4. fixes each split as explicit id lists (``OUT/splits/<task>.csv``, or
   ``<task>-<split>.csv`` for runs that override ``data``) and checks that
   every run and the baseline used exactly those lists;
5. trains every model run with :func:`skysift.training.run.train_run` into
   ``OUT/runs/<name>`` (model.pt, report.html, metrics.json);
6. trains the gradient-boosted baseline
   (:mod:`skysift.evaluation.baseline`) on the same split;
7. evaluates every trained model on each ``evaluate_on`` data set
   (``OUT/runs/<name>/on-<set>/``, one more results row each);
8. calls the ``after`` hooks (figures);
9. writes ``OUT/results.md`` and ``OUT/results.json``: one row per run with
   the same metrics for all, the exact command, the machine and the date.

Recipe format::

    name: snpcc_representative
    description: ...
    seed: 3                        # split and training seed, recorded
    ingest: {kind: lightcurves, paths: [snpcc_des/SIMGEN_PUBLIC_DES.tar.gz]}
    # or:   {synthetic: lightcurves, n: 600, survey: lsst, seed: 0}
    # or:   {builder: uea, name: JapaneseVowels}    (see BUILDERS)
    prepare:                       # named preparations (skysift prepare configs)
      gp_z: {kind: lightcurves, steps: [{gp: {survey: des}}, extra_features]}
      gp_norm: {from: gp_z, steps: [peak_normalize]}   # reuses gp_z's GP
    tasks:                         # named label maps; "*" maps every other label
      ia: {label_map: {Ia: Ia, "*": non-Ia}}
      z: {target: redshift}        # regression
    data: {split: representative, test_size: 0.3, val_size: 0.1}
    # split: grouped (group_column, default "group"), or
    # split: column with split_column and train_values (a predefined split)
    train: {epochs: 30, batch_size: 256, lr: 0.001, patience: 5}
    runs:
      - {name: t2_z_ia, model: t2, prepare: gp_z, task: ia}
      - {name: baseline_z_ia, model: baseline, prepare: gp_z, task: ia,
         params: {use_redshift: true, max_iter: 500}}
      - {name: t2_biased, model: t2, prepare: gp_z, task: ia,
         data: {split: column, split_column: spectro_confirmed, train_values: [true]}}
    evaluate_on:                   # other labelled sets, evaluated by every model
      real: {builder: ondrejov_real}
    after:                         # hooks called at the end (figures)
      - {call: "skysift.data.explore:some_function", option: 1}
    quick: {max_objects: 300, train: {epochs: 2}}
    out: runs/recipes/snpcc_representative

Data paths of ``ingest.paths`` are relative to the shared data directory:
``ingest.data_dir`` when given, else ``$SKYSIFT_DATA_DIR``, else
``../shared/data`` beside the repository holding the recipe.

Dataset builders
----------------
``ingest: {builder: NAME, ...options}`` (also in ``evaluate_on``) calls the
function registered in :data:`BUILDERS` (``"module:function"``, imported
only when used) as ``fn(out, *, data_dir, seed, **options)``: it writes a
skysift store (spectra, light curves or prepared) at ``out`` and returns a
dict with at least ``n_in``, ``n_out`` and ``n_rejected``. Its result is
cached like any ingest, keyed by the block (and the seed). ``quick.ingest``
overrides apply to builder options too. A source store that is already
prepared is used with a preparation ``{kind: prepared}`` (no steps).

Hooks
-----
``after: [{call: "module:function", ...options}]``: each is called at the end
as ``fn(out, *, stores, seed, **options)`` where ``stores`` maps ``train``
(the first run's prepared training store) and every ``evaluate_on`` name to
its prepared store. It may write figures into ``out`` and return a dict with
a ``figures`` list (paths relative to ``out``), which ``results.md`` links.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from skysift import software_versions
from skysift.exceptions import DataFormatError, SkysiftError

__all__ = [
    "BUILDERS",
    "load_recipe",
    "regression_metrics",
    "resolve_data_dir",
    "run_recipe",
    "summarize_predictions",
]

log = logging.getLogger(__name__)

#: Dataset builders for ``ingest: {builder: NAME}``: name -> "module:function",
#: imported only when a recipe uses it.
BUILDERS: dict[str, str] = {
    "dash_spectra": "skysift.data.augment:build_dash_spectra",
    "halpha_synthetic": "skysift.data.domain:build_halpha_synthetic",
    "ondrejov_real": "skysift.data.domain:build_ondrejov_real",
    "lamost_real": "skysift.data.domain:build_lamost_real",
    "uea": "skysift.io.uea:build_uea_store",
}

_TOP_KEYS = {
    "name", "description", "seed", "ingest", "prepare", "tasks", "data", "train",
    "runs", "quick", "out", "evaluate", "evaluate_on", "after",
}
_DATA_KEYS = {
    "split", "test_size", "val_size", "max_objects", "group_column", "split_column",
    "train_values",
}
_DATA_DEFAULTS = {
    "split": "representative", "test_size": 0.3, "val_size": 0.1, "max_objects": None,
    "group_column": "group", "split_column": None, "train_values": None,
}
_RUN_KEYS = {"name", "model", "prepare", "task", "params", "train", "data", "members"}
_TASK_KEYS = {"label_map", "target"}
_QUICK_KEYS = {"max_objects", "train", "runs", "ingest", "evaluate_on"}
_SPLITS = ("representative", "grouped", "column")
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


def _check_data(data: Mapping[str, Any], where: str, path: Any) -> None:
    """Check a (merged) ``data`` block."""
    _check_keys(where, data, _DATA_KEYS, path)
    split = data["split"]
    if split == "biased":
        raise _fail(
            path,
            f"{where}: split 'biased' is now a predefined column split: "
            "{split: column, split_column: spectro_confirmed, train_values: [true]}",
        )
    if split not in _SPLITS:
        raise _fail(path, f"{where}.split must be one of {list(_SPLITS)}, got {split!r}")
    if split == "column":
        values = data.get("train_values")
        if not data.get("split_column") or not isinstance(values, list) or not values:
            raise _fail(
                path,
                f"{where}: split 'column' needs split_column (a metadata column) and "
                f"train_values (a non-empty list), got {data.get('split_column')!r} and "
                f"{values!r}",
            )
    if split == "grouped" and not data.get("group_column"):
        raise _fail(path, f"{where}: split 'grouped' needs group_column")


def _check_source(block: Any, where: str, path: Any) -> None:
    """Check an ingest block (``ingest`` or an ``evaluate_on`` entry)."""
    if not isinstance(block, Mapping):
        raise _fail(path, f"{where} must be a mapping, got {block!r}")
    if "builder" in block:
        if block["builder"] not in BUILDERS:
            raise _fail(
                path,
                f"{where}: unknown builder {block['builder']!r}; known builders: "
                f"{sorted(BUILDERS)}",
            )
    elif "synthetic" not in block and block.get("kind") != "lightcurves":
        raise _fail(
            path,
            f"{where} needs 'builder: NAME', 'synthetic: lightcurves' or "
            f"'kind: lightcurves' with paths; got {dict(block)}",
        )


def _is_regression(task: Mapping[str, Any]) -> bool:
    return task.get("target", "label") != "label"


def load_recipe(path: str | os.PathLike, *, quick: bool = False) -> dict[str, Any]:
    """Read and check a recipe; with ``quick``, apply its ``quick`` overrides.

    Parameters
    ----------
    path : path-like
        The recipe YAML file.
    quick : bool, default False
        Apply the ``quick`` block: ``max_objects`` (a stratified subset),
        ``train`` overrides for every run, ``runs`` (names of the runs to
        keep), ``ingest`` overrides (builder options too) and
        ``evaluate_on`` overrides (per set name).

    Returns
    -------
    dict
        The resolved recipe (``seed``, ``data``, ``train`` filled with
        defaults; every run has its full ``data`` block; ``quick`` and
        ``path`` recorded).

    Raises
    ------
    SkysiftError
        For unknown keys, missing sections, runs naming an unknown
        preparation or task, an unknown split or builder, a baseline on a
        regression task; the message names the file.

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
    recipe["data"] = _merge(_DATA_DEFAULTS, recipe.get("data") or {})
    _check_data(recipe["data"], "data", path)
    recipe["train"] = dict(recipe.get("train") or {})
    quick_block = dict(recipe.get("quick") or {})
    _check_keys("quick", quick_block, _QUICK_KEYS, path)
    evaluate_on = {str(k): dict(v or {}) for k, v in (recipe.get("evaluate_on") or {}).items()}
    runs = [dict(r) for r in recipe["runs"]]
    if quick:
        if "max_objects" in quick_block:
            recipe["data"]["max_objects"] = quick_block["max_objects"]
        recipe["train"] = _merge(recipe["train"], quick_block.get("train") or {})
        recipe["ingest"] = _merge(recipe["ingest"], quick_block.get("ingest") or {})
        for name, over in (quick_block.get("evaluate_on") or {}).items():
            if name not in evaluate_on:
                raise _fail(path, f"quick.evaluate_on: no evaluate_on set named {name!r}")
            evaluate_on[name] = _merge(evaluate_on[name], over or {})
        if quick_block.get("runs"):
            keep = set(quick_block["runs"])
            runs = [r for r in runs if r.get("name") in keep]
    _check_source(recipe["ingest"], "ingest", path)
    for name, block in evaluate_on.items():
        if name == "train":
            raise _fail(path, "evaluate_on: the name 'train' is reserved (after-hooks' stores)")
        _check_source(block, f"evaluate_on.{name}", path)
    recipe["evaluate_on"] = evaluate_on
    for name, prep in recipe["prepare"].items():
        if not isinstance(prep, Mapping):
            raise _fail(path, f"preparation {name!r} must be a mapping, got {prep!r}")
        base = prep.get("from")
        if base is not None:
            _check_keys(f"preparation {name}", prep, {"from", "steps"}, path)
            if base not in recipe["prepare"] or "from" in recipe["prepare"][base]:
                raise _fail(
                    path,
                    f"preparation {name!r}: 'from: {base}' must name a preparation "
                    f"without 'from'; defined: {sorted(recipe['prepare'])}",
                )
    for name, task in recipe["tasks"].items():
        task = dict(task or {})
        _check_keys(f"task {name}", task, _TASK_KEYS, path)
        if _is_regression(task) and task.get("label_map"):
            raise _fail(path, f"task {name!r}: a regression task (target) takes no label_map")
        recipe["tasks"][name] = task
    after = recipe.get("after") or []
    if not isinstance(after, list) or any(
        not isinstance(h, Mapping) or ":" not in str(h.get("call", "")) for h in after
    ):
        raise _fail(path, f"after must be a list of {{call: 'module:function', ...}}, got {after!r}")
    recipe["after"] = [dict(h) for h in after]
    names = set()
    by_name: dict[str, dict[str, Any]] = {}
    for run in runs:
        _check_keys(f"run {run.get('name', '?')}", run, _RUN_KEYS, path)
        if run.get("model") == "ensemble":
            _check_ensemble(run, by_name, path)
        elif "members" in run:
            raise _fail(path, f"run {run.get('name', '?')!r}: members belong to model: ensemble")
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
        if run["model"] == "baseline" and _is_regression(recipe["tasks"][run["task"]]):
            raise _fail(path, f"run {run['name']!r}: the baseline is a classifier only")
        own = dict(run.get("data") or {})
        if "max_objects" in own:
            raise _fail(path, f"run {run['name']!r}: max_objects is set for the whole recipe")
        run["data"] = _merge(recipe["data"], own)
        _check_data(run["data"], f"run {run['name']} data", path)
        if run["model"] == "ensemble" and any(
            by_name[m]["data"] != run["data"] for m in run["members"]
        ):
            raise _fail(path, f"run {run['name']!r}: its members were split differently")
        if quick and run["model"] not in ("baseline", "ensemble"):
            run["train"] = _merge(run.get("train") or {}, quick_block.get("train") or {})
        by_name[run["name"]] = run
    recipe["runs"] = runs
    recipe["quick"] = bool(quick)
    recipe["path"] = str(path)
    return recipe


def _check_ensemble(run: dict[str, Any], earlier: Mapping[str, Mapping[str, Any]], path: Any) -> None:
    """Check an ensemble run and fill its ``prepare`` and ``task`` from its members."""
    name = run.get("name", "?")
    members = run.get("members")
    if not isinstance(members, list) or len(members) < 2:
        raise _fail(path, f"run {name!r}: an ensemble needs members: a list of >= 2 run names")
    missing = [m for m in members if m not in earlier]
    if missing:
        raise _fail(path, f"run {name!r}: members {missing} are not runs listed before it")
    if any(earlier[m]["model"] == "ensemble" for m in members):
        raise _fail(path, f"run {name!r}: a member is itself an ensemble")
    if run.get("params") or run.get("train") or run.get("data"):
        raise _fail(path, f"run {name!r}: an ensemble takes no params, train or data")
    tasks = {earlier[m]["task"] for m in members}
    if len(tasks) > 1:
        raise _fail(path, f"run {name!r}: members have different tasks {sorted(tasks)}")
    first = earlier[members[0]]
    run["_members"] = [earlier[m] for m in members]  # for what they use (redshift)
    run.setdefault("task", first["task"])
    run.setdefault("prepare", first["prepare"])
    if run["task"] != first["task"]:
        raise _fail(path, f"run {name!r}: task {run['task']!r} is not its members' {first['task']!r}")


def resolve_data_dir(recipe: Mapping[str, Any], block: Mapping[str, Any] | None = None) -> Path:
    """Return the shared data directory for a recipe's ``ingest.paths``.

    Looked up in order: ``data_dir`` of the block (default: ``ingest``;
    relative to the recipe file), ``$SKYSIFT_DATA_DIR``, then
    ``../shared/data`` beside the repository that holds the recipe (the
    first parent with a ``pyproject.toml``).

    Raises
    ------
    FileNotFoundError
        If none exists; the message lists the places tried.
    """
    tried = _data_dir_candidates(recipe, block)
    for candidate in tried:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"recipe {recipe['path']}: the shared data directory is absent (tried "
        f"{', '.join(str(p) for p in tried)}); set ingest.data_dir or SKYSIFT_DATA_DIR"
    )


def _data_dir_candidates(recipe: Mapping[str, Any], block: Mapping[str, Any] | None) -> list[Path]:
    recipe_path = Path(recipe["path"]).resolve()
    tried: list[Path] = []
    given = (block if block is not None else recipe["ingest"]).get("data_dir")
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
    return tried


def _portable(path: Any) -> str:
    """Return a path inside a recipe's output directory from its ``work/`` or ``runs/`` on.

    Cache keys and reuse checks compare these, so an output directory that
    is moved or copied elsewhere is still recognised as holding its builds
    (its files record the absolute paths of where they were made). Paths
    outside any ``work``/``runs`` directory are kept whole.
    """
    parts = Path(str(path)).parts
    marks = [i for i, part in enumerate(parts) if part in ("work", "runs")]
    return "/".join(parts[marks[-1]:]) if marks else str(path)


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


def _stored_key(path: Path) -> str:
    """Return the digest :func:`_mark` recorded for the build in ``path``."""
    return json.loads((path / _CACHE_FILE).read_text())["key"]


def _import_callable(spec: str, what: str) -> Any:
    """Import ``"module:function"``; errors name ``what``."""
    import importlib

    module_name, _, attr = str(spec).partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise SkysiftError(f"{what}: cannot import {module_name!r} ({e})") from e
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise SkysiftError(f"{what}: {module_name!r} has no function {attr!r}")
    return fn


def _ingest(recipe: Mapping[str, Any], work: Path, block: Mapping[str, Any] | None = None,
            out: Path | None = None, what: str = "ingest") -> Path:
    """Ingest, synthesise or build one data block into ``out`` (default ``work/raw``); cached."""
    spec = dict(recipe["ingest"] if block is None else block)
    out = work / "raw" if out is None else out
    key = {**spec, "_seed": recipe["seed"]} if "builder" in spec else spec
    if _cached(out, key):
        log.info("%s: cached %s", what, out)
        return out
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    if "builder" in spec:
        name = spec["builder"]
        if name not in BUILDERS:
            raise _fail(recipe["path"], f"{what}: unknown builder {name!r}; known builders: "
                                        f"{sorted(BUILDERS)}")
        fn = _import_callable(BUILDERS[name], f"recipe {recipe['path']}: builder {name!r}")
        candidates = _data_dir_candidates(recipe, spec)
        data_dir = next((c for c in candidates if c.is_dir()), candidates[0])
        options = {k: v for k, v in spec.items() if k not in ("builder", "data_dir")}
        out.parent.mkdir(parents=True, exist_ok=True)
        result = fn(out, data_dir=data_dir, seed=int(recipe["seed"]), **options)
        missing = [k for k in ("n_in", "n_out", "n_rejected") if not isinstance(result, Mapping)
                   or k not in result]
        if missing:
            raise SkysiftError(
                f"recipe {recipe['path']}: builder {name!r} returned {result!r}, without "
                f"{missing} (a builder returns a dict with n_in, n_out, n_rejected)"
            )
        from skysift.io.store import open_store

        open_store(out)  # the builder must have written a store
        info = {k: v for k, v in result.items() if isinstance(v, int | float | str | bool)}
    elif "synthetic" in spec:
        from skysift.data.synthetic import synthesize_store

        kind = spec["synthetic"]
        options = {k: v for k, v in spec.items() if k not in ("synthetic", "n")}
        synthesize_store(out, kind, int(spec.get("n", 1000)), **options)
    elif spec.get("kind") == "lightcurves":
        from skysift.io.lightcurves import ingest_lightcurves

        data_dir = resolve_data_dir(recipe, spec)
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
            f"{what} needs 'builder: NAME', 'synthetic: lightcurves' or 'kind: lightcurves' "
            f"with paths; got {spec}",
        )
    _mark(out, key, {**info, "seconds": round(time.perf_counter() - t0, 1)})
    return out


def _split_columns(recipe: Mapping[str, Any]) -> list[str]:
    """Metadata columns the recipe's splits read (split and group columns)."""
    cols: list[str] = []
    for run in recipe["runs"]:
        data = run["data"]
        col = (data["split_column"] if data["split"] == "column"
               else data["group_column"] if data["split"] == "grouped" else None)
        if col and col not in cols:
            cols.append(col)
    return cols


def _subset(recipe: Mapping[str, Any], raw: Path, work: Path) -> Path:
    """Write a stratified random subset of ``max_objects`` objects (quick runs); cached.

    Stratified by label. When a run uses a predefined (``column``) split,
    each value of that column gets an equal share of the subset (stratified
    by label within it), so that a small training pool such as SNPCC's
    1,103 spectroscopic objects (5%) still trains something in CI.
    """
    from skysift.data.splits import stratified_split
    from skysift.io.store import open_store, write_store

    n = recipe["data"]["max_objects"]
    if not n:
        return raw
    store = open_store(raw)
    columns = [r["data"]["split_column"] for r in recipe["runs"] if r["data"]["split"] == "column"]
    column = columns[0] if columns and columns[0] in store.columns else None
    has_label = "label" in store.columns
    key = {"raw": _stored_key(raw), "n": n,
           "seed": recipe["seed"], "balance": column}
    out = work / f"subset-{n}"
    if _cached(out, key):
        return out
    table = store.read(["object_id"] + (["label"] if has_label else [])
                       + ([column] if column else [])).to_pandas()
    if n >= len(table):
        return raw
    rng = np.random.default_rng(recipe["seed"])
    labels = table["label"].astype(str).to_numpy() if has_label else np.zeros(len(table), str)
    parts = [np.arange(len(table))]
    if column:
        values = table[column].astype(str).to_numpy()
        parts = [np.flatnonzero(values == v) for v in sorted(set(values))]
    chosen = []
    for i, rows in enumerate(parts):
        quota = (n - len(np.concatenate(chosen)) if chosen else n) // (len(parts) - i)
        if quota >= len(rows):
            chosen.append(rows)
            continue
        # the held-out part of a stratified split is a stratified sample
        _, _, held = stratified_split(labels[rows], test_size=quota / len(rows), val_size=0.0,
                                      seed=recipe["seed"])
        # per-class rounding can overshoot by a few objects: drop them at random
        chosen.append(rows[rng.permutation(held)[:quota]])
    chosen = np.sort(np.concatenate(chosen))
    ids = table["object_id"].astype(str).to_numpy()[chosen]
    write_store(out, store.take(list(ids)), kind=store.kind, overwrite=True)
    _mark(out, key, {"n_objects": len(ids)})
    return out


def _check_stateless(name: str, pipeline: Any) -> None:
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


def _prepare(name: str, config: Mapping[str, Any], source: Path, work: Path,
             base: Path | None = None) -> Path:
    """Prepare ``source`` with one named preparation; cached per (source, config).

    With ``base`` (the prepared store of the preparation named in ``from``),
    the base's first step (its ``x``, e.g. the GP means) is reused and only
    this preparation's ``steps`` run; the saved pipeline is the base's
    first step followed by these steps, so a model trained on it still
    reads raw data.
    """
    from skysift.io.store import open_store
    from skysift.preprocessing.pipeline import Pipeline, batch_from_arrow
    from skysift.preprocessing.prepare import prepare_store

    source_store = open_store(source)
    if source_store.kind == "prepared":
        if dict(config) != {"kind": "prepared"} and "from" not in config:
            raise SkysiftError(
                f"preparation {name!r}: the data is already prepared ({source}); "
                "use the preparation {kind: prepared} (no steps)"
            )
        if "from" not in config:
            return source
    feed = base if base is not None else source
    key = {"source": _portable(feed), "source_key": _stored_key(feed),
           "prepare": dict(config)}
    out = work / "prepared" / f"{name}-{_digest(key)[:8]}"
    if _cached(out, key):
        log.info("prepare %s: cached %s", name, out)
        return out
    t0 = time.perf_counter()
    if base is not None:
        result = _prepare_from(name, config, base, out)
    else:
        pipeline = Pipeline.from_config(dict(config))
        _check_stateless(name, pipeline)
        # nothing is learned (checked above), so fit on a handful of objects:
        # prepare_store's default fit would run the GP over 20,000 objects twice
        first = next(source_store.iter_batches(batch_size=8))
        pipeline.fit(batch_from_arrow(first))
        result = prepare_store(source, out, pipeline, fit=False, overwrite=True)
    _mark(out, key, {"n_out": result["n_out"], "n_rejected": result["n_rejected"],
                     "seconds": round(time.perf_counter() - t0, 1)})
    return out


def _prepare_from(name: str, config: Mapping[str, Any], base: Path, out: Path) -> dict[str, Any]:
    """Apply ``config['steps']`` to the ``x`` of the prepared store ``base``."""
    from skysift.io.store import StoreWriter, open_store
    from skysift.preprocessing.pipeline import Pipeline, batch_from_arrow
    from skysift.preprocessing.prepare import PIPELINE_FILE

    store = open_store(base)
    attrs = store.info()["attrs"]
    saved = Pipeline.from_dict(attrs["pipeline"])
    extra_steps = Pipeline.from_config({"kind": saved.kind, "steps": list(config.get("steps") or [])})
    _check_stateless(name, extra_steps)
    pipeline = Pipeline([saved.steps[0], *extra_steps.steps], kind=saved.kind)
    shape = tuple(attrs.get("input_shape") or ())
    n_in = n_out = 0
    rejected: list[tuple[str, str]] = []
    input_shape: tuple[int, ...] = shape
    n_extra = 0
    fitted = False
    writer = StoreWriter(out, kind="prepared", overwrite=True)
    try:
        for rb in store.iter_batches(batch_size=4096):
            batch = batch_from_arrow(rb)
            n = rb.num_rows
            n_in += n
            batch["x"] = np.asarray(batch["x"], dtype=np.float32).reshape((n, *shape))
            batch.pop("extra", None)  # only the first step's output is reused
            if not fitted:  # nothing is learned (checked): fit on a handful
                for step in extra_steps.steps:
                    step.fit({k: (v[:8] if hasattr(v, "__len__") else v) for k, v in batch.items()})
                fitted = True
            for step in extra_steps.steps:
                batch = step.transform(batch)
            x = np.asarray(batch["x"], dtype=np.float32)
            extra = np.asarray(batch.get("extra", np.zeros((n, 0))), dtype=np.float32)
            good = np.isfinite(x.reshape(n, -1)).all(axis=1) & np.isfinite(extra).all(axis=1)
            ids = np.asarray(batch["object_id"]).astype(str)
            rejected += [(i, f"preparation {name}: non-finite values") for i in ids[~good]]
            columns = {k: np.asarray(v)[good] for k, v in batch.items()
                       if k not in ("x", "extra") and isinstance(v, np.ndarray) and v.ndim == 1
                       and len(v) == n}
            columns["x"] = x[good].reshape(int(good.sum()), -1)
            columns["extra"] = extra[good]
            input_shape, n_extra = tuple(int(d) for d in x.shape[1:]), extra.shape[1]
            writer.write(columns)
            n_out += int(good.sum())
        writer.attrs.update({
            "input_shape": list(input_shape), "n_extra": n_extra,
            "source": attrs.get("source", str(base)), "source_kind": attrs.get("source_kind"),
            "n_in": n_in, "n_rejected": len(rejected), "pipeline": pipeline.to_dict(),
        })
        writer.close()
    except BaseException:
        writer.abort()
        raise
    pipeline.save(out / PIPELINE_FILE)
    return {"n_in": n_in, "n_out": n_out, "n_rejected": len(rejected)}


def _map_label(label_map: Mapping[str, Any] | None, value: Any) -> Any:
    if value is None or not label_map:
        return value
    if str(value) in label_map:
        return label_map[str(value)]
    return label_map.get("*", value)


def _relabel(task: str, spec: Mapping[str, Any], prepared: Path, work: Path,
             source: Path | None = None, columns: Sequence[str] = ()) -> Path:
    """Copy a prepared store with the task's labels and the split's metadata columns; cached.

    ``columns`` (split and group columns) are joined from ``source`` by
    object id when the prepared store does not carry them.
    """
    import pyarrow as pa

    from skysift.io.store import open_store, write_store

    label_map = {str(k): v for k, v in (spec.get("label_map") or {}).items()}
    store = open_store(prepared)
    need = [c for c in columns if c not in store.columns]
    if need and source is not None:
        have = set(open_store(source).columns)
        absent = [c for c in need if c not in have]
        if absent:
            raise SkysiftError(
                f"task {task!r}: the split needs column(s) {absent}, which the data "
                f"({source}) does not have; its columns: {sorted(have)}"
            )
    if not label_map and not need:
        return prepared
    key = {"prepared": _portable(prepared), "label_map": label_map, "columns": need,
           "prepared_key": _stored_key(prepared)}
    out = work / "tasks" / f"{prepared.name}-{task}"
    if _cached(out, key):
        return out
    table = store.read()
    if label_map and "label" in table.column_names:
        labels = [_map_label(label_map, v) for v in table.column("label").to_pylist()]
        index = table.schema.get_field_index("label")
        table = table.set_column(index, "label", pa.array(labels, pa.string()))
    if need:
        meta = open_store(source).read(["object_id", *need])
        lookup = {oid: i for i, oid in enumerate(meta.column("object_id").to_pylist())}
        rows = [lookup.get(oid) for oid in table.column("object_id").to_pylist()]
        for col in need:
            values = meta.column(col).to_pylist()
            table = table.append_column(col, pa.array([None if r is None else values[r]
                                                       for r in rows], meta.schema.field(col).type))
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
    # a run's own train.seed changes its weights and data order, never the split
    own_seed = (run.get("train") or {}).get("seed")
    train["seed"] = recipe["seed"] if own_seed is None else int(own_seed)
    data = run["data"]
    task = recipe["tasks"][run["task"]]
    block = {
        "path": str(store),
        "test_size": data["test_size"],
        "val_size": data["val_size"],
        "group_column": data["group_column"] if data["split"] == "grouped" else None,
        "target": task.get("target", "label"),
    }
    if train["seed"] != recipe["seed"]:
        block["split_seed"] = recipe["seed"]
    if data["split"] == "column":
        block["split_column"] = data["split_column"]
        block["train_values"] = list(data["train_values"])
    return config_from_dict(
        {
            "data": block,
            "model": {"name": run["model"], "params": dict(run.get("params") or {})},
            "train": train,
            "evaluate": {"binary_groups": dict(binary_groups or {})},
            "out": str(out),
        }
    )


def _split_key(recipe: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    """Name of a run's recorded split: the task, plus the split when the run overrides data."""
    data = run["data"]
    if data == recipe["data"]:
        return run["task"]
    return f"{run['task']}-{data['split']}-{_digest(data)[:6]}"


def _split_ids(recipe, run, store: Path, out: Path) -> dict[str, np.ndarray]:
    """Return the split as id lists: the split ``train_run`` draws."""
    from skysift.training.run import load_run_data

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


def regression_metrics(true: Sequence[float], pred: Sequence[float]) -> dict[str, float | None]:
    """Return the results-table numbers of a redshift-like regression.

    Parameters
    ----------
    true, pred : sequence of float, shape (N,)

    Returns
    -------
    dict
        ``mae`` and ``rmse`` of ``pred - true``; ``nmad``: the normalised
        median absolute deviation of ``dz = (pred - true) / (1 + true)``,
        ``1.4826 * median(|dz - median(dz)|)``; ``outlier_fraction``: the
        share of objects with ``|dz| > 0.15``; ``n``.

    Examples
    --------
    >>> m = regression_metrics([0.0, 1.0, 1.0, 0.5], [0.1, 1.0, 1.6, 0.5])
    >>> round(m["mae"], 4), m["outlier_fraction"]
    (0.175, 0.25)
    """
    t = np.asarray(true, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    err = p - t
    dz = err / (1.0 + t)
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "nmad": float(1.4826 * np.median(np.abs(dz - np.median(dz)))),
        "outlier_fraction": float(np.mean(np.abs(dz) > 0.15)),
        "n": len(t),
    }


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

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    threads = torch.get_num_threads()
    return (
        f"{cpu}, {os.cpu_count()} cores, {gpu}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, torch {torch.__version__} "
        f"({threads} thread{'s' if threads != 1 else ''})"
    )


_COLUMNS = [
    ("run", "run"), ("model", "model"), ("redshift", "z"), ("task", "task"),
    ("split", "split"), ("on", "on"),
    ("n_train", "train"), ("n_test", "test"), ("epochs", "epochs"), ("val_loss", "val loss"),
    ("log_loss", "log-loss"), ("roc_auc_micro", "AUC micro"),
    ("roc_auc_macro", "AUC macro"), ("ia_roc_auc", "Ia AUC"),
    ("ia_purity", "Ia purity"), ("ia_efficiency", "Ia eff."),
    ("cc_contamination", "CC contam."), ("accuracy", "accuracy"),
    ("n_unknown", "unknown"), ("seconds", "s"), ("reused", "reused"),
]
_REGRESSION_COLUMNS = [
    ("run", "run"), ("model", "model"), ("task", "task"), ("split", "split"), ("on", "on"),
    ("n_train", "train"), ("n_test", "test"), ("epochs", "epochs"), ("mae", "MAE"),
    ("rmse", "RMSE"), ("nmad", "NMAD"), ("outlier_fraction", "outliers"),
    ("n_unknown", "unknown"), ("seconds", "s"), ("reused", "reused"),
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


def _table(rows: Sequence[Mapping[str, Any]], columns) -> list[str]:
    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(k), k) for k, _ in columns) + " |")
    return lines


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
        f"- seed {summary['seed']}; splits (id lists in `splits/`): "
        + "; ".join(f"{k}: {v['kind']} {v['sizes']}" for k, v in summary["splits"].items()),
        f"- total time: {summary['seconds']:.0f} s",
        "",
    ]
    classification = [r for r in summary["runs"] if not r.get("regression")]
    regression = [r for r in summary["runs"] if r.get("regression")]
    if classification:
        lines += _table(classification, _COLUMNS)
        lines += [
            "",
            "val loss: the lowest validation loss, which chose the epoch or the number "
            "of trees (cross-entropy, objects equal unless classes are weighted; before a "
            "prior shift); "
            "log-loss: flat-weighted (seed 003 eq. 3.20); Ia AUC: Ia (group) vs the rest; "
            "CC contam.: share of objects classified Ia whose true type is Ibc or II; "
            "on: the data set of the row (test split unless named, then an `evaluate_on` "
            "set); unknown: objects of that set whose class the model does not know "
            "(not evaluated, listed in `excluded.csv`). "
            "Each run's report.html (confusion matrices, ROC curves) is in `runs/<run>/`.",
            "",
        ]
    if regression:
        lines += _table(regression, _REGRESSION_COLUMNS)
        lines += [
            "",
            "MAE, RMSE: of dz = z_pred - z_true; NMAD: 1.4826 median(|d - median(d)|) of "
            "d = dz / (1 + z_true); outliers: share with |dz| / (1 + z_true) > 0.15.",
            "",
        ]
    figures = [f for hook in summary.get("after", []) for f in hook.get("figures", [])]
    if figures:
        lines += ["## Figures", ""] + [f"- [{f}]({f})" for f in figures] + [""]
    (out / "results.md").write_text("\n".join(lines))


def _finished_train_run(config: Any, run_dir: Path) -> dict[str, Any] | None:
    """Return the result of a finished run in ``run_dir`` made with ``config``, else None."""
    from skysift.config import config_from_dict

    files = ("model.pt", "test_predictions.parquet", "metrics.json", "config.yaml", "metrics.csv")
    if not all((run_dir / f).exists() for f in files):
        return None
    try:  # through the dataclasses, so that fields added since then take their defaults
        saved = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text())).to_dict()
    except (ValueError, TypeError):
        return None
    current = config_from_dict(config.to_dict()).to_dict()
    for cfg in (saved, current):  # paths inside OUT compare from work/, runs/ (OUT may move)
        cfg["out"] = _portable(cfg["out"])
        cfg["data"]["path"] = _portable(cfg["data"]["path"])
    if saved != current:
        return None
    import pandas as pd

    history = pd.read_csv(run_dir / "metrics.csv")
    return {"epochs": len(history), "seconds": float(history["time_s"].iloc[-1]),
            "reused": True}


def _finished_baseline(run_dir: Path, store: Path, use_z: bool, params: Mapping[str, Any],
                       exclude: Sequence[str] = ()):
    """Return the result of a finished baseline run with these settings, else None."""
    files = ("baseline.json", "test_predictions.parquet", "metrics.json")
    if not all((run_dir / f).exists() for f in files):
        return None
    saved = json.loads((run_dir / "baseline.json").read_text())
    same = (_portable(saved.get("store", "")) == _portable(store)
            and saved.get("use_redshift") == use_z
            and saved.get("params") == dict(params)
            and list(saved.get("exclude_features", [])) == list(exclude))
    return {"n_iter": saved["n_iter"], "seconds": None, "reused": True} if same else None


def _val_loss(run_dir: Path, model: str) -> float | None:
    """Lowest validation loss a run reached (the one that chose its epoch or trees).

    The networks' is their training loss on the validation split (objects
    weighted equally unless the run balances classes by weights; before a
    prior shift); the baseline's is the same for its chosen number of trees.
    None for an ensemble, or a run written before this was recorded.
    """
    if model == "ensemble":
        return None
    path = run_dir / ("baseline.json" if model == "baseline" else "metrics.json")
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    value = saved.get("val_loss") if model == "baseline" else (
        saved.get("training") or {}).get("best_val_loss")
    return None if value is None else float(value)


def _uses_redshift(recipe: Mapping[str, Any], run: Mapping[str, Any]) -> bool:
    """Whether a run's model sees redshift (extra features; the baseline's use_redshift)."""
    if run["model"] == "ensemble":
        return all(_uses_redshift(recipe, m) for m in run["_members"])
    if run["model"] == "baseline":
        return bool((run.get("params") or {}).get("use_redshift", True))
    prep = recipe["prepare"][run["prepare"]]
    steps = list(prep.get("steps", []))
    if "from" in prep:
        steps += recipe["prepare"][prep["from"]].get("steps", [])[:1]
    return any((isinstance(s, Mapping) and "extra_features" in s) or s == "extra_features"
               for s in steps)


def _ensemble(run, out: Path, class_names, groups, regression: bool, recipe_name: str):
    """Average the test predictions of an ensemble's finished members into its run dir."""
    from skysift.evaluation import write_report
    from skysift.evaluation.evaluate import average_test_predictions

    paths = []
    for member in run["members"]:
        path = out / "runs" / member / "test_predictions.parquet"
        if not path.exists():
            raise SkysiftError(
                f"run {run['name']!r}: member {member!r} has no {path}; run it first "
                f"(--runs {member})"
            )
        paths.append(path)
    run_dir = out / "runs" / run["name"]
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        mean = average_test_predictions(paths, run_dir / "test_predictions.parquet")
    except DataFormatError as e:
        raise SkysiftError(f"run {run['name']!r}: its members cannot be averaged: {e}") from e
    if not regression and mean["class_names"] != list(class_names):
        raise SkysiftError(
            f"run {run['name']!r}: members predicted classes {mean['class_names']}, not the "
            f"task's {list(class_names)}"
        )
    if regression:
        report = {"y_true": mean["y"], "y_pred": mean["pred"], "task": "regression"}
    else:
        report = {"y_true": mean["y"], "y_prob": mean["prob"],
                  "class_names": mean["class_names"], "task": "classification",
                  "binary_groups": dict(groups) or None}
    (run_dir / "ensemble.json").write_text(json.dumps(
        {"members": list(run["members"]), "combination": "mean of the members' outputs"},
        indent=2))
    write_report(run_dir, title=f"{run['name']} ({recipe_name}): mean of "
                 + ", ".join(run["members"]), **report)
    # networks' ensembles are saved as one model for predict / export (trees have no model.pt)
    models = [out / "runs" / m / "model.pt" for m in run["members"]]
    if all(p.exists() for p in models):
        from skysift.training.checkpoint import save_ensemble

        headline = json.loads((run_dir / "metrics.json").read_text()).get("headline", {})
        save_ensemble(models, run_dir / "model.pt",
                      metadata={"run_dir": str(run_dir), "test_metrics": headline})
    return {"seconds": None, "reused": False}


def _evaluate_on(recipe, run, run_dir: Path, sets: Mapping[str, Path], class_names,
                 original_of) -> list[dict[str, Any]]:
    """Evaluate a trained run on every ``evaluate_on`` set; one row each."""
    import pandas as pd

    from skysift.evaluation.evaluate import evaluate_store
    from skysift.io.store import open_store
    from skysift.training.checkpoint import load_model

    rows = []
    task = recipe["tasks"][run["task"]]
    loaded = load_model(run_dir / "model.pt")
    for name, store in sets.items():
        out_dir = run_dir / f"on-{name}"
        result = evaluate_store(loaded, store, out_dir)
        excluded = result["excluded"]
        row: dict[str, Any] = {"on": name, "n_test": result["n_evaluated"],
                               "n_unknown": len(excluded), "n_in": result["n_in"]}
        pred = pd.read_parquet(out_dir / "predictions.parquet")
        truth = open_store(store).read(["object_id", loaded.target]).to_pandas()
        merged = pred.merge(truth, on="object_id", how="inner")
        merged = merged[~merged["object_id"].astype(str).isin(set(excluded))]
        if _is_regression(task):
            target = loaded.target
            row.update(regression_metrics(merged[target].to_numpy(float),
                                          merged[f"pred_{target}"].to_numpy(float)))
        else:
            prob = merged[[f"prob_{c}" for c in class_names]].to_numpy()
            row.update(summarize_predictions(
                merged["label"].astype(str).to_numpy(), prob, class_names,
                original_labels=[original_of(name, i) for i in merged["object_id"].astype(str)],
            ))
        if excluded:
            reasons: dict[str, int] = {}
            for r in excluded.values():
                reasons[r] = reasons.get(r, 0) + 1
            row["unknown_reasons"] = reasons
        rows.append(row)
    return rows




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
    config (model, data store, split, training settings) is reused, not
    retrained; its row says so (``reused``). The results table is
    rewritten after every run, so an interrupted recipe keeps what it
    finished.

    Returns
    -------
    dict
        The summary written to ``OUT/results.json``: ``recipe``, ``command``,
        ``machine``, ``date``, ``seed``, ``splits`` and ``runs`` (one dict per
        row with its metrics, see :func:`summarize_predictions` and
        :func:`regression_metrics`; rows of ``evaluate_on`` sets have
        ``on``), ``after`` (the hooks' results), plus ``results_md``.

    Raises
    ------
    SkysiftError
        For an invalid recipe, when a run did not use the recorded split, or
        when another invocation is using ``out``.
    FileNotFoundError
        When the recipe or its data is absent.
    """
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
    with _exclusive(out):
        return _run_recipe(recipe, quick, out, runs, t0)


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold ``OUT/.skysift-run.lock`` while a recipe runs there.

    Two invocations on one output directory would rewrite each other's
    cached stores, splits and results table (and then fail to recognise
    finished runs), so the second is refused at once with the first's pid.
    The lock is advisory (``flock``) and goes with the process, so a killed
    run leaves nothing to clean up; where ``fcntl`` does not exist
    (Windows) nothing is checked.
    """
    out.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(out / ".skysift-run.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown process"
            raise SkysiftError(
                f"{out}: another `skysift run` is using this output directory "
                f"({holder}); wait for it to finish, or give another --out (a copy "
                "of this directory reuses its cached data)"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, since {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_recipe(recipe: dict[str, Any], quick: bool, out: Path, runs: Sequence[str] | None,
                t0: float) -> dict[str, Any]:
    """Run the loaded recipe into ``out`` (the body of :func:`run_recipe`, under its lock)."""
    import pandas as pd

    from skysift.evaluation.baseline import train_baseline
    from skysift.io.store import open_store
    from skysift.training.run import train_run

    work = out / "work"
    (out / "splits").mkdir(parents=True, exist_ok=True)
    raw = _ingest(recipe, work)
    source = _subset(recipe, raw, work)
    split_cols = _split_columns(recipe)
    labels_of: dict[str, dict[str, str]] = {}

    def original_of(dataset: str, oid: str) -> str:
        if dataset not in labels_of:
            src = source if dataset == "" else eval_raw[dataset]
            cols = open_store(src).columns
            table = open_store(src).read(["object_id", "label"] if "label" in cols
                                         else ["object_id"]).to_pandas()
            labels_of[dataset] = dict(zip(
                table["object_id"].astype(str),
                table["label"].astype(str) if "label" in table else [""] * len(table),
                strict=True,
            ))
        return labels_of[dataset].get(oid, "")

    eval_raw = {name: _ingest(recipe, work, block, work / "eval" / name / "raw",
                              f"evaluate_on.{name}")
                for name, block in recipe["evaluate_on"].items()}

    prepared: dict[tuple[str, str], Path] = {}

    def prepared_for(prep: str, dataset: str = "") -> Path:
        if (prep, dataset) not in prepared:
            config = recipe["prepare"][prep]
            src = source if dataset == "" else eval_raw[dataset]
            where = work if dataset == "" else work / "eval" / dataset
            base = prepared_for(config["from"], dataset) if "from" in config else None
            prepared[prep, dataset] = _prepare(prep, config, src, where, base)
        return prepared[prep, dataset]

    task_stores: dict[tuple[str, str, str], Path] = {}

    def task_store(prep: str, task: str, dataset: str = "") -> Path:
        if (prep, task, dataset) not in task_stores:
            src = source if dataset == "" else eval_raw[dataset]
            where = work if dataset == "" else work / "eval" / dataset
            task_stores[prep, task, dataset] = _relabel(
                task, recipe["tasks"][task], prepared_for(prep, dataset), where, src,
                split_cols if dataset == "" else (),
            )
        return task_stores[prep, task, dataset]

    splits: dict[str, dict[str, np.ndarray]] = {}
    split_kinds: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for run in recipe["runs"]:
        prep, task = run["prepare"], run["task"]
        task_spec = recipe["tasks"][task]
        regression = _is_regression(task_spec)
        store = task_store(prep, task)
        run_dir = out / "runs" / run["name"]
        ids = _split_ids(recipe, run, store, run_dir)
        key = _split_key(recipe, run)
        if key not in splits:
            splits[key] = ids
            split_kinds[key] = run["data"]["split"]
            pd.DataFrame(
                {"object_id": np.concatenate(list(ids.values())),
                 "split": np.repeat(list(ids), [len(v) for v in ids.values()])}
            ).to_csv(out / "splits" / f"{key}.csv", index=False)
        elif any(not np.array_equal(np.sort(ids[k]), np.sort(splits[key][k])) for k in ids):
            raise SkysiftError(
                f"run {run['name']!r}: its split differs from the recorded "
                f"splits/{key}.csv (preparations rejected different objects?)"
            )
        class_names = None
        groups: dict[str, list[str]] = {}
        if not regression:
            class_names = sorted(
                set(open_store(store).read(["label"]).column(0).to_pylist()) - {None}
            )
            groups = _binary_groups(class_names)
        log.info("run %s: %s on %s, task %s", run["name"], run["model"], prep, task)
        if run["model"] == "ensemble":
            result = _ensemble(run, out, class_names, groups, regression, recipe["name"])
            epochs = f"mean of {len(run['members'])}"
        elif run["model"] == "baseline":
            params = dict(run.get("params") or {})
            use_z = bool(params.pop("use_redshift", True))
            exclude = list(params.pop("exclude_features", []))
            params.setdefault("random_state", recipe["seed"])
            result = _finished_baseline(run_dir, store, use_z, params, exclude) or train_baseline(
                store, train_ids=ids["train"], val_ids=ids["val"], test_ids=ids["test"],
                out=run_dir, use_redshift=use_z, params=params, binary_groups=groups,
                exclude_features=exclude,
                title=f"{run['name']} ({recipe['name']})",
            )
            epochs = f"{result['n_iter']} trees"
        else:
            config = _run_config(recipe, run, store, run_dir, groups)
            result = _finished_train_run(config, run_dir) or train_run(
                config, overwrite=True, progress=False
            )
            epochs = f"{result['epochs']}/{config.train.epochs}"
        redshift = _uses_redshift(recipe, run)
        pred = pd.read_parquet(run_dir / "test_predictions.parquet")
        if not np.array_equal(np.sort(pred["object_id"].astype(str)), np.sort(ids["test"])):
            raise SkysiftError(
                f"run {run['name']!r} was evaluated on other objects than the recorded "
                f"test split splits/{key}.csv"
            )
        if regression:
            target = task_spec["target"]
            metrics = regression_metrics(pred[f"true_{target}"], pred[f"pred_{target}"])
            metrics.pop("n")
        else:
            prob_cols = [f"prob_{c}" for c in class_names]
            metrics = summarize_predictions(
                pred["true_class"].astype(str).to_numpy(),
                pred[prob_cols].to_numpy(),
                class_names,
                original_labels=[original_of("", i) for i in pred["object_id"].astype(str)],
            )
        common = {
            "run": run["name"], "model": run["model"], "prepare": prep, "redshift": redshift,
            "task": task, "split": key, "regression": regression,
            "n_train": len(ids["train"]), "n_val": len(ids["val"]),
            "run_dir": str(run_dir),
        }
        rows.append({
            **common, "n_test": len(ids["test"]), "epochs": epochs,
            "val_loss": _val_loss(run_dir, run["model"]), **metrics,
            "seconds": result.get("seconds"), "reused": bool(result.get("reused")),
        })
        if run["model"] not in ("baseline", "ensemble") and recipe["evaluate_on"]:
            sets = {name: task_store(prep, task, name) for name in recipe["evaluate_on"]}
            for extra_row in _evaluate_on(recipe, run, run_dir, sets, class_names, original_of):
                rows.append({**common, "epochs": epochs, **extra_row})
        summary = _summary(recipe, quick, out, runs, splits, split_kinds, rows, t0)
        _write_results(out, summary)
    if recipe["after"]:
        first = recipe["runs"][0]
        stores = {"train": task_store(first["prepare"], first["task"])}
        stores.update({name: task_store(first["prepare"], first["task"], name)
                       for name in recipe["evaluate_on"]})
        hooks = []
        for hook in recipe["after"]:
            options = {k: v for k, v in hook.items() if k != "call"}
            fn = _import_callable(hook["call"], f"recipe {recipe['path']}: after hook")
            result = fn(out, stores=dict(stores), seed=int(recipe["seed"]), **options) or {}
            hooks.append({"call": hook["call"], **{k: v for k, v in dict(result).items()
                                                   if k == "figures" or isinstance(v, int | float | str)}})
        summary = _summary(recipe, quick, out, runs, splits, split_kinds, rows, t0)
        summary["after"] = hooks
        _write_results(out, summary)
    summary["results_md"] = str(out / "results.md")
    return summary


def _summary(recipe, quick, out, runs, splits, split_kinds, rows, t0) -> dict[str, Any]:
    """Return the results summary (what results.json holds)."""
    first = next(iter(splits))
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
        "software": software_versions(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": recipe["seed"],
        # the first split (kept for readers of the earlier format)
        "split": {
            "kind": split_kinds[first],
            "test_size": recipe["data"]["test_size"],
            "val_size": recipe["data"]["val_size"],
            "sizes": {k: len(v) for k, v in splits[first].items()},
        },
        "splits": {k: {"kind": split_kinds[k], "sizes": {s: len(v) for s, v in ids.items()}}
                   for k, ids in splits.items()},
        "max_objects": recipe["data"]["max_objects"],
        "train": recipe["train"],
        "runs": rows,
        "seconds": round(time.perf_counter() - t0, 1),
    }
