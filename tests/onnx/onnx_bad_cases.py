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


def many_unsupported():
    """Seven nodes of five op types rowflow does not import, among ops it
    does: every one is counted, four named."""
    n = [helper.make_node("Conv", ["x", "W"], ["c1"], name="conv1"),
         helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
         helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1"),
         helper.make_node("Sqrt", ["p1"], ["s1"], name="sqrt1"),
         helper.make_node("Conv", ["s1", "W"], ["c2"], name="conv2"),
         helper.make_node("LRN", ["c2"], ["l2"], name="lrn2", size=3),
         helper.make_node("Sin", ["l2"], ["t2"]),
         helper.make_node("Conv", ["t2", "W"], ["y"], name="conv3")]
    return net(n, [weight("W", 1, 1, 1)])


def unsupported(op, inputs, inits=(), **attrs):
    return lambda: net([helper.make_node(op, inputs, ["y"], name="bad_node", **attrs)], inits)


def bn(attrs, opset=13, outputs=("y",)):
    return lambda: net([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"],
                                         list(outputs), name="bn", **attrs)],
                       [weight(k, 4) for k in "sbmv"], opset=opset)


def batch_broadcast():
    """y [1, 3] broadcast over x's batch of 2 (ONNX's
    test_operator_add_size1_singleton_broadcast): not rows of one batch."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "y"], ["z"])], "bad",
        [helper.make_tensor_value_info("x", F, [2, 3]),
         helper.make_tensor_value_info("y", F, [1, 3])],
        [helper.make_tensor_value_info("z", F, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def dropout_mask_read():
    return net([helper.make_node("Dropout", ["x"], ["d", "mask"], name="drop"),
                helper.make_node("Cast", ["mask"], ["mf"], to=F),
                helper.make_node("Add", ["d", "mf"], ["y"], name="add")], opset=11)


BAD_CASES = [
    ("many_unsupported", many_unsupported,
     r"many_unsupported\.onnx: 7 nodes have ops rowflow does not import: 'conv1' \(Conv\), "
     r"'pool1' \(MaxPool\), 'sqrt1' \(Sqrt on rows\), 'conv2' \(Conv\) and 3 more; op types: "
     r"Conv, MaxPool, Sqrt, LRN, Sin; see README, \"What import-onnx reads\"$"),
    ("div_by_rows", unsupported("Div", ["x", "x"]),
     r"\(Div, opset 13\): divides by 'x', a value computed from the rows; rowflow divides by "
     r"constants only"),
    ("div_const_by_rows", unsupported("Div", ["K", "x"], [weight("K", 4)]),
     r"\(Div, opset 13\): divides by 'x', a value computed from the rows"),
    ("bn_training_mode", bn({"training_mode": 1}, opset=15),
     r"node 'bn' \(BatchNormalization, opset 15\): training_mode=1 normalizes with the batch's "
     r"own statistics"),
    ("bn_training_outputs", bn({}, outputs=("y", "rm", "rv")),
     r"node 'bn' \(BatchNormalization, opset 13\): has 3 outputs, the batch statistics of "
     r"training mode"),
    ("bn_is_test_0", bn({"spatial": 1}, opset=6),
     r"\(BatchNormalization, opset 6\): is_test=0 \(the default before opset 7\)"),
    ("bn_wrong_shape", lambda: net([helper.make_node("BatchNormalization",
                                                     ["x", "s", "b", "m", "v"], ["y"])],
                                   [weight(k, 3) for k in "sbmv"]),
     r"input 1 \(scale, 's'\) has shape \[3\]; expected \[4\]"),
    ("reshape_rank3", lambda: net([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")],
                                  [helper.make_tensor("s", TensorProto.INT64, [4],
                                                      [0, 2, 1, 2])]),
     r"node 'rs' \(Reshape, opset 13\): the result has shape \[2, 1, 2\] per row; rowflow "
     r"values have at most 2 dims besides the batch"),
    ("reshape_batch", lambda: net([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")],
                                  [helper.make_tensor("s", TensorProto.INT64, [1], [-1])]),
     r"\(Reshape, opset 13\): shape \[-1\] does not keep the batch dimension apart"),
    ("squeeze_not_unit", lambda: net([helper.make_node("Squeeze", ["x"], ["y"], axes=[1])],
                                     opset=11),
     r"\(Squeeze, opset 11\): axis 1 has size 4 \(shape \[1, 4\], batch first\); Squeeze "
     r"removes unit dims only"),
    ("transpose_rows", lambda: net([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 1])],
                                   x_dims=("N", 2, 3)),
     r"\(Transpose, opset 13\): perm \[0, 2, 1\] reorders the elements of a row"),
    ("cast_rows", unsupported("Cast", ["x"], to=TensorProto.DOUBLE),
     r"\(Cast, opset 13\): casts row values to DOUBLE; rowflow graphs hold one element type"),
    ("dropout_training", lambda: net([
        helper.make_node("Dropout", ["x", "", "t"], ["y"], name="drop")],
        [helper.make_tensor("t", TensorProto.BOOL, [], [True])]),
     r"node 'drop' \(Dropout, opset 13\): training_mode is true"),
    ("dropout_mask_read", dropout_mask_read,
     r"node 'mf' \(Cast, opset 11\): input 0 \('mask'\) is Dropout's mask, which rowflow "
     r"does not compute"),
    ("hard_swish_opset13", unsupported("HardSwish", ["x"]),
     r"HardSwish is an operator of opset 14 and later; the model declares 13"),
    ("gemm_broadcast_0", lambda: net([helper.make_node("Gemm", ["x", "W", "b"], ["y"],
                                                       transB=1)],
                                     [weight("W", 3, 4), weight("b", 3)], opset=6),
     r"\(Gemm, opset 6\): broadcast=0 \(the default before opset 7\) needs C of the full "
     r"output shape"),
    ("add_legacy_const_first", lambda: net([helper.make_node("Add", ["K", "x"], ["y"],
                                                             broadcast=1)],
                                           [weight("K", 4)], opset=6),
     r"\(Add, opset 6\): input 0 is a constant and input 1 a value computed from the rows; "
     r"before opset 7 only input 1 broadcasts"),
    ("add_legacy_no_broadcast", lambda: net([helper.make_node("Add", ["x", "K"], ["y"])],
                                            [weight("K", 4)], opset=6),
     r"\(Add, opset 6\): broadcast=0 \(the default before opset 7\) needs inputs of one "
     r"shape, batch included; constant input 1 has shape \[4\]"),
    ("prelu_legacy_channels", lambda: net([helper.make_node("PRelu", ["x", "a"], ["y"])],
                                          [weight("a", 3)], opset=6, x_dims=("N", 2, 3)),
     r"\(PRelu, opset 6\): slope 'a' has shape \[3\]; expected .*before opset 7"),
    ("cast_const_to_int", lambda: net([helper.make_node("Cast", ["K"], ["k"], name="ck", to=7),
                                       helper.make_node("Add", ["x", "k"], ["y"])],
                                      [weight("K", 4)]),
     r"node 'ck' \(Cast, opset 13\): casts constant 'K' \(FLOAT\) to INT64"),
    ("empty", lambda: b"", r"empty file; expected an ONNX model"),
    ("truncated", lambda: good().SerializeToString()[:-9],
     r"not a valid ONNX model \(truncated or corrupt"),
    ("truncated_half", lambda: good().SerializeToString()[:60],
     r"not a valid ONNX model \(truncated or corrupt"),
    ("garbage", lambda: bytes(range(256)) * 4, r"not a valid ONNX model|has no graph"),
    ("unknown_op", unsupported("Conv", ["x", "W"], [weight("W", 1, 1, 1)]),
     r"unknown_op\.onnx: 1 node has an op rowflow does not import: 'bad_node' \(Conv\); "
     r"see README, \"What import-onnx reads\"$"),
    ("unknown_op_lstm", unsupported("Sin", ["x"]),
     r"1 node has an op rowflow does not import: 'bad_node' \(Sin\); see README"),
    ("custom_domain", lambda: net([helper.make_node("FusedMatMul", ["x", "x"], ["y"],
                                                    name="fm", domain="com.microsoft")],
                                  domain_opsets=[("com.microsoft", 1)]),
     r"1 node has an op rowflow does not import: 'fm' \(com\.microsoft\.FusedMatMul\);"),
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
     r"opset 99 is not supported; rowflow imports opsets 1 to 22"),
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
    ("constant_only_node", lambda: net([helper.make_node("Relu", ["K"], ["k2"], name="kk"),
                                        helper.make_node("Add", ["x", "k2"], ["y"])],
                                       [weight("K", 4)]),
     r"node 'kk' \(Relu, opset 13\): input 0 \('K'\) is a constant; expected a value "
     r"computed from the rows \(rowflow folds only Add, Sub, .*Unsqueeze of constants\)"),
    ("batch_broadcast", batch_broadcast,
     r"inputs 'x' and 'y' have batch dims 2 and 1; rowflow reads one batch dim shared by "
     r"every input"),
    ("cos_alone", unsupported("Cos", ["x"]),
     r"1 node has an op rowflow does not import: 'bad_node' \(Cos\)"),
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
    ("flatten_batch", lambda: net([helper.make_node("Flatten", ["x"], ["y"], name="fl",
                                                    axis=0)],
                                  x_dims=("N", 2, 3)),
     r"node 'fl' \(Flatten, opset 13\): axis 0 folds the batch dimension into another one"),
]
