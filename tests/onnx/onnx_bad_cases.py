"""Malformed or unsupported ONNX models for rowflow's import tests (used by
onnx_cases.py). Each case is (name, make, message regex); make() returns a
ModelProto or raw bytes. `rowflow import-onnx` must exit 3 with one line
matching the regex and write nothing.
"""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def net(nodes, inits=(), opset=13, x_dims=("N", 4), outputs=("y",), domain_opsets=()):
    graph = helper.make_graph(
        list(nodes), "bad", [helper.make_tensor_value_info("x", F, list(x_dims))],
        [helper.make_tensor_value_info(o, F, None) for o in outputs], list(inits))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v)
                                                 for d, v in domain_opsets]
    return helper.make_model(graph, opset_imports=opsets)


def weight(name, *shape, dtype=np.float32):
    return numpy_helper.from_array(np.ones(shape, dtype=dtype), name)


def good():
    return net([helper.make_node("Gemm", ["x", "W", "b"], ["h"], name="fc", transB=1),
                helper.make_node("Relu", ["h"], ["y"], name="act")],
               [weight("W", 3, 4), weight("b", 3)])


def wrong_size_typed():
    w = TensorProto(name="W", data_type=F, dims=[4, 3])
    w.float_data.extend([1.0] * 11)
    return net([helper.make_node("MatMul", ["x", "W"], ["y"])], [w])


def wrong_size_raw():
    w = TensorProto(name="W", data_type=F, dims=[4, 3])
    w.raw_data = b"\0" * 44
    return net([helper.make_node("MatMul", ["x", "W"], ["y"])], [w])


def huge_shape():
    w = TensorProto(name="W", data_type=F, dims=[1 << 31, 1 << 31])
    w.raw_data = b"\0" * 16
    return net([helper.make_node("MatMul", ["x", "W"], ["y"])], [w])


def external_data():
    w = TensorProto(name="W", data_type=F, dims=[4, 3])
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    return net([helper.make_node("MatMul", ["x", "W"], ["y"])], [w])


def no_opset():
    m = good()
    del m.opset_import[:]
    return m


def unsupported(op, inputs, inits=(), **attrs):
    return lambda: net([helper.make_node(op, inputs, ["y"], name="bad_node", **attrs)], inits)


BAD_CASES = [
    ("empty", lambda: b"", r"empty file; expected an ONNX model"),
    ("truncated", lambda: good().SerializeToString()[:-9],
     r"not a valid ONNX model \(truncated or corrupt"),
    ("truncated_half", lambda: good().SerializeToString()[:60],
     r"not a valid ONNX model \(truncated or corrupt"),
    ("garbage", lambda: bytes(range(256)) * 4, r"not a valid ONNX model|has no graph"),
    ("unknown_op", unsupported("Conv", ["x", "W"], [weight("W", 1, 1, 1)]),
     r"node 'bad_node' \(Conv, opset 13\): not supported; rowflow imports MatMul, Gemm, "),
    ("unknown_op_lstm", unsupported("Sin", ["x"]),
     r"node 'bad_node' \(Sin, opset 13\): not supported"),
    ("custom_domain", lambda: net([helper.make_node("FusedMatMul", ["x", "x"], ["y"],
                                                    name="fm", domain="com.microsoft")],
                                  domain_opsets=[("com.microsoft", 1)]),
     r"node 'fm' \(com\.microsoft\.FusedMatMul, opset 1\): not supported"),
    ("wrong_init_size_typed", wrong_size_typed,
     r"initializer 'W': data length does not match shape \[4, 3\]; expected 12 FLOAT "
     r"values, got 11"),
    ("wrong_init_size_raw", wrong_size_raw,
     r"initializer 'W': raw_data does not match shape \[4, 3\] of FLOAT; expected 12 x 4 "
     r"bytes, got 44 bytes"),
    ("huge_init_shape", huge_shape, r"initializer 'W': raw_data does not match shape"),
    ("external_data", external_data,
     r"initializer 'W' keeps its data in an external file \('weights\.bin'\)"),
    ("fp16_init", lambda: net([helper.make_node("MatMul", ["x", "W"], ["y"])],
                              [weight("W", 4, 3, dtype=np.float16)]),
     r"initializer 'W' has element type FLOAT16; expected FLOAT or DOUBLE"),
    ("cycle", lambda: net([helper.make_node("Relu", ["b"], ["a"], name="A"),
                           helper.make_node("Tanh", ["a"], ["b"], name="B"),
                           helper.make_node("Add", ["x", "b"], ["y"], name="C")]),
     r"node '[AB]' \((Relu|Tanh), opset 13\): is on a cycle \((A -> B|B -> A) -> \.\.\.\)"),
    ("self_cycle", lambda: net([helper.make_node("Add", ["x", "y"], ["y"], name="S")]),
     r"node 'S' \(Add, opset 13\): is on a cycle \(S -> \.\.\.\)"),
    ("missing_input", lambda: net([helper.make_node("Add", ["x", "nope"], ["y"], name="A")]),
     r"node 'A' \(Add, opset 13\): input 'nope' is not defined"),
    ("missing_output", lambda: net([helper.make_node("Relu", ["x"], ["h"])]),
     r"graph output 'y' is not defined"),
    ("defined_twice", lambda: net([helper.make_node("Relu", ["x"], ["y"], name="r1"),
                                   helper.make_node("Tanh", ["x"], ["y"], name="r2")]),
     r"node 'r2' \(Tanh, opset 13\): output 'y' is also the output of node 'r1'"),
    ("no_opset", no_opset, r"declares no opset for the default ONNX domain"),
    ("opset_too_new", lambda: net([helper.make_node("Relu", ["x"], ["y"])], opset=99),
     r"opset 99 is not supported; rowflow imports opsets 7 to 22"),
    ("gemm_trans_a", unsupported("Gemm", ["x", "W"], [weight("W", 4, 3)], transA=1),
     r"\(Gemm, opset 13\): transA=1 would transpose the batch dimension"),
    ("gemm_weights_from_rows", unsupported("Gemm", ["x", "x"]),
     r"input 1 \('x'\) is computed from the rows; rowflow needs a constant"),
    ("bias_spans_batch", unsupported("Add", ["x", "B"], [weight("B", 7, 4)]),
     r"constant 'B' has shape \[7, 4\], whose first dim lines up with the batch"),
    ("reduce_batch_axis", unsupported("ReduceSum", ["x", "ax"], [
        helper.make_tensor("ax", TensorProto.INT64, [1], [0])]),
     r"\(ReduceSum, opset 13\): axis 0 is the batch dimension"),
    ("softmax_not_last", lambda: net([helper.make_node("Softmax", ["x"], ["y"], name="sm",
                                                       axis=1)], x_dims=("N", 2, 3)),
     r"node 'sm' \(Softmax, opset 13\): axis 1 on shape \[2, 3\] per row; rowflow's "
     r"SOFTMAX normalizes over the last axis"),
    ("symbolic_row_dim", lambda: net([helper.make_node("Relu", ["x"], ["y"])],
                                     x_dims=("N", "C")),
     r"input 'x' dim 1 is 'C'; expected a fixed size"),
    ("matmul_dims_mismatch", unsupported("MatMul", ["x", "W"], [weight("W", 5, 2)]),
     r"input 1 \('W'\) has shape \[5, 2\]; expected its first dim to be 4"),
    ("unknown_attribute", unsupported("Relu", ["x"], extra=1),
     r"\(Relu, opset 13\): attribute 'extra' is not supported"),
    ("dtype_mismatch", unsupported("MatMul", ["x", "W"], [weight("W", 4, 3, dtype=np.float64)]),
     r"constant 'W' is DOUBLE but the model's inputs are FLOAT"),
    ("concat_constant", unsupported("Concat", ["x", "K"], [weight("K", 1, 2)], axis=1),
     r"\(Concat, opset 13\): input 1 \('K'\) is a constant; expected a value computed "
     r"from the rows"),
    ("constant_only_node", lambda: net([helper.make_node("Add", ["K", "K"], ["k2"], name="kk"),
                                        helper.make_node("Add", ["x", "k2"], ["y"])],
                                       [weight("K", 4)]),
     r"node 'kk' \(Add, opset 13\): both inputs are constants"),
    ("cos_alone", unsupported("Cos", ["x"]),
     r"node 'bad_node' \(Cos, opset 13\): not supported; rowflow imports .*GELU.* in the "
     r"expanded forms PyTorch exports"),
    ("gelu_wrong_constant", lambda: net(
        [helper.make_node("Div", ["x", "c"], ["d"], name="div"),
         helper.make_node("Erf", ["d"], ["e"], name="erf"),
         helper.make_node("Add", ["e", "one"], ["a"]),
         helper.make_node("Mul", ["x", "a"], ["m"]),
         helper.make_node("Mul", ["m", "half"], ["y"])],
        [numpy_helper.from_array(np.array(v, np.float32), k)
         for k, v in [("c", 1.5), ("one", 1.0), ("half", 0.5)]]),
     r"node 'div' \(Div, opset 13\): not supported"),
    ("gelu_before_opset_20", unsupported("Gelu", ["x"]),
     r"node 'bad_node' \(Gelu, opset 13\): Gelu is an operator of opset 20 and later; "
     r"the model declares 13"),
    ("gelu_unknown_approximate", lambda: net(
        [helper.make_node("Gelu", ["x"], ["y"], name="g", approximate="fast")], opset=20),
     r"node 'g' \(Gelu, opset 20\): approximate='fast' is not supported; rowflow reads "
     r"'none' or 'tanh'"),
    ("elu_unknown_attribute", unsupported("Elu", ["x"], beta=1.0),
     r"\(Elu, opset 13\): attribute 'beta' is not supported; rowflow reads alpha"),
    ("log_softmax_not_last", lambda: net([helper.make_node("LogSoftmax", ["x"], ["y"],
                                                           name="lsm", axis=1)],
                                         x_dims=("N", 2, 3)),
     r"node 'lsm' \(LogSoftmax, opset 13\): axis 1 on shape \[2, 3\] per row; rowflow's "
     r"LOG_SOFTMAX normalizes over the last axis"),
    ("flatten_matrix", lambda: net([helper.make_node("Flatten", ["x"], ["y"], name="fl")],
                                   x_dims=("N", 2, 3)),
     r"node 'fl' \(Flatten, opset 13\): input has shape \[2, 3\] per row; rowflow imports "
     r"Flatten of an already flat input only"),
]
