"""The seed notebook (shared/seed/), cell by cell, through rowflow: every value
it prints, exactly, once through the GraphBuilder (node by node, as the
notebook writes it) and once through a layer spec (tools/examples/)."""

import math

import numpy as np
import pytest

import rowflow
from conftest import example

# The notebook's weights, cell by cell.
W_2_2 = {"node_0": [1, 1], "node_1": [-1, 1], "output": [2, -1]}
W_2_3 = {"node_0": [2, 4], "node_1": [4, -5], "output": [2, 7]}
W_3_3 = {"node_0": [3, 3], "node_1": [1, 5], "output": [2, -1]}
W_4_5 = {"node_0_0": [2, 4], "node_0_1": [4, -5], "node_1_0": [-1, 2],
         "node_1_1": [1, 2], "output": [2, 7]}
ROWS_3_4 = [np.array([3, 5]), np.array([1, -1]), np.array([0, 0]), np.array([8, 4])]


def relu(x):
    return max(0, x)


def node(b, x, weights, name, activation=None):
    """(input * weights[name]).sum(), then the activation: one seed node."""
    v = b.sum(b.multiply(x, b.constant("w_" + name, [2], weights[name])), name=name + "_input")
    if activation:
        v = b.activation(v, activation, name=name + "_output")
    return v


def two_layer(name, weights, hidden_act=None, output_act=None, dtype="F32",
              hidden_only=False):
    b = rowflow.GraphBuilder(name, dtype=dtype)
    x = b.input("input_data", [2])
    hidden = b.concat([node(b, x, weights, "node_0", hidden_act),
                       node(b, x, weights, "node_1", hidden_act)], name="hidden")
    if hidden_only:
        b.output(hidden)
    else:
        b.output(node(b, hidden, weights, "output", output_act))
    return b.build()


def run(model, x):
    with rowflow.Session(model, threads=2) as s:
        return s.run(x)


# ---- cells [1]-[2]: [5 1], then 9 --------------------------------------------

def test_cell_1_hidden_layer_values_builder():
    input_data = np.array([2, 3])
    node_0_value = (input_data * np.array(W_2_2["node_0"])).sum()
    node_1_value = (input_data * np.array(W_2_2["node_1"])).sum()
    assert str(np.array([node_0_value, node_1_value])) == "[5 1]"   # the notebook's print
    got = run(two_layer("seed_2_2_hidden", W_2_2, hidden_only=True), input_data)
    assert got.tolist() == [5, 1]
    assert str(got.astype(int)) == "[5 1]"


def test_cell_1_hidden_layer_values_spec():
    spec = """name: "seed_2_2_hidden"
              input { name: "input_data" width: 2 }
              layer { units: 2 weights { values: [1, 1, -1, 1] } }"""
    assert run(rowflow.build(spec), [2, 3]).tolist() == [5, 1]
    # And as the trace of the whole 2.2 network shows them.
    trace = rowflow.build(example("seed_2_2.pbtxt"), per_node=True).trace([2, 3])
    assert trace["node_0"].tolist() == [5, 1]
    assert str(trace["node_0"].astype(int)) == "[5 1]"


def test_cell_2_output_builder():
    got = run(two_layer("seed_2_2", W_2_2), np.array([2, 3]))
    assert got.dtype == np.float32 and got.shape == (1,)
    assert got[0] == 9


def test_cell_2_output_spec():
    assert run(rowflow.build(example("seed_2_2.pbtxt")), [2, 3])[0] == 9
    assert run(rowflow.build(example("seed_2_2.pbtxt"), per_node=True), [2, 3])[0] == 9


# ---- cell [5]: -39 ------------------------------------------------------------

def test_cell_5_no_activation_builder():
    assert run(two_layer("seed_2_3", W_2_3), np.array([3, 5]))[0] == -39


def test_cell_5_no_activation_spec():
    spec = """name: "seed_2_3"
              input { name: "input_data" width: 2 }
              layer { units: 2 weights { values: [2, 4, 4, -5] } }
              layer { units: 1 weights { values: [2, 7] } }"""
    assert run(rowflow.build(spec), [3, 5])[0] == -39


# ---- cell [6]: 0.9901095378334199 (tanh, float64 as numpy) ---------------------

def test_cell_6_tanh_builder():
    input_data = np.array([-1, 2])
    # The notebook's cell with the C library's tanh (math.tanh) prints its
    # value; numpy 1.24's own SIMD tanh(9) is one ulp off libm's, so the
    # cell as written gives 0.99010953783342 here: the notebook's number
    # is the one to match.
    node_0_output = math.tanh((input_data * np.array(W_3_3["node_0"])).sum())
    node_1_output = math.tanh((input_data * np.array(W_3_3["node_1"])).sum())
    want = (np.array([node_0_output, node_1_output]) * np.array(W_3_3["output"])).sum()
    assert repr(float(want)) == "0.9901095378334199"
    got = run(two_layer("seed_3_3", W_3_3, hidden_act="TANH", dtype="F64"), input_data)
    assert got.dtype == np.float64
    assert repr(float(got[0])) == "0.9901095378334199"
    assert got[0] == want


def test_cell_6_tanh_spec():
    m = rowflow.build(example("seed_3_3.pbtxt"))
    assert m.dtype == "F64"
    assert repr(float(run(m, [-1, 2])[0])) == "0.9901095378334199"


# ---- cell [9]: 52 (relu hidden, no relu on the output) --------------------------

def test_cell_9_relu_builder():
    input_data = np.array([3, 5])
    hidden = np.array([relu((input_data * np.array(W_2_3[n])).sum()) for n in ("node_0", "node_1")])
    assert (hidden * np.array(W_2_3["output"])).sum() == 52
    assert run(two_layer("seed_3_4", W_2_3, hidden_act="RELU"), input_data)[0] == 52


def test_cell_9_relu_spec():
    assert run(rowflow.build(example("seed_3_4.pbtxt")), [3, 5])[0] == 52


# ---- cells [10]-[11]: [52, 63, 0, 148] over the list of rows ---------------------

def test_cell_11_rows_builder():
    def predict_with_network(row, weights):
        hidden = np.array([relu((row * np.array(weights[n])).sum()) for n in ("node_0", "node_1")])
        return relu((hidden * np.array(weights["output"])).sum())

    results = [predict_with_network(row, W_2_3) for row in ROWS_3_4]
    assert results == [52, 63, 0, 148]
    m = two_layer("seed_3_4_rows", W_2_3, hidden_act="RELU", output_act="RELU")
    got = run(m, ROWS_3_4)          # the notebook's input_data list as it is
    assert got.shape == (4, 1)
    assert got[:, 0].tolist() == [52, 63, 0, 148]
    assert [int(v) for v in got[:, 0]] == results


def test_cell_11_rows_spec():
    m = rowflow.build(example("seed_3_4_rows.pbtxt"))
    assert run(m, ROWS_3_4)[:, 0].tolist() == [52, 63, 0, 148]
    csv_rows = np.loadtxt(example("seed_3_4_rows.csv"), delimiter=",", ndmin=2)
    assert run(m, csv_rows)[:, 0].tolist() == [52, 63, 0, 148]


# ---- cell [15]: 182 (two hidden layers) -------------------------------------------

def seed_4_5_builder():
    w = W_4_5
    b = rowflow.GraphBuilder("seed_4_5")
    x = b.input("input_data", [2])

    def relu_node(v, name):
        return b.activation(b.sum(b.multiply(v, b.constant("w_" + name, [2], w[name])),
                                  name=name + "_input"), "RELU", name=name + "_output")

    h0 = b.concat([relu_node(x, "node_0_0"), relu_node(x, "node_0_1")], name="hidden_0")
    h1 = b.concat([relu_node(h0, "node_1_0"), relu_node(h0, "node_1_1")], name="hidden_1")
    b.output(b.sum(b.multiply(h1, b.constant("w_output", [2], w["output"])), name="output"))
    return b.build()


def test_cell_15_deeper_builder():
    assert run(seed_4_5_builder(), np.array([3, 5])).tolist() == [182]


def test_cell_15_deeper_dense_builder():
    # The same network a layer at a time, in both dense forms.
    for per_node in (False, True):
        b = rowflow.GraphBuilder("seed_4_5_dense")
        v = b.input("input_data", [2])
        v = b.dense(v, "node_0", 2, [2, 4, 4, -5], activation="RELU", per_node=per_node)
        v = b.dense(v, "node_1", 2, np.array([[-1, 2], [1, 2]]), activation="relu",
                    per_node=per_node)
        b.output(b.dense(v, "output", 1, [2, 7], per_node=per_node))
        assert run(b.build(), [3, 5]).tolist() == [182]


@pytest.mark.parametrize("spec", ["seed_4_5.pbtxt", "seed_4_5_files.pbtxt"])
@pytest.mark.parametrize("per_node", [False, True])
def test_cell_15_deeper_spec(spec, per_node):
    m = rowflow.build(example(spec), per_node=per_node)
    assert run(m, [3, 5]).tolist() == [182]
    assert run(m, [[3, 5], [1, -1], [0, 0], [8, 4]])[:, 0].tolist() == [182, 162, 0, 392]


def test_cell_15_trace_prints_every_seed_variable():
    # trace() follows the notebook's variables in its order, with its values.
    trace = rowflow.build(example("seed_4_5.pbtxt"), per_node=True).trace([3, 5])
    want = {"node_0_0_input": 26, "node_0_0_output": 26,
            "node_0_1_input": -13, "node_0_1_output": 0,
            "node_1_0_input": -26, "node_1_0_output": 0,
            "node_1_1_input": 26, "node_1_1_output": 26}
    for k, v in want.items():
        assert trace[k] == v, (k, trace)
    names = list(trace)
    assert [n for n in names if n in want] == list(want)
    assert list(trace.values())[-1] == 182
