"""``skysift info``: what a store holds, or what a saved model is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def _is_model(path: Path) -> bool:
    """Return whether ``path`` is a model file or a run directory (model.pt, no store marker)."""
    if path.is_file():
        return path.suffix == ".pt"
    return (path / "model.pt").is_file() and not (path / "_skysift.json").exists()


def model_summary(path: str | Path) -> dict[str, Any]:
    """Describe a saved model: architecture, classes, input, preparation, metadata."""
    from skysift.training.checkpoint import load_model

    path = Path(path)
    loaded = load_model(path)
    steps = [] if loaded.pipeline is None else [
        {"step": s.step_name, "params": s.get_params()} for s in loaded.pipeline.steps
    ]
    return {
        "path": str(path / "model.pt" if path.is_dir() else path),
        "model": loaded.model_name,
        "model_kwargs": loaded.model_kwargs,
        "n_parameters": loaded.model.num_parameters(),
        "task": loaded.task,
        "target": loaded.target,
        "classes": loaded.class_names,
        "input_shape": list(loaded.input_shape),
        "num_extra_features": loaded.num_extra_features,
        "kind": None if loaded.pipeline is None else loaded.pipeline.kind,
        "preparation": steps,
        "metadata": loaded.metadata,
    }


def format_model_summary(info: dict[str, Any]) -> str:
    """Format :func:`model_summary` as aligned lines."""
    lines = [
        ("model", f"{info['model']} ({info['n_parameters']:,} parameters), {info['task']}"),
        ("file", info["path"]),
        ("input", f"{info['kind'] or '?'} of shape {tuple(info['input_shape'])}"
                  + (f" + {info['num_extra_features']} extra features"
                     if info["num_extra_features"] else "")),
    ]
    if info["classes"]:
        lines.append(("classes", f"{len(info['classes'])}: {', '.join(info['classes'])}"))
    else:
        lines.append(("target", info["target"]))
    for i, step in enumerate(info["preparation"]):
        params = ", ".join(f"{k}={v}" for k, v in step["params"].items())
        lines.append(("preparation" if i == 0 else "", f"{step['step']}({params})"))
    meta = info["metadata"]
    if meta.get("members"):
        for i, member in enumerate(meta["members"]):
            lines.append(("members" if i == 0 else "", member))
        lines.append(("combination", meta.get("combination", "?")))
    if meta.get("prior_shift"):
        prior = ", ".join(f"{p:.3f}" for p in meta["prior_shift"])
        lines.append(("prior shift", f"training class frequencies ({prior}) divided out"))
    for key, value in (meta.get("test_metrics") or {}).items():
        if key == "n_test":
            lines.append(("test objects", f"{value:,}"))
            continue
        if isinstance(value, float):
            value = f"{value:.4g}"
        lines.append(("test " + key.replace("_", " "), str(value)))
    if meta.get("run_dir"):
        lines.append(("trained in", meta["run_dir"]))
    sw = meta.get("software")
    if sw:
        lines.append(("written by", f"skysift {sw.get('skysift')}"
                      + (f" (commit {sw['commit']})" if sw.get("commit") else "")
                      + f", Python {sw.get('python')}, torch {sw.get('torch')}"))
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)


@click.command()
@click.argument("store", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
def info(store: str, as_json: bool) -> None:
    """Print what STORE holds: kind, objects, classes, columns, size on disk.

    STORE may also be a saved model (model.pt, or a run directory holding
    one): then its architecture, classes, input shape, preparation steps
    and test metrics are printed.

    With --json the same is printed as one JSON object (for a store the keys
    include kind, n_objects, classes, columns, size_bytes) for scripts.

    \b
    Examples:
      skysift info data/lines
      skysift info runs/lines --json
    """
    import json

    from skysift.cli._summary import format_summary
    from skysift.io.store import open_store

    if _is_model(Path(store)):
        summary = model_summary(store)
        click.echo(json.dumps(summary, indent=2, default=str) if as_json
                   else format_model_summary(summary))
        return
    summary = open_store(store).info()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(format_summary(summary))
