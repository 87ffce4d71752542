"""Dynamic int8 quantisation of an exported LSTM whose scores stay independent of the batch.

onnxruntime's `DynamicQuantizeLSTM` quantises the LSTM input X and the hidden state H with a
scale computed from the minimum and maximum of the whole matrix it multiplies. For X that is
all time steps and reviews of the call, and for H all reviews of the call at each step
(onnxruntime 1.32, `ComputeGemm` in core/providers/cpu/rnn/rnn_helpers.cc). A review's score
would then depend on the other reviews of its batch.

`pin_activation_ranges` adds constant input features and constant hidden units that are the
extremes of the range in every row. Every call then gets the same minimum and maximum, and
quantises each value the same way. Their weights into the real units and into the output are
zero, so the float model computes exactly what it computed before.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

logger = logging.getLogger(__name__)

# Extra input features and hidden units, alternately at the top and the bottom of the range.
# Four rather than two keep the widths (132) a multiple of 4, which was slightly faster.
PINNED_UNITS = 4
# Bias of the input, output and forget gates of a pinned unit: sigmoid(40) rounds to 1.0 in
# float32, so the gates are fully open and the cell keeps its initial value.
SATURATING_BIAS = 40.0
# Initial cell state of a pinned unit: tanh(40) rounds to 1.0 in float32, so the unit's hidden
# state is +1 or -1, the bounds of every hidden state the LSTM can produce.
SATURATING_CELL = 40.0
GATES = 4  # ONNX LSTM gate order: input, output, forget, cell.


class QuantizationError(RuntimeError):
    """A graph that the int8 rewrite cannot handle; nothing was written."""


def _initializers(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    return {tensor.name: tensor for tensor in graph.initializer}


def _replace_initializer(graph: onnx.GraphProto, name: str, values: np.ndarray) -> None:
    for index, tensor in enumerate(graph.initializer):
        if tensor.name == name:
            graph.initializer[index].CopyFrom(numpy_helper.from_array(values, name))
            return
    raise QuantizationError(f"initializer {name!r} not found in the graph")


def _single_node(graph: onnx.GraphProto, op_type: str) -> onnx.NodeProto:
    nodes = [node for node in graph.node if node.op_type == op_type]
    if len(nodes) != 1:
        raise QuantizationError(f"expected one {op_type} node in the graph, found {len(nodes)}")
    return nodes[0]


def _alternating(value: float, dtype) -> np.ndarray:
    return np.array([value, -value] * (PINNED_UNITS // 2), dtype=dtype)


def _widen_gates(values: np.ndarray, hidden: int, extra_rows: np.ndarray) -> np.ndarray:
    """Append `extra_rows` (one per gate, shape (GATES, PINNED_UNITS, columns)) to each gate
    of each direction."""
    directions, rows, columns = values.shape
    if rows != GATES * hidden:
        raise QuantizationError(f"expected an LSTM weight of {GATES * hidden} rows, not {rows}")
    gates = values.reshape(directions, GATES, hidden, columns)
    extra = np.broadcast_to(extra_rows, (directions, *extra_rows.shape))
    widened = np.concatenate([gates, extra], axis=2)
    return widened.reshape(directions, GATES * (hidden + PINNED_UNITS), columns)


def pin_activation_ranges(proto: onnx.ModelProto, token_input: str) -> onnx.ModelProto:
    """Add constant features and hidden units that fix the range of X and H in every row.

    Expects the graph written by `export.convert`: Gather from the embedding table, one LSTM
    with `sequence_lengths` (forward or bidirectional), and one MatMul that reads its final
    state or its pooled outputs, the directions side by side.
    """
    graph = proto.graph
    tensors = _initializers(graph)
    lstm = _single_node(graph, "LSTM")
    gather = _single_node(graph, "Gather")
    if gather.input[0] not in tensors:
        raise QuantizationError("the embedding Gather does not read an initializer")
    hidden = next(attribute.i for attribute in lstm.attribute if attribute.name == "hidden_size")
    widened_hidden = hidden + PINNED_UNITS

    # Embedding: every token gets the features +bound and -bound, the extremes of the table.
    table = numpy_helper.to_array(tensors[gather.input[0]])
    bound = float(np.abs(table).max())
    pinned = np.tile(_alternating(bound, table.dtype), (table.shape[0], 1))
    _replace_initializer(graph, gather.input[0], np.concatenate([table, pinned], axis=1))

    # W: zero weights from the pinned features, and zero input weights of the pinned units.
    input_weights = numpy_helper.to_array(tensors[lstm.input[1]])
    input_weights = np.concatenate(
        [input_weights, np.zeros((*input_weights.shape[:2], PINNED_UNITS), np.float32)], axis=2
    )
    columns = input_weights.shape[2]
    input_weights = _widen_gates(
        input_weights, hidden, np.zeros((GATES, PINNED_UNITS, columns), np.float32)
    )
    _replace_initializer(graph, lstm.input[1], input_weights)

    # R: the pinned units feed no gate, and no gate feeds them.
    recurrent = numpy_helper.to_array(tensors[lstm.input[2]])
    recurrent = np.concatenate(
        [recurrent, np.zeros((*recurrent.shape[:2], PINNED_UNITS), np.float32)], axis=2
    )
    recurrent = _widen_gates(
        recurrent, hidden, np.zeros((GATES, PINNED_UNITS, widened_hidden), np.float32)
    )
    _replace_initializer(graph, lstm.input[2], recurrent)

    # B contains the W biases then the R biases, each gate by gate. Input, output and forget
    # gates of the pinned units are saturated open, and their cell candidate is tanh(0) = 0.
    biases = numpy_helper.to_array(tensors[lstm.input[3]])
    directions = biases.shape[0]
    biases = biases.reshape(directions, 2, GATES, hidden)
    extra = np.zeros((directions, 2, GATES, PINNED_UNITS), np.float32)
    extra[:, 0, :3, :] = SATURATING_BIAS
    biases = np.concatenate([biases, extra], axis=3)
    _replace_initializer(
        graph, lstm.input[3], biases.reshape(directions, 2 * GATES * widened_hidden)
    )

    _set_initial_states(graph, lstm, token_input, hidden, directions)
    for attribute in lstm.attribute:
        if attribute.name == "hidden_size":
            attribute.i = widened_hidden

    # The output layer reads the real units of each direction only.
    dense = _single_node(graph, "MatMul")
    kernel = numpy_helper.to_array(tensors[dense.input[1]])
    if kernel.shape[0] != directions * hidden:
        raise QuantizationError(
            f"the output MatMul has {kernel.shape[0]} inputs, expected {directions * hidden}: "
            "export without --quantize"
        )
    zeros = np.zeros((PINNED_UNITS, kernel.shape[1]), kernel.dtype)
    blocks = np.split(kernel, directions)
    kernel = np.concatenate([part for block in blocks for part in (block, zeros)])
    _replace_initializer(graph, dense.input[1], kernel)
    return proto


def _set_initial_states(
    graph: onnx.GraphProto, lstm: onnx.NodeProto, token_input: str, hidden: int, directions: int
) -> None:
    """Start H at zero and the pinned cells at +-`SATURATING_CELL`, for any batch size."""
    while len(lstm.input) < 7:
        lstm.input.append("")
    cell = np.zeros(hidden + PINNED_UNITS, np.float32)
    cell[hidden:] = _alternating(SATURATING_CELL, np.float32)
    graph.initializer.extend(
        [
            numpy_helper.from_array(cell, "pinned_initial_cell"),
            numpy_helper.from_array(np.array([directions], np.int64), "pinned_directions"),
            numpy_helper.from_array(np.array([hidden + PINNED_UNITS], np.int64), "pinned_width"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node(
                "Shape", [token_input], ["pinned_batch"], name="pinned_batch", start=0, end=1
            ),
            helper.make_node(
                "Concat",
                ["pinned_directions", "pinned_batch", "pinned_width"],
                ["pinned_state_shape"],
                name="pinned_state_shape",
                axis=0,
            ),
            helper.make_node(
                "Expand",
                ["pinned_initial_cell", "pinned_state_shape"],
                ["pinned_initial_c"],
                name="pinned_initial_c",
            ),
        ]
    )
    lstm.input[5] = ""  # An omitted initial_h is zero.
    lstm.input[6] = "pinned_initial_c"


def quantize_int8(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Return `proto` with its LSTM and embedding weights quantised to int8 by onnxruntime.

    The embedding is dequantised value by value, so it needs no activation range. The output
    MatMul stays float32: quantising it would take its activation range from the whole batch
    again, and it costs nothing next to the LSTM.
    """
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "float.onnx"
        target = Path(folder) / "int8.onnx"
        onnx.save(proto, source)
        quantize_dynamic(
            source, target, weight_type=QuantType.QInt8, op_types_to_quantize=["LSTM", "Gather"]
        )
        return onnx.load(target)
