"""Convert a run folder's best checkpoint to one self-contained ONNX file."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import onnx
import onnxruntime
import tensorflow as tf
import tf2onnx
from onnx import helper

from export import accuracy
from export import quantize as quantization
from score import metadata as model_metadata
from score.preprocessing import Vocabulary
from train.data import DataError
from train.model import LAST, LSTM, MASKED_OUTPUT, build_model
from train.run import CHECKPOINT_NAME, METRICS_NAME, PREPROCESSING_NAME, VOCABULARY_NAME

logger = logging.getLogger(__name__)

OPSET = 17
TOKEN_IDS = "token_ids"
SEQUENCE_LENGTHS = "sequence_lengths"
SCORES = "scores"
PARITY_REVIEWS = 1024
PARITY_TOLERANCE = 1e-4
INT8 = "int8"
QUANTIZATIONS = (INT8,)
# Largest drop in accuracy, as a fraction, that `--quantize` accepts on the labelled data.
MAX_ACCURACY_LOSS = 0.003
STANDARD_DOMAINS = {"", "ai.onnx"}


class ExportError(RuntimeError):
    """An export that failed a check; nothing was written."""


@dataclass
class Run:
    """Contents of a training run folder."""

    folder: Path
    model: keras.Model
    vocabulary: Vocabulary
    settings: dict
    metrics: dict


def load_run(folder: str | Path) -> Run:
    """Load the best checkpoint, vocabulary, settings and metrics of a run folder."""
    folder = Path(folder)
    checkpoint = folder / CHECKPOINT_NAME
    if not checkpoint.is_file():
        raise ExportError(f"{checkpoint} not found: pass a run folder written by `python -m train`")
    words = (folder / VOCABULARY_NAME).read_text(encoding="utf-8").split("\n")
    return Run(
        folder=folder,
        model=keras.models.load_model(checkpoint),
        vocabulary=Vocabulary(tuple(word for word in words if word)),
        settings=json.loads((folder / PREPROCESSING_NAME).read_text()),
        metrics=json.loads((folder / METRICS_NAME).read_text()),
    )


def _inference_twin(run: Run) -> keras.Model:
    """Return the model without its padding mask, with the same weights.

    tf2onnx turns a masked Keras LSTM into an ONNX Loop. Without the mask it emits the standard
    LSTM operator, and `_add_sequence_lengths` then gives that operator the per-review lengths.
    With `sequence_lens` the operator computes what the masked Keras layer computes.
    """
    if run.settings["architecture"] != LSTM:
        return run.model
    layers = {type(layer).__name__: layer for layer in run.model.layers}
    bidirectional = run.settings.get("bidirectional", False)
    lstm = layers["Bidirectional"].forward_layer if bidirectional else layers["LSTM"]
    twin = build_model(
        LSTM,
        vocabulary_size=run.settings["vocabulary_size"],
        sequence_length=run.settings["sequence_length"],
        embedding_dim=layers["Embedding"].output_dim,
        units=lstm.units,
        mask_padding=False,
        pooling=run.settings.get("pooling", LAST),
        bidirectional=bidirectional,
    )
    twin.set_weights(run.model.get_weights())
    return twin


def _convert(model: keras.Model, fixed_length: int | None) -> onnx.ModelProto:
    signature = (tf.TensorSpec((None, fixed_length), tf.int32, name=TOKEN_IDS),)

    @tf.function(input_signature=signature)
    def predict(token_ids):
        return {SCORES: model(token_ids, training=False)}

    proto, _ = tf2onnx.convert.from_function(predict, input_signature=signature, opset=OPSET)
    return proto


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def _add_sequence_lengths(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Give the LSTM node a `sequence_lengths` input and make the graph respect it.

    With `sequence_lens`, the ONNX LSTM stops at each review's last real token: Y is zero after
    it and Y_h is the state there. The converted graph still reads the padded width, so its
    readout is rewired. The last-state model reads Y_h instead of the last step of Y. The
    mean-pooling model divides the sum of Y by the lengths instead of averaging over the width.
    The max-pooling model masks the padded steps of Y before its maximum.
    """
    graph = proto.graph
    lstm_nodes = [node for node in graph.node if node.op_type == "LSTM"]
    if len(lstm_nodes) != 1:
        raise ExportError(f"expected one LSTM node in the converted graph, found {len(lstm_nodes)}")
    lstm = lstm_nodes[0]
    while len(lstm.input) < 5:
        lstm.input.append("")
    lstm.input[4] = SEQUENCE_LENGTHS
    graph.input.append(
        helper.make_tensor_value_info(SEQUENCE_LENGTHS, onnx.TensorProto.INT32, ["batch"])
    )

    consumers = _consumers(graph)
    reader = _time_reader(lstm, consumers)
    if reader.op_type == "ReduceMean":
        _divide_sum_by_lengths(graph, reader)
    elif reader.op_type == "ReduceMax":
        _mask_padded_steps(graph, reader)
    else:
        _read_final_state(graph, lstm, consumers, reader)
    _sort_topologically(graph)
    _remove_unused_nodes(graph)
    # An LSTM with no Y output also skips writing every step to it: drop the outputs not read.
    read = {name for node in graph.node for name in node.input}
    if lstm.output[0] not in read:
        lstm.output[0] = ""
    if len(lstm.output) > 2 and lstm.output[2] not in read:
        del lstm.output[2:]
    return proto


def _time_reader(lstm: onnx.NodeProto, consumers) -> onnx.NodeProto:
    """Return the node that reads Y across time: a ReduceMean, a ReduceMax or a step Slice.

    Shape operations between Y and that node are followed. A bidirectional LSTM's Y is also
    sliced into its two directions and concatenated again, so there Slice and Concat are
    followed too, and only a reduction over time may end the paths.
    """
    bidirectional = any(
        attribute.name == "direction" and attribute.s == b"bidirectional"
        for attribute in lstm.attribute
    )
    followed = {"Squeeze", "Transpose", "Reshape"}
    ends = {"ReduceMean", "ReduceMax"}
    if bidirectional:
        followed |= {"Slice", "Concat"}
    else:
        ends |= {"Slice", "Gather"}
    found: dict[int, onnx.NodeProto] = {}
    pending = [lstm.output[0]]
    while pending:
        tensor = pending.pop()
        readers = consumers.get(tensor, [])
        if not readers:
            raise ExportError(f"LSTM output {tensor} is not reduced over time")
        for reader in readers:
            if reader.op_type in ends:
                found[id(reader)] = reader
            elif reader.op_type in followed:
                pending.extend(reader.output)
            else:
                raise ExportError(
                    f"unexpected {reader.op_type} node after the LSTM in the converted graph"
                )
    if len(found) != 1:
        raise ExportError(f"LSTM output is read by {len(found)} nodes across time, expected 1")
    return next(iter(found.values()))


def _read_final_state(graph, lstm, consumers, step_reader) -> None:
    # The last time step is cut out of Y by Slice (and Squeeze); its final tensor has the
    # shape (batch, units). Every reader of that tensor reads Y_h instead.
    tensor = step_reader.output[0]
    while len(consumers.get(tensor, [])) == 1 and consumers[tensor][0].op_type == "Squeeze":
        tensor = consumers[tensor][0].output[0]
    axes = helper.make_tensor("final_state_axes", onnx.TensorProto.INT64, [1], [0])
    graph.initializer.append(axes)
    graph.node.append(
        helper.make_node(
            "Squeeze", [lstm.output[1], axes.name], ["final_state"], name="final_state"
        )
    )
    for node in consumers.get(tensor, []):
        for index, name in enumerate(node.input):
            if name == tensor:
                node.input[index] = "final_state"


def _divide_sum_by_lengths(graph, mean: onnx.NodeProto) -> None:
    axes = [attribute for attribute in mean.attribute if attribute.name == "axes"]
    keepdims = [attribute.i for attribute in mean.attribute if attribute.name == "keepdims"]
    if len(axes) != 1 or list(axes[0].ints) != [0] or keepdims != [0]:
        raise ExportError("the mean over the LSTM outputs is not over the time axis")
    summed, lengths, divisor = "output_sum", "lengths_float", "lengths_column"
    graph.initializer.append(helper.make_tensor("time_axis", onnx.TensorProto.INT64, [1], [0]))
    graph.initializer.append(helper.make_tensor("column_axis", onnx.TensorProto.INT64, [1], [1]))
    graph.node.extend(
        [
            helper.make_node(
                "ReduceSum", [mean.input[0], "time_axis"], [summed], keepdims=0, name=summed
            ),
            helper.make_node(
                "Cast", [SEQUENCE_LENGTHS], [lengths], to=onnx.TensorProto.FLOAT, name=lengths
            ),
            helper.make_node("Unsqueeze", [lengths, "column_axis"], [divisor], name=divisor),
            helper.make_node("Div", [summed, divisor], [mean.output[0]], name="output_mean"),
        ]
    )
    graph.node.remove(mean)


def _mask_padded_steps(graph, maximum: onnx.NodeProto) -> None:
    # Y is zero after a review's last token, and zero can exceed every real output. As in
    # Keras' masked layer, the padded steps are replaced by MASKED_OUTPUT before the maximum.
    axes = [attribute for attribute in maximum.attribute if attribute.name == "axes"]
    if len(axes) != 1 or list(axes[0].ints) != [0]:
        raise ExportError("the maximum over the LSTM outputs is not over the time axis")
    outputs = maximum.input[0]
    graph.initializer.extend(
        [
            helper.make_tensor("step_zero", onnx.TensorProto.INT64, [], [0]),
            helper.make_tensor("step_one", onnx.TensorProto.INT64, [], [1]),
            helper.make_tensor("step_axis", onnx.TensorProto.INT64, [1], [1]),
            helper.make_tensor("unit_axis", onnx.TensorProto.INT64, [1], [2]),
            helper.make_tensor("masked_output", onnx.TensorProto.FLOAT, [], [MASKED_OUTPUT]),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("Shape", [outputs], ["outputs_shape"], end=1, name="outputs_shape"),
            helper.make_node("Squeeze", ["outputs_shape"], ["steps"], name="steps"),
            helper.make_node(
                "Range", ["step_zero", "steps", "step_one"], ["step_index"], name="step_index"
            ),
            helper.make_node(
                "Unsqueeze", ["step_index", "step_axis"], ["step_column"], name="step_column"
            ),
            helper.make_node(
                "Cast",
                [SEQUENCE_LENGTHS],
                ["lengths_int64"],
                to=onnx.TensorProto.INT64,
                name="lengths_int64",
            ),
            helper.make_node(
                "Less", ["step_column", "lengths_int64"], ["real_steps"], name="real_steps"
            ),
            helper.make_node(
                "Unsqueeze", ["real_steps", "unit_axis"], ["real_step_mask"], name="real_step_mask"
            ),
            helper.make_node(
                "Where",
                ["real_step_mask", outputs, "masked_output"],
                ["masked_outputs"],
                name="masked_outputs",
            ),
        ]
    )
    maximum.input[0] = "masked_outputs"


def _remove_unused_nodes(graph: onnx.GraphProto) -> None:
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    initializers = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def _sort_topologically(graph: onnx.GraphProto) -> None:
    available = {value.name for value in graph.input} | {init.name for init in graph.initializer}
    available.add("")
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [node for node in pending if all(name in available for name in node.input)]
        if not ready:
            missing = sorted({name for node in pending for name in node.input} - available)
            raise ExportError(f"the converted graph has a cycle or unknown inputs {missing}")
        for node in ready:
            ordered.append(node)
            available.update(node.output)
        pending = [node for node in pending if node not in ready]
    del graph.node[:]
    graph.node.extend(ordered)


def _rename_output(proto: onnx.ModelProto) -> None:
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        for index, name in enumerate(node.output):
            if name == old:
                node.output[index] = SCORES
    proto.graph.output[0].name = SCORES


def parity_reviews(run: Run, count: int = PARITY_REVIEWS, seed: int = 0) -> np.ndarray:
    """Generate `count` encoded reviews of every length from 1 to the sequence length."""
    length = run.settings["sequence_length"]
    generator = np.random.default_rng(seed)
    lengths = np.concatenate([[1, length], generator.integers(1, length + 1, count - 2)])
    ids = generator.integers(1, run.vocabulary.size, (count, length), dtype=np.int32)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return ids


def check_parity(run: Run, proto: onnx.ModelProto, ids: np.ndarray) -> float:
    """Return the largest absolute difference between Keras and ONNX scores on `ids`."""
    expected = run.model.predict(ids, batch_size=256, verbose=0).reshape(-1)
    session = onnxruntime.InferenceSession(
        proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    lengths = (ids != 0).sum(axis=1).astype(np.int32)
    actual = np.empty(len(ids), dtype=np.float32)
    uses_lengths = any(value.name == SEQUENCE_LENGTHS for value in session.get_inputs())

    # Score in batches trimmed to their longest review, as the scorer does, so the check also
    # proves that trailing padding does not change a score.
    for start in range(0, len(ids), 64):
        rows = slice(start, start + 64)
        feed = {TOKEN_IDS: ids[rows]}
        if uses_lengths:
            feed[TOKEN_IDS] = np.ascontiguousarray(ids[rows, : lengths[rows].max()])
            feed[SEQUENCE_LENGTHS] = lengths[rows]
        actual[rows] = session.run([SCORES], feed)[0].reshape(-1)
    return float(np.abs(actual - expected).max())


def export_run(
    run_folder: str | Path,
    output: str | Path,
    tolerance: float = PARITY_TOLERANCE,
    quantize: str | None = None,
    data: str | Path | None = None,
    max_accuracy_loss: float = MAX_ACCURACY_LOSS,
) -> dict:
    """Convert the best checkpoint of `run_folder`, check it and write `output` atomically.

    With `quantize="int8"` the LSTM and embedding weights are quantised (see `export.quantize`)
    and the accuracy on the labelled reviews in `data` is measured before and after. Returns
    the metadata written into the model. Raises `ExportError`, and writes nothing, in these
    cases: the ONNX scores differ from Keras by more than `tolerance`, the float graph uses an
    operator outside the standard ONNX domain, or quantisation loses more than
    `max_accuracy_loss` of accuracy or makes a score depend on its batch.
    """
    started = time.monotonic()
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ExportError(f"quantisation {quantize!r} is not supported: use one of {QUANTIZATIONS}")
    if quantize is not None and data is None:
        raise ExportError(
            "quantisation needs labelled data to measure accuracy: pass --data with a CSV file "
            "or an aclImdb folder"
        )
    run = load_run(run_folder)
    is_lstm = run.settings["architecture"] == LSTM
    if quantize is not None and not is_lstm:
        raise ExportError(f"quantisation supports the {LSTM} architecture only")
    fixed_length = None if is_lstm else run.settings["sequence_length"]
    proto = _convert(_inference_twin(run), fixed_length)
    if is_lstm:
        proto = _add_sequence_lengths(proto)
    _rename_output(proto)
    onnx.checker.check_model(proto, full_check=True)

    foreign = sorted({node.domain for node in proto.graph.node} - STANDARD_DOMAINS)
    if foreign:
        raise ExportError(f"the graph uses non-standard operator domains {foreign}")

    difference = check_parity(run, proto, parity_reviews(run))
    logger.info("largest |ONNX - Keras| score difference: %.2e", difference)
    if not difference <= tolerance:
        raise ExportError(
            f"ONNX scores differ from Keras by {difference:.2e}, above {tolerance:.0e}: "
            "the model was not written"
        )
    record = {
        "parity_reviews": PARITY_REVIEWS,
        "parity_max_abs_difference": difference,
        "tf2onnx": tf2onnx.__version__,
        "opset": OPSET,
        "optimizations": ["unused_lstm_outputs_removed"] if is_lstm else [],
    }

    # The scorer that measures accuracy reads the metadata, so the float model gets it first.
    metadata = _set_metadata(proto, run, record)
    if quantize == INT8:
        proto = _quantize_int8(proto, Path(data), max_accuracy_loss, record)
        metadata = _set_metadata(proto, run, record)
    proto.producer_name = "sentiment-export"
    proto.doc_string = f"Sentiment model exported from {run.folder.name}"
    write_atomically(proto, Path(output))
    logger.info("wrote %s in %.1f s", output, time.monotonic() - started)
    return metadata


def _set_metadata(proto: onnx.ModelProto, run: Run, record: dict) -> dict[str, str]:
    """Write the model metadata into `proto`, replacing earlier entries; return it."""
    metadata = model_metadata.build(
        vocabulary=run.vocabulary,
        settings=run.settings,
        metrics=run.metrics,
        export=record,
        threshold=run.metrics.get("threshold", model_metadata.DEFAULT_THRESHOLD),
    )
    kept = [entry for entry in proto.metadata_props if entry.key not in metadata]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in metadata.items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    return metadata


def _quantize_int8(
    proto: onnx.ModelProto, data: Path, max_accuracy_loss: float, record: dict
) -> onnx.ModelProto:
    """Return the int8 model, after checking its accuracy and batch independence on `data`."""
    try:
        reviews = accuracy.load_labelled(data)
    except DataError as error:
        raise ExportError(str(error)) from error
    float_accuracy = accuracy.measure_accuracy(proto, reviews)

    pinned = onnx.ModelProto()
    pinned.CopyFrom(proto)
    try:
        quantization.pin_activation_ranges(pinned, TOKEN_IDS)
    except quantization.QuantizationError as error:
        raise ExportError(f"int8 quantisation failed: {error}") from error
    _sort_topologically(pinned.graph)
    _remove_unused_nodes(pinned.graph)
    onnx.checker.check_model(pinned, full_check=True)
    quantized = quantization.quantize_int8(pinned)
    int8_accuracy = accuracy.measure_accuracy(quantized, reviews)
    loss = float_accuracy - int8_accuracy
    logger.info(
        "accuracy on %d reviews of %s: float32 %.4f, int8 %.4f",
        len(reviews),
        data,
        float_accuracy,
        int8_accuracy,
    )
    if loss > max_accuracy_loss:
        raise ExportError(
            f"int8 quantisation lowers accuracy on {data} from {float_accuracy:.4f} to "
            f"{int8_accuracy:.4f}, more than {max_accuracy_loss:.3f}: the model was not "
            "written; export without --quantize"
        )
    spread = accuracy.check_batch_independence(quantized, reviews)
    if spread != 0.0:
        raise ExportError(
            f"int8 scores change by up to {spread:.2e} when reviews share a batch: the model "
            "was not written; export without --quantize"
        )
    record["optimizations"] += [
        "pinned_activation_ranges",
        "dynamic_int8_lstm",
        "int8_embedding",
    ]
    record["accuracy"] = {
        "data": data.name,
        "data_sha256": reviews.fingerprint(),
        "reviews": len(reviews),
        "float32": float_accuracy,
        "int8": int8_accuracy,
        "batch_independence_reviews": min(len(reviews), accuracy.INDEPENDENCE_REVIEWS),
    }
    return quantized


def write_atomically(proto: onnx.ModelProto, output: Path) -> None:
    """Write `proto` to a temporary file beside `output`, then rename it into place."""
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    try:
        os.chmod(temporary, 0o644)
        with os.fdopen(handle, "wb") as file:
            file.write(proto.SerializeToString())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
