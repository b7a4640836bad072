"""Exported MXNet models read from files, without MXNet (main venv).

- Models exported by the MXNet run (`build/mxnet-fixtures/`, written by
  `test_mxnet_live.py` in `.venv-mxnet`, which `make test` runs first):
  imported from `-symbol.json` + `-0000.params`, optimized, run on both
  backends and compared with MXNet's stored outputs; `opt-tool` on them.
- Crafted files: bad JSON, bad node references, cycles, unknown ops, hostile
  names; each a clear error naming the node, or correct sanitized code."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from model_table import MODEL_TABLE, count_ops, model_row
from mxnet_models import C_CACHE, FIXTURES, MODELS, PIPELINE, load_fixture, tolerance

import hybridize
from hybridize.frontends.mxnet import (
    SymbolFormatError,
    UnsupportedOpError,
    legacy_reshape,
    load_symbol_file,
    lower_symbol,
    supported_ops,
)
from hybridize.frontends.mxnet_params import dump_params
from hybridize.ir import ARENA, parse_module, print_module
from hybridize.ir.module import forward_func
from hybridize.tools.opt_tool import main as opt_tool



def fixture_or_skip(name: str):
    found = load_fixture(name)
    if found is None:
        pytest.skip(
            f"no exported {name} in {FIXTURES} (the MXNet tests write it: run `make test`, "
            "which runs .venv-mxnet first)"
        )
    return found


@pytest.mark.parametrize("name", list(MODELS))
def test_exported_model_from_files_matches_mxnet(name):
    symbol, inputs, expected = fixture_or_skip(name)
    start = time.perf_counter()
    imported = hybridize.trace(str(symbol), *inputs)  # params from the -0000.params beside it
    seconds = time.perf_counter() - start
    optimized = hybridize.optimize(imported, PIPELINE)
    forward_func(optimized).attributes[ARENA]
    row = model_row(f"mxnet files {name} (import {seconds:.2f} s)", imported, optimized)
    for backend in ("numpy", "c"):
        model = hybridize.build(optimized, backend, **({"cache_dir": C_CACHE} if backend == "c" else {}))
        got = model(*inputs)
        got = list(got) if isinstance(got, tuple) else [got]
        worst = 0.0
        for g, e in zip(got, expected, strict=True):
            err = float(np.max(np.abs(g - e)))
            assert err <= tolerance(e), f"{name} {backend}: max error {err}"
            worst = max(worst, err)
        row[f"max err {backend}"] = f"{worst:.1e}"
    MODEL_TABLE.append(row)


def test_resnet18_v1_imports_from_files_quickly():
    symbol, inputs, _ = fixture_or_skip("resnet18_v1")
    start = time.perf_counter()
    module = load_symbol_file(symbol, input_shapes=[inputs[0].shape])
    seconds = time.perf_counter() - start
    assert count_ops(module) > 60
    assert seconds < 10, f"importing resnet18_v1 took {seconds:.1f} s"


def test_opt_tool_on_an_exported_zoo_model(tmp_path, capsys):
    symbol, inputs, _ = fixture_or_skip("resnet18_v1")
    out = tmp_path / "resnet.mlir"
    shape = "x".join(map(str, inputs[0].shape))
    assert opt_tool([str(symbol), "--input-shape", shape, "-p", "canonicalize,fuse,plan", "-o", str(out)]) == 0
    text = out.read_text()
    assert "hy.conv2d" in text and "hy.arena" in text
    # no shape: the file does not record it, and the message says how to give it
    assert opt_tool([str(symbol), "-p", "fuse,plan"]) == 1
    assert "--input-shape" in capsys.readouterr().err


def test_exported_names_and_params_file(tmp_path):
    symbol, inputs, expected = fixture_or_skip("d2l_mlp")
    graph = json.loads(symbol.read_text())
    assert {n["op"] for n in graph["nodes"]} == {"null", "FullyConnected", "Activation"}
    # the params may also be given explicitly, from anywhere
    moved = tmp_path / "weights.params"
    moved.write_bytes(symbol.with_name("d2l_mlp-0000.params").read_bytes())
    copy = tmp_path / "mlp-symbol.json"
    copy.write_text(symbol.read_text())
    got = hybridize.build(load_symbol_file(copy, *inputs, params=moved), "numpy")(*inputs)
    assert np.abs(got - expected[0]).max() <= tolerance(expected[0])
    with pytest.raises(ValueError, match="no parameter file mlp-0000.params beside it"):
        load_symbol_file(copy, *inputs)


# --- crafted files ---


def var(name: str, **attrs) -> dict:
    return {"op": "null", "name": name, "attrs": attrs, "inputs": []}


def node(op: str, name: str, inputs: list, **attrs) -> dict:
    return {"op": op, "name": name, "attrs": {k: str(v) for k, v in attrs.items()}, "inputs": [[i, 0, 0] for i in inputs]}


def mlp(names=("data", "fc1_weight", "fc1_bias", "fc1", "relu1", "fc2_weight", "fc2")) -> dict:
    d, w1, b1, fc1, relu, w2, fc2 = names
    return {
        "nodes": [
            var(d),
            var(w1),
            var(b1),
            node("FullyConnected", fc1, [0, 1, 2], num_hidden=5),
            node("Activation", relu, [3], act_type="relu"),
            var(w2),
            node("FullyConnected", fc2, [4, 5], num_hidden=3, no_bias=True, flatten=False),
        ],
        "arg_nodes": [0, 1, 2, 5],
        "heads": [[6, 0, 0]],
        "attrs": {"mxnet_version": ["int", 10901]},
    }


def mlp_params(names=("fc1_weight", "fc1_bias", "fc2_weight")) -> dict:
    rng = np.random.default_rng(0)
    w1, b1, w2 = names
    return {
        f"arg:{w1}": rng.standard_normal((5, 12)).astype(np.float32),
        f"arg:{b1}": rng.standard_normal(5).astype(np.float32),
        f"arg:{w2}": rng.standard_normal((3, 5)).astype(np.float32),
    }


def mlp_reference(x: np.ndarray, params: dict) -> np.ndarray:
    w1, b1, w2 = params.values()
    h = np.maximum(x.reshape(len(x), -1) @ w1.T + b1, 0)  # FullyConnected flattens [2, 3, 4] to [2, 12]
    return h @ w2.T


def write(tmp_path, symbol: dict | str, params: dict, prefix: str = "net"):
    path = tmp_path / f"{prefix}-symbol.json"
    path.write_text(symbol if isinstance(symbol, str) else json.dumps(symbol))
    (tmp_path / f"{prefix}-0000.params").write_bytes(dump_params(params))
    return path


X = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_crafted_model_runs(tmp_path, backend):
    params = mlp_params()
    path = write(tmp_path, mlp(), params)
    module = hybridize.optimize(hybridize.trace(path, X), PIPELINE)
    model = hybridize.build(module, backend, **({"cache_dir": C_CACHE} if backend == "c" else {}))
    np.testing.assert_allclose(model(X), mlp_reference(X, params), rtol=1e-5, atol=1e-5)


HOSTILE = (
    'data" + __import__("os").system("echo pwned1") + "',
    "w\n\"\"\"\nimport os; os.system('echo pwned2')\n\"\"\"",
    "b */ int pwned3(void) { return 0; } /*",
    "fc1'''; pwned4 = 1; '''",
    "relu\r\n#include <pwned5.h>\n",
    '\\"pwned6\\u0000',
    "1" * 5000 + "pwned7",
)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_hostile_names_become_sanitized_hints_only(tmp_path, backend):
    names = (*HOSTILE[:4], HOSTILE[4], HOSTILE[5], HOSTILE[6])
    params = mlp_params((names[1], names[2], names[5]))
    path = write(tmp_path, mlp(names), params)
    module = hybridize.optimize(load_symbol_file(path, X), PIPELINE)
    text = print_module(module)
    parse_module(text)  # the printed IR is valid IR
    model = hybridize.build(module, backend, **({"cache_dir": C_CACHE} if backend == "c" else {}))
    for i in range(1, 8):  # names never reach generated code
        assert f"pwned{i}" not in model.source
    for raw in ("os.system(", "*/ int", "#include <pwned", '"""', "'''", "\\u0000"):
        assert raw not in text  # the IR holds sanitized hints only
    np.testing.assert_allclose(model(X), mlp_reference(X, params), rtol=1e-5, atol=1e-5)


def test_params_given_as_dict_or_path_and_input_shapes(tmp_path):
    params = mlp_params()
    path = write(tmp_path, mlp(), params)
    expected = mlp_reference(X, params)
    for kwargs in ({"params": params}, {"params": tmp_path / "net-0000.params"}, {}):
        module = load_symbol_file(path, input_shapes=[X.shape], **kwargs)
        np.testing.assert_allclose(hybridize.build(module, "numpy")(X), expected, rtol=1e-5, atol=1e-5)
    plain = {k.split(":", 1)[1]: v for k, v in params.items()}  # save_parameters-style names
    module = lower_symbol(json.dumps(mlp()), plain, [X.shape])
    np.testing.assert_allclose(hybridize.build(module, "numpy")(X), expected, rtol=1e-5, atol=1e-5)


def test_float64_numpy_examples_follow_float32_weights(tmp_path):
    # as mx.nd.array(x) would: the model's input is float32
    path = write(tmp_path, mlp(), mlp_params())
    module = hybridize.trace(path, X.astype(np.float64))
    assert str(forward_func(module).function_type.inputs.data[0]) == "tensor<2x3x4xf32>"


def test_opt_tool_on_a_crafted_model(tmp_path, capsys):
    path = write(tmp_path, mlp(), mlp_params())
    assert opt_tool([str(path), "--input-shape", "2x3x4", "-p", "canonicalize,fuse,plan"]) == 0
    assert "hy.fused" in capsys.readouterr().out
    assert opt_tool([str(path), "--input-shape", "2x3x4", "-p", "canonicalize,fuse,plan", "-t", "c"]) == 0
    assert "int hy_forward(" in capsys.readouterr().out
    bad = write(tmp_path, mutated(lambda s: s["nodes"][4].update(inputs=[[4, 0, 0]])), mlp_params(), "bad")
    assert opt_tool([str(bad), "--input-shape", "2x3x4"]) == 1
    assert "error: node 4 'relu1' (Activation): input 0 refers to node 4" in capsys.readouterr().err


def test_shapes_are_needed_and_the_message_says_how(tmp_path):
    path = write(tmp_path, mlp(), mlp_params())
    with pytest.raises(ValueError, match=r"input 'data' is not recorded.*input_shapes=.*--input-shape"):
        load_symbol_file(path)
    with pytest.raises(ValueError, match=r"1 input\(s\) \('data'\) but 2 shape"):
        load_symbol_file(path, X, X)
    # a fully known __shape__ on the input is used
    symbol = mlp()
    symbol["nodes"][0]["attrs"] = {"__shape__": "(2, 3, 4)"}
    path = write(tmp_path, symbol, mlp_params(), "shaped")
    assert forward_func(load_symbol_file(path)).function_type.inputs.data[0].get_shape() == (2, 3, 4)


def mutated(change) -> dict:
    symbol = mlp()
    change(symbol)
    return symbol


BAD_SYMBOLS = {
    "truncated": ('{"nodes": [{"op": "null", "name": "data", "inputs": []}, {"op": "Fully', "not valid JSON"),
    "not an object": ("[1, 2, 3]", "expected a JSON object"),
    "deeply nested": ("[" * 100000 + "]" * 100000, "not valid JSON"),
    "no nodes": (json.dumps({"heads": [[0, 0, 0]]}), "'nodes' must be a non-empty list"),
    "no heads": (mutated(lambda s: s.update(heads=[])), "'heads' must be a non-empty list"),
    "input past the list": (
        mutated(lambda s: s["nodes"][3].update(inputs=[[0, 0, 0], [99, 0, 0], [2, 0, 0]])),
        r"node 3 'fc1' \(FullyConnected\): input 1 refers to node 99, which is not an earlier node",
    ),
    "self cycle": (
        mutated(lambda s: s["nodes"][4].update(inputs=[[4, 0, 0]])),
        r"node 4 'relu1' \(Activation\): input 0 refers to node 4, which is not an earlier node \(nodes must be in topological order: a cycle",
    ),
    "two-node cycle": (
        mutated(lambda s: s["nodes"][3].update(inputs=[[4, 0, 0], [1, 0, 0], [2, 0, 0]])),
        r"node 3 'fc1' \(FullyConnected\): input 0 refers to node 4",
    ),
    "negative input": (mutated(lambda s: s["nodes"][4].update(inputs=[[-1, 0, 0]])), "refers to node -1"),
    "malformed input": (mutated(lambda s: s["nodes"][4].update(inputs=[["3", 0, 0]])), r"node 4 'relu1' \(Activation\): input 0 must be \[node, output, version\]"),
    "boolean input": (mutated(lambda s: s["nodes"][4].update(inputs=[[True, 0, 0]])), "must be \\[node, output, version\\]"),
    "head past the list": (mutated(lambda s: s.update(heads=[[7, 0, 0]])), "head 0 refers to node 7, but there are 7 nodes"),
    "output past the node": (
        mutated(lambda s: s["nodes"][4].update(inputs=[[3, 1, 0]])),
        r"node 4 'relu1' \(Activation\): input 0 reads output 1 of node 3 'fc1' \(FullyConnected\)",
    ),
    "unknown op": (
        mutated(lambda s: s["nodes"][4].update(op="FancyActivation")),
        r"node 4 'relu1' \(FancyActivation\): unsupported op 'FancyActivation'; supported ops: hybridize.frontends.mxnet.supported_ops\(\)",
    ),
    "attrs not strings": (mutated(lambda s: s["nodes"][3].update(attrs={"num_hidden": 5})), "'attrs' must map names to strings"),
    "bad attribute value": (
        mutated(lambda s: s["nodes"][3]["attrs"].update(num_hidden="five")),
        r"node 3 'fc1' \(FullyConnected\): attribute num_hidden='five' is not an integer",
    ),
    "weight shape mismatch": (
        mutated(lambda s: s["nodes"][3]["attrs"].update(num_hidden="7")),
        r"node 3 'fc1' \(FullyConnected\): weight 5x12 does not have num_hidden=7 rows",
    ),
    "variable with inputs": (mutated(lambda s: s["nodes"][1].update(inputs=[[0, 0, 0]])), r"node 1 'fc1_weight' \(variable\) is a variable but has inputs"),
    "node not an object": (mutated(lambda s: s["nodes"].__setitem__(2, "fc1_bias")), "node 2 must be a JSON object"),
    "op not a string": (mutated(lambda s: s["nodes"][4].update(op=None)), "node 4 needs string 'op' and 'name' fields"),
}


@pytest.mark.parametrize("case", list(BAD_SYMBOLS))
def test_bad_symbol_files_are_clear_errors(tmp_path, case):
    symbol, message = BAD_SYMBOLS[case]
    path = write(tmp_path, symbol, mlp_params())
    with pytest.raises((SymbolFormatError, UnsupportedOpError)) as info:
        load_symbol_file(path, X)
    assert str(info.value).startswith(str(path))
    assert len(str(info.value)) < 600
    import re

    assert re.search(message, str(info.value)), str(info.value)


def test_random_graph_mutations_are_errors_or_valid_modules():
    """Scrambled node fields never escape as anything but a FrontendError."""
    from hybridize.frontends import FrontendError

    rng = np.random.default_rng(0)
    ops = ["FullyConnected", "Activation", "Pooling", "Reshape", "Concat", "BatchNorm", "slice", "null", "dot", "Pad"]
    values = ["(2, 2)", "(0, -1)", "-3", "None", "relu", "(1, 1, 1, 1)", "True", "[None, 1]", "1e400", "(99999999999, 2)"]
    params = {k.split(":", 1)[1]: v for k, v in mlp_params().items()}
    for _ in range(400):
        symbol = mlp()
        n = symbol["nodes"][int(rng.integers(len(symbol["nodes"])))]
        what = rng.integers(3)
        if what == 0:
            n["inputs"] = [[int(rng.integers(-2, 9)), int(rng.integers(0, 3)), 0] for _ in range(rng.integers(0, 4))]
        elif what == 1:
            n["op"] = str(rng.choice(ops))
        else:
            key = str(rng.choice(["num_hidden", "act_type", "kernel", "shape", "flatten", "dim", "begin", "no_bias"]))
            n["attrs"] = {**n["attrs"], key: str(rng.choice(values))}
        try:
            lower_symbol(symbol, params, [X.shape]).verify()
        except FrontendError:
            pass


def single_op(op: str, attrs: dict) -> dict:
    if op.startswith("_zeros"):  # a creation op: no inputs
        created = {"op": op, "name": "op0", "attrs": attrs, "inputs": []}
        return {"nodes": [var("data"), created, node("broadcast_add", "add", [0, 1])], "heads": [[2, 0, 0]]}
    return {"nodes": [var("data"), node(op, "op0", [0], **attrs)], "heads": [[1, 0, 0]]}


@pytest.mark.parametrize(
    "op, attrs, shape, message",
    [
        ("_zeros", {"shape": "(100000, 100000, 100000)"}, (2,), r"shape \(100000, 100000, 100000\) is not a valid constant shape"),
        ("Reshape", {"shape": "(5, -1)"}, (2, 3, 4), r"shape \(5, -1\) cannot reshape 2x3x4"),
        ("Reshape", {"shape": "(-1, -1)"}, (2, 3, 4), "more than one -1"),
        ("Reshape", {"shape": "(1000000000, 1000000000)"}, (2, 3, 4), "elements instead of 24"),
        ("Pooling", {"kernel": "(9, 9)", "pool_type": "max"}, (1, 1, 4, 4), r"kernel \(9, 9\) is larger than the padded input"),
        ("Pooling", {"kernel": "(2, 2)", "pool_type": "lp"}, (1, 1, 4, 4), "pool_type 'lp' is not supported"),
        ("Pooling", {"kernel": "(2, 2)", "pooling_convention": "same"}, (1, 1, 4, 4), "'same' is 1-D max pooling only"),
        ("Pooling", {"kernel": "(2, 2, 2)"}, (1, 1, 4, 4, 4), "not 3-D NCW or 4-D NCHW"),
        ("Pooling", {"kernel": "(2, 2)", "stride": "(0, 1)"}, (1, 1, 4, 4), r"stride \(0, 1\) must be at least 1"),
        ("Pad", {"mode": "constant", "pad_width": "(0, 0, 0, 0, 99999, 99999, 99999, 99999)"}, (1, 1, 4, 4), "more than hybridize accepts in one tensor"),
        ("broadcast_to", {"shape": "(100000, 100000, 1000)"}, (1, 1, 1), "more than hybridize accepts in one tensor"),
        ("Pooling", {"kernel": "(2, x)"}, (1, 1, 4, 4), r"attribute kernel='\(2, x\)' is not a tuple of integers"),
        ("Activation", {"act_type": "swish"}, (2, 3), "act_type 'swish' is not supported"),
        ("Dropout", {"mode": "always"}, (2, 3), "mode='always' drops at inference too"),
        ("slice", {"begin": "(None,)", "end": "(None,)", "step": "(-1,)"}, (4,), "negative slice steps"),
        ("transpose", {"axes": "(0, 0)"}, (2, 3), r"axes \(0, 0\) are not a permutation"),
        ("expand_dims", {"axis": "5"}, (2, 3), "axis 5 is out of range for rank 3"),
    ],
)
def test_bad_op_attributes_are_clear_errors(op, attrs, shape, message):
    import re

    with pytest.raises(UnsupportedOpError) as info:
        lower_symbol(single_op(op, attrs), {}, [shape])
    assert "node 1 'op0'" in str(info.value)
    assert re.search(message, str(info.value)), str(info.value)


def test_unused_loss_label_is_not_an_input():
    symbol = {
        "nodes": [var("data"), var("softmax_label"), {"op": "SoftmaxOutput", "name": "sm", "attrs": {}, "inputs": [[0, 0, 0], [1, 0, 0]]}],
        "heads": [[2, 0, 0]],
    }
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    got = hybridize.build(lower_symbol(symbol, {}, [x.shape]), "numpy")(x)
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(1, keepdims=True), rtol=1e-5)


def test_inputs_are_ordered_data0_data1():
    symbol = {
        "nodes": [var("data1"), var("data0"), node("elemwise_sub", "sub", [1, 0])],
        "heads": [[2, 0, 0]],
    }
    a, b = np.ones((2,), np.float32), np.full((2,), 3, np.float32)
    got = hybridize.build(lower_symbol(symbol, {}, [(2,), (2,)]), "numpy")(a, b)
    np.testing.assert_array_equal(got, a - b)  # data0 - data1


def test_supported_ops_cover_the_zoo_and_common_ops():
    ops = set(supported_ops())
    zoo = {"Convolution", "BatchNorm", "Activation", "Pooling", "FullyConnected", "Concat", "clip", "Dropout", "Flatten", "elemwise_add"}
    legacy = {"relu", "sigmoid", "tanh", "softmax", "log_softmax", "elemwise_mul", "broadcast_add", "broadcast_mul",
              "broadcast_sub", "broadcast_div", "_plus_scalar", "_mul_scalar", "Reshape", "transpose", "dot", "batch_dot",
              "slice", "slice_axis", "sum", "mean", "LayerNorm", "Embedding", "LeakyReLU", "expand_dims", "SoftmaxOutput"}
    numpy_mode = {"_npi_add", "_npi_multiply", "_npi_subtract", "_npi_true_divide", "_npi_add_scalar",
                  "_npi_multiply_scalar", "_npx_relu", "_npx_sigmoid", "_npi_tanh", "_np_sum", "_np_reshape",
                  "_npx_reshape", "_np_transpose", "_npi_concatenate", "_np_dot"}
    assert zoo | legacy | numpy_mode <= ops, sorted((zoo | legacy | numpy_mode) - ops)


@pytest.mark.parametrize(
    "shape, codes, reverse, expected",
    [  # checked against MXNet 1.9.1's Reshape
        ((2, 3, 4), (4, 0, 2), False, (4, 3, 2)),
        ((2, 3, 4), (6, 1, -1), False, (6, 1, 4)),
        ((2, 3, 4), (-2, 1, 1), False, (2, 3, 4, 1, 1)),
        ((2, 3, 4), (-3, 4), False, (6, 4)),
        ((2, 3, 4, 5), (-3, -3), False, (6, 20)),
        ((2, 3, 4), (-4, 1, 2, -2), False, (1, 2, 3, 4)),
        ((2, 3, 4), (2, -4, -1, 3, -2), False, (2, 1, 3, 4)),
        ((10, 5, 4), (-1, 0), False, (40, 5)),
        ((10, 5, 4), (-1, 0), True, (50, 4)),
    ],
)
def test_legacy_reshape_codes(shape, codes, reverse, expected):
    from hybridize.frontends.mxnet import Node

    assert tuple(legacy_reshape(Node(0, "Reshape", "r", {}, []), shape, codes, reverse)) == expected
