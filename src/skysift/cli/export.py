"""``skysift export``: write a trained model and its preparation as one ONNX file."""

from __future__ import annotations

import click


@click.command()
@click.argument("model", type=click.Path(exists=True, path_type=str))
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True, help="Export format.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=str), help="File to write, e.g. model.onnx.")
@click.option("--opset", type=click.IntRange(min=13), default=17, show_default=True, help="ONNX operator set.")
@click.option("--quantize", type=click.Choice(["int8"]), default=None, help="Post-training static int8 quantisation (needs --calibration).")
@click.option("--calibration", type=click.Path(exists=True, file_okay=False, path_type=str), default=None, help="Store whose first objects calibrate the int8 ranges (one the model can read).")
@click.option("--calibration-size", type=click.IntRange(min=1), default=1024, show_default=True, help="Objects used for calibration.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def export(model, fmt, out, opset, quantize, calibration, calibration_size, overwrite) -> None:
    """Export MODEL (a run directory or model.pt) to a self-contained ONNX file.

    The file holds the network, with its softmax, and in its metadata the
    fitted preparation pipeline, the class names and the input shape, so
    `skysift predict model.onnx --data STORE` repeats the preparation and
    runs the model with onnxruntime, without torch. The export is checked
    against PyTorch on a random batch (max |difference| <= 1e-4).

    With --quantize int8 the weights and activations become 8-bit integers
    (about twice as fast on a CPU); the ranges are calibrated on objects of
    --calibration, and the agreement with the float model is printed.

    \b
    Examples:
      skysift export runs/lines --format onnx --out lines.onnx
      skysift export runs/lines --out lines-int8.onnx --quantize int8 --calibration data/lines
    """
    from skysift.compression.onnx import export_onnx

    info = export_onnx(
        model,
        out,
        opset=opset,
        quantize=quantize,
        calibration=calibration,
        calibration_size=calibration_size,
        overwrite=overwrite,
    )
    click.echo(
        f"exported {info['model_name']} to {info['out']} ({info['size_bytes'] / 1e6:.2f} MB, {fmt} opset {opset}); "
        f"inputs {', '.join(info['inputs'])}; outputs {', '.join(info['outputs'])}"
    )
    click.echo(f"float graph vs PyTorch: max |difference| {info['max_abs_diff']:.1e}")
    if info.get("quantize"):
        agree = info["top_class_agreement"]
        click.echo(
            f"int8 vs float on {info['calibration_objects']:,} calibration objects: "
            f"max |probability difference| {info['max_prob_diff']:.1e}"
            + (f", top class agrees for {agree:.2%}" if agree is not None else "")
        )
