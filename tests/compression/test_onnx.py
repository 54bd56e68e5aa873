"""ONNX export of every registered model, and int8 quantisation."""

import json

import numpy as np
import onnx
import pytest
import torch

from skysift.compression import ONNX_METADATA_KEY, export_onnx
from skysift.exceptions import DataFormatError
from skysift.models import create_model, list_models
from skysift.serving.onnx_engine import load_onnx_model
from skysift.training import load_model, save_model

#: Small variants, so that tracing every model stays quick; extra features
#: for the architectures that take them (a second graph input).
SMALL = {
    "atx": {"num_extra_features": 2, "scaledown_factor": 16, "input_length": 40},
    "t2": {"num_extra_features": 2},
    "cnn2d": {"input_length": 900},
    "spectral_vit": {"input_length": 900},
}


def save(tmp_path, name, **kwargs):
    torch.manual_seed(0)
    net = create_model(name, **kwargs).eval()
    classes = None
    if net.task == "classification":
        classes = [f"c{i}" for i in range(net.num_classes)]
    path = save_model(
        tmp_path / "model.pt", net, model_name=name, model_kwargs=kwargs,
        class_names=classes, input_shape=net.input_shape,
    )
    return path, net


@pytest.mark.parametrize("name", list_models())
def test_export_matches_pytorch_with_a_dynamic_batch(name, tmp_path):
    path, net = save(tmp_path, name, **SMALL.get(name, {}))
    info = export_onnx(path, tmp_path / "m.onnx")
    model = load_onnx_model(tmp_path / "m.onnx", threads=1)
    n_extra = net.num_extra_features
    assert info["inputs"] == (["x", "extra"] if n_extra else ["x"])
    gen = torch.Generator().manual_seed(1)
    for batch in (1, 7):  # neither is the traced batch size (2)
        x = torch.randn((batch, *net.input_shape), generator=gen)
        extra = torch.randn((batch, n_extra), generator=gen) if n_extra else None
        with torch.no_grad():
            ref = net(x, extra)
        classifier = net.task == "classification"
        ref = (ref.softmax(1) if classifier else ref).numpy()
        got = model.predict(x.numpy(), None if extra is None else extra.numpy())
        if not classifier and ref.shape[1] == 1:
            ref = ref[:, 0]
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4)
        logits = model.session.run(["output"], {"x": x.numpy()} | (
            {"extra": extra.numpy()} if n_extra else {}))[0]
        with torch.no_grad():
            np.testing.assert_allclose(logits, net(x, extra).numpy(), rtol=1e-4, atol=1e-4)


def test_metadata_carries_the_preparation(halpha, tmp_path):
    _, model_pt = halpha
    export_onnx(model_pt, tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    meta = json.loads({p.key: p.value for p in proto.metadata_props}[ONNX_METADATA_KEY])
    loaded = load_model(model_pt)
    assert meta["pipeline"] == json.loads(json.dumps(loaded.pipeline.to_dict()))
    assert meta["class_names"] == loaded.class_names
    assert meta["input_shape"] == [1, 140] and meta["quantize"] is None
    model = load_onnx_model(tmp_path / "m.onnx")
    assert [s.step_name for s in model.pipeline.steps] == ["regrid", "standardize"]
    with pytest.raises(FileExistsError, match="already exists"):
        export_onnx(model_pt, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="already an ONNX file"):
        export_onnx(tmp_path / "m.onnx", tmp_path / "n.onnx")


def test_int8_quantisation_keeps_the_classes(halpha, tmp_path):
    store, model_pt = halpha
    info = export_onnx(
        model_pt, tmp_path / "q.onnx", quantize="int8", calibration=store.path,
        calibration_size=200,
    )
    assert info["quantize"] == "int8" and info["calibration_objects"] == 200
    assert info["top_class_agreement"] >= 0.95
    assert info["max_prob_diff"] < 0.1
    model = load_onnx_model(tmp_path / "q.onnx")
    assert model.metadata["quantize"] == "int8"
    assert model.metadata["calibration_source"] == str(store.path)
    with pytest.raises(ValueError, match="needs calibration data"):
        export_onnx(model_pt, tmp_path / "r.onnx", quantize="int8")
    with pytest.raises(ValueError, match="quantize must be one of"):
        export_onnx(model_pt, tmp_path / "r.onnx", quantize="int4")


def test_loading_bad_onnx_files_names_them(tmp_path):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(FileNotFoundError, match=r"missing\.onnx"):
        load_onnx_model(missing)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07garbage")
    with pytest.raises(DataFormatError, match=r"junk\.onnx: not a readable ONNX model"):
        load_onnx_model(junk)
    # a valid ONNX graph that skysift did not write
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 3])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 3])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(onnx.helper.make_model(graph), str(foreign))
    with pytest.raises(DataFormatError, match=r"foreign\.onnx: an ONNX model without skysift metadata"):
        load_onnx_model(foreign)
    with pytest.raises(DataFormatError, match="is a directory"):
        load_onnx_model(tmp_path)
